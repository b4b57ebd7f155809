//! Embedded CPython start-up, and two helpers on the running interpreter: importing an
//! object by its dotted path and flushing stdio.
//!
//! The interpreter is initialised once per process, on the Python thread, with a PEP 587
//! `PyConfig`: Python's own signal handlers are off (Tokio owns SIGINT/SIGTERM) and, when a
//! virtualenv is active, `executable` points into it so `sys.prefix` and site-packages are
//! the venv's.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};

use pyo3::ffi;
use pyo3::prelude::*;

use crate::error::{PuffError, PuffResult};

/// How to start the interpreter.
#[derive(Clone, Debug, Default)]
pub struct InterpreterConfig {
    /// Virtualenv to use; `None` means the `VIRTUAL_ENV` environment variable, if set.
    pub virtualenv: Option<PathBuf>,
    /// Folders put first on `sys.path`, in order.
    pub python_paths: Vec<PathBuf>,
    /// `sys.argv[0]` for the embedded program.
    pub program_name: String,
}

impl InterpreterConfig {
    /// The virtualenv in effect: explicit, else `$VIRTUAL_ENV`.
    pub fn effective_virtualenv(&self) -> Option<PathBuf> {
        self.virtualenv
            .clone()
            .or_else(|| std::env::var_os("VIRTUAL_ENV").map(PathBuf::from))
            .filter(|p| !p.as_os_str().is_empty())
    }
}

#[allow(unsafe_code)]
fn status_error(status: &ffi::PyStatus, what: &str) -> PuffError {
    let msg = if status.err_msg.is_null() {
        "unknown error".to_owned()
    } else {
        // SAFETY: CPython sets err_msg to a static NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .into_owned()
    };
    PuffError::RuntimeUnavailable(format!("{what}: {msg}"))
}

fn c_path(path: &Path) -> PuffResult<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| PuffError::Config(format!("path contains a NUL byte: {}", path.display())))
}

/// Initialise CPython on the calling thread, which becomes Python's main thread.
///
/// On success the calling thread does *not* hold the GIL (its state is saved, as pyo3's
/// own initialisation does), so `Python::attach` works from here on.
#[allow(unsafe_code)]
pub fn initialize(config: &InterpreterConfig) -> PuffResult<()> {
    // SAFETY: the FFI calls follow the PEP 587 protocol: init, set fields, initialise,
    // clear. `Py_IsInitialized` guards against double initialisation.
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            return Err(PuffError::RuntimeUnavailable(
                "CPython is already initialised in this process".into(),
            ));
        }
        let mut cfg = MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(cfg.as_mut_ptr());
        let cfg_ptr = cfg.as_mut_ptr();
        (*cfg_ptr).install_signal_handlers = 0;
        (*cfg_ptr).parse_argv = 0;

        if let Some(venv) = config.effective_virtualenv() {
            let exe = venv.join("bin").join("python");
            if !exe.exists() {
                ffi::PyConfig_Clear(cfg_ptr);
                return Err(PuffError::Config(format!(
                    "VIRTUAL_ENV={} has no bin/python; create it (e.g. `cargo xtask setup`) or unset VIRTUAL_ENV",
                    venv.display()
                )));
            }
            let exe_c = c_path(&exe)?;
            let status =
                ffi::PyConfig_SetBytesString(cfg_ptr, &mut (*cfg_ptr).executable, exe_c.as_ptr());
            if ffi::PyStatus_Exception(status) != 0 {
                ffi::PyConfig_Clear(cfg_ptr);
                return Err(status_error(&status, "setting the virtualenv executable"));
            }
        }
        let program = CString::new(config.program_name.replace('\0', ""))
            .unwrap_or_else(|_| CString::from(c"puff"));
        let mut argv = [program.as_ptr()];
        let status = ffi::PyConfig_SetBytesArgv(cfg_ptr, 1, argv.as_mut_ptr());
        if ffi::PyStatus_Exception(status) != 0 {
            ffi::PyConfig_Clear(cfg_ptr);
            return Err(status_error(&status, "setting sys.argv"));
        }

        let status = ffi::Py_InitializeFromConfig(cfg_ptr);
        ffi::PyConfig_Clear(cfg_ptr);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(status_error(&status, "initialising CPython"));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Flush Python's `sys.stdout` and `sys.stderr` (buffered when not a terminal).
pub fn flush_stdio(py: Python<'_>) {
    if let Ok(sys) = py.import("sys") {
        for name in ["stdout", "stderr"] {
            if let Ok(stream) = sys.getattr(name) {
                let _ = stream.call_method0("flush");
            }
        }
    }
}

/// Import `module.attr.attr` and return the object.
pub fn import_object<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyAny>> {
    let (module, attrs) = match path.split_once(':') {
        Some((m, a)) => (m.to_owned(), a.to_owned()),
        None => match path.rsplit_once('.') {
            Some((m, a)) => (m.to_owned(), a.to_owned()),
            None => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "`{path}` is not a `module.attribute` path"
                )));
            }
        },
    };
    let mut obj = py.import(module.as_str())?.into_any();
    for attr in attrs.split('.') {
        obj = obj.getattr(attr).map_err(|e| {
            pyo3::exceptions::PyAttributeError::new_err(format!(
                "`{path}`: module `{module}` has no attribute `{attr}` ({e})"
            ))
        })?;
    }
    Ok(obj)
}
