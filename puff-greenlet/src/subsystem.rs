//! The plug-in contract between the core and service crates (http, postgres, redis, ...).
//!
//! A subsystem owns a set of top-level `puff.toml` keys, starts its resources (connects,
//! spawns workers, registers them in [`Resources`]), contributes a Python submodule to
//! `puff._native`, and shuts down. `puff-core` holds a list of them, one line per Cargo
//! feature, and never needs to know what they do.

use pyo3::prelude::*;
use serde::de::DeserializeOwned;

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

    /// Start work that runs Python code (background workers); called once the Python
    /// runtime is up, before the command runs.
    fn python_started(
        &self,
        _ctx: &StartContext<'_>,
        _python: &crate::runtime::PythonRuntime,
    ) -> PuffResult<()> {
        Ok(())
    }

    /// Add this subsystem's Python API to the native module (e.g. as a submodule).
    fn python_module(&self, _py: Python<'_>, _native: &Bound<'_, PyModule>) -> PyResult<()> {
        Ok(())
    }

    /// Release resources; called once when the program ends.
    fn shutdown(&self, _resources: &Resources) {}
}

/// Deserialize a subsystem's keys into `T`, naming the offending key on error.
///
/// serde errors from an in-memory TOML value lose the key (`invalid type: integer`), so on
/// failure each key is tried alone to find which one is wrong.
pub fn deserialize_section<T: DeserializeOwned>(table: &toml::Table) -> Result<T, String> {
    match T::deserialize(toml::Value::Table(table.clone())) {
        Ok(v) => Ok(v),
        Err(whole) => {
            {
                for (key, value) in table {
                    let mut single = toml::Table::new();
                    single.insert(key.clone(), value.clone());
                    if let Err(e) = T::deserialize(toml::Value::Table(single)) {
                        let msg = e.to_string();
                        if !msg.contains("missing field") {
                            return Err(format!("`{key}`: {}", msg.trim()));
                        }
                    }
                }
            }
            Err(whole.to_string().trim().to_owned())
        }
    }
}
