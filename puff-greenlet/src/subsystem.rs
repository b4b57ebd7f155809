//! The plug-in contract between the core and service crates (http, postgres, redis, ...).
//!
//! A subsystem owns a set of top-level `puff.toml` keys, starts its resources (connects,
//! spawns workers, registers them in [`Resources`]), contributes a Python submodule to
//! `puff._native`, and shuts down. `puff-core` holds a list of them, one line per Cargo
//! feature, and never needs to know what they do.

use pyo3::prelude::*;

use crate::error::PuffResult;
use crate::resources::Resources;

/// What a subsystem gets when the program starts.
pub struct StartContext<'a> {
    pub resources: &'a Resources,
    pub tokio: &'a tokio::runtime::Handle,
}

/// One pluggable capability of the runtime.
pub trait Subsystem: Send + Sync + 'static {
    /// Short name, used for the Cargo feature, logs and the Python submodule.
    fn name(&self) -> &'static str;

    /// Top-level `puff.toml` keys this subsystem owns.
    fn config_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Read this subsystem's keys (only those in [`Subsystem::config_keys`] are passed).
    /// Errors should name the offending key; the caller adds the file name.
    fn configure(&mut self, _table: &toml::Table) -> Result<(), String> {
        Ok(())
    }

    /// Create resources before any Python code runs.
    fn start(&self, _ctx: &StartContext<'_>) -> PuffResult<()> {
        Ok(())
    }

    /// Add this subsystem's Python API to the native module (e.g. as a submodule).
    fn python_module(&self, _py: Python<'_>, _native: &Bound<'_, PyModule>) -> PyResult<()> {
        Ok(())
    }

    /// Release resources; called once when the program ends.
    fn shutdown(&self, _resources: &Resources) {}
}
