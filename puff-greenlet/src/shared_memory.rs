//! Shared memory between the supervisor and its workers: a memfd of a given size, and
//! mappings of it that live as long as the process (the load board, the metrics arena).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A new memfd of `bytes` zero bytes (close-on-exec; the supervisor places a copy in each
/// worker).
pub(crate) fn create(name: &std::ffi::CStr, bytes: usize) -> std::io::Result<OwnedFd> {
    // SAFETY: a valid NUL-terminated name and flags.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new descriptor that nothing else owns.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a valid descriptor and length.
    #[allow(unsafe_code)]
    if unsafe { libc::ftruncate(fd.as_raw_fd(), bytes as libc::off_t) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Maps `bytes` of the memfd `fd`, shared and never unmapped: a `T` made only of atomics
/// (valid for every bit pattern) placed there lives for the rest of the process.
///
/// # Safety
/// `T` must be valid for any bit pattern and at most `bytes` long.
#[allow(unsafe_code)]
pub(crate) unsafe fn map<T>(fd: BorrowedFd<'_>, bytes: usize) -> std::io::Result<&'static T> {
    // SAFETY: mapping a shared region of the memfd's size; never unmapped, so the
    // 'static reference stays valid (the caller vouches for T).
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        );
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(&*(ptr as *const T))
    }
}
