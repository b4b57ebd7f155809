//! Starting one worker process and watching it: the program re-run with the same
//! arguments, the shared socket at descriptor 3, a pipe back to the supervisor at 4, the
//! load board at 5 and the metrics arena at 6, and stopped by the kernel if the
//! supervisor dies.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitStatus;

use puff_greenlet::supervision::{self, WorkerMessage};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc::UnboundedSender;

/// What the supervisor hears about its workers.
#[derive(Debug)]
pub(crate) enum WorkerEvent {
    Message { pid: u32, message: WorkerMessage },
    Exited { pid: u32, status: ExitStatus },
}

/// How every worker is started.
pub(crate) struct Launcher {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub listener: Option<OwnedFd>,
    /// The load board's memfd, for workers that share the listener.
    pub board: Option<OwnedFd>,
    /// The metrics arena's memfd, when metrics are on.
    pub metrics: Option<OwnedFd>,
    pub events: UnboundedSender<WorkerEvent>,
}

impl Launcher {
    /// Starts worker `id`; its messages and its exit arrive as [`WorkerEvent`]s.
    pub(crate) fn spawn(
        &self,
        id: u32,
        slot: usize,
        worker_count: usize,
        max_requests: Option<u64>,
    ) -> std::io::Result<u32> {
        let (read_end, write_end) = pipe()?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env(supervision::ENV_WORKER_ID, id.to_string())
            .env(supervision::ENV_WORKER_COUNT, worker_count.to_string())
            .env(
                supervision::ENV_SUPERVISOR_FD,
                supervision::SUPERVISOR_FD.to_string(),
            )
            .env(supervision::ENV_WORKER_SLOT, slot.to_string())
            .env_remove(supervision::ENV_LISTEN_FD)
            .env_remove(supervision::ENV_LOAD_FD)
            .env_remove(supervision::ENV_METRICS_FD)
            .env_remove(supervision::ENV_MAX_REQUESTS)
            .kill_on_drop(false);
        if self.listener.is_some() {
            command.env(
                supervision::ENV_LISTEN_FD,
                supervision::LISTEN_FD.to_string(),
            );
        }
        if let Some(n) = max_requests {
            command.env(supervision::ENV_MAX_REQUESTS, n.to_string());
        }
        if self.board.is_some() {
            command.env(supervision::ENV_LOAD_FD, supervision::LOAD_FD.to_string());
        }
        if self.metrics.is_some() {
            command.env(
                supervision::ENV_METRICS_FD,
                supervision::METRICS_FD.to_string(),
            );
        }
        let listen_fd = self.listener.as_ref().map(AsRawFd::as_raw_fd);
        let board_fd = self.board.as_ref().map(AsRawFd::as_raw_fd);
        let metrics_fd = self.metrics.as_ref().map(AsRawFd::as_raw_fd);
        let pipe_fd = write_end.as_raw_fd();
        let supervisor = libc::pid_t::try_from(std::process::id()).unwrap_or(1);
        // SAFETY: between fork and exec the closure only makes async-signal-safe calls
        // (dup2, prctl, getppid, _exit) on descriptors this process owns.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                place_descriptors(
                    [
                        (listen_fd, supervision::LISTEN_FD),
                        (Some(pipe_fd), supervision::SUPERVISOR_FD),
                        (board_fd, supervision::LOAD_FD),
                        (metrics_fd, supervision::METRICS_FD),
                    ],
                    supervisor,
                )
            })
        };
        let mut child = command.spawn()?;
        drop(write_end);
        let pid = child.id().unwrap_or_default();
        let events = self.events.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status,
                Err(e) => {
                    tracing::error!(target: "puff::supervisor", "waiting for pid {pid}: {e}");
                    return;
                }
            };
            let _ = events.send(WorkerEvent::Exited { pid, status });
        });
        let events = self.events.clone();
        tokio::spawn(async move {
            let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(read_end) else {
                return;
            };
            let mut lines = tokio::io::BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match WorkerMessage::parse(&line) {
                    Some(message) => {
                        let _ = events.send(WorkerEvent::Message { pid, message });
                    }
                    None => tracing::debug!(
                        target: "puff::supervisor",
                        "pid {pid} sent an unknown message: {line:?}"
                    ),
                }
            }
        });
        Ok(pid)
    }
}

/// In the child: each (descriptor, number) pair's descriptor at its number (`dup2` clears
/// close-on-exec on the copies), and SIGTERM when the supervisor dies so that no worker
/// outlives it.
#[allow(unsafe_code)]
fn place_descriptors(
    descriptors: [(Option<RawFd>, RawFd); 4],
    supervisor: libc::pid_t,
) -> std::io::Result<()> {
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: plain system calls on valid descriptors and constants.
    unsafe {
        // First above the target numbers, so that no source is overwritten by an earlier
        // dup2 and none is already at its number (dup2 would then keep close-on-exec).
        let mut moved = [(-1, 0); 4];
        for (i, (fd, number)) in descriptors.into_iter().enumerate() {
            if let Some(fd) = fd {
                let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 16);
                check(high)?;
                moved[i] = (high, number);
            }
        }
        for (fd, number) in moved {
            if fd >= 0 {
                check(libc::dup2(fd, number))?;
            }
        }
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM))?;
        // The supervisor died before prctl took effect: the signal would never come.
        if libc::getppid() != supervisor {
            libc::_exit(1);
        }
    }
    Ok(())
}

/// A close-on-exec pipe: (read end, write end).
#[allow(unsafe_code)]
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A worker's resident memory in MiB, from /proc (`None` once it has exited).
pub(crate) fn resident_mib(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    #[allow(unsafe_code)]
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).unwrap_or(4096) / (1024 * 1024))
}

/// Sends `signal` to `pid`, ignoring a process that is already gone.
pub(crate) fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill has no memory preconditions; the pid is one of our children, which
    // stays reserved (a zombie) until we have waited for it.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_of_this_process_is_read() {
        let mib = resident_mib(std::process::id()).expect("/proc/self/statm");
        assert!(mib >= 1, "{mib}");
        assert_eq!(resident_mib(u32::MAX), None);
    }
}
