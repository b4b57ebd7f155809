//! The plug-in contract between the core and service crates (http, postgres, redis, ...).
//!
//! A subsystem owns a set of top-level `puff.toml` keys, starts its resources (connects,
//! spawns workers, registers them in [`Resources`]), contributes a Python submodule to
//! `puff._native`, and shuts down. `puff-core` holds a list of them, one line per Cargo
//! feature, and never needs to know what they do: each one parses its own `puff.toml`
//! section once ([`Subsystem::configure`], failing with a [`ConfigError`] that names the
//! key), keeps the result, and says which URL override flags it offers
//! ([`Subsystem::url_flags`]). Builder methods reach a subsystem's settings through
//! [`Subsystems`].

use std::any::Any;
use std::path::Path;

pub use crate::config::{ConfigError, deserialize_keys};
use crate::error::PuffResult;
use crate::resources::Resources;
use pyo3::prelude::*;

/// What a subsystem gets when the program starts.
pub struct StartContext<'a> {
    pub resources: &'a Resources,
    pub tokio: &'a tokio::runtime::Handle,
}

/// A global `--{name}-{kind}-url` flag a subsystem offers for one of its instances, and
/// the environment variable it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlFlag {
    /// The long flag, without `--`.
    pub flag: String,
    /// `PUFF_{NAME}_{KIND}_URL`.
    pub env_var: String,
    /// `--help` text.
    pub help: String,
}

impl UrlFlag {
    /// The flag of instance `name` of `kind` (`postgres`, `task_queue`, ...); `what` names
    /// the kind in the help text ("Postgres pool").
    pub fn for_instance(name: &str, kind: &str, what: &str) -> Self {
        let env_var = crate::instance::url_env_var(name, kind);
        UrlFlag {
            flag: crate::instance::url_flag(name, kind),
            help: format!("URL of the `{name}` {what} (else ${env_var}, else puff.toml)"),
            env_var,
        }
    }
}

/// Object-safe helpers every [`Subsystem`] gets from `Clone` (implemented for all
/// `Subsystem + Clone` types; nothing to write by hand).
pub trait SubsystemObject {
    /// A boxed copy, so a configuration holding subsystems can be cloned.
    fn clone_box(&self) -> Box<dyn Subsystem>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Subsystem + Clone> SubsystemObject for T {
    fn clone_box(&self) -> Box<dyn Subsystem> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn Subsystem> {
    fn clone(&self) -> Self {
        (**self).clone_box()
    }
}

/// A configuration holding subsystems (`puff-core`'s `RuntimeConfig`). Each service crate
/// adds its builder methods (`set_postgres`, `set_bind`, ...) as an extension trait over
/// this one, so they change that subsystem's own settings.
pub trait Subsystems {
    /// The subsystems, in start-up order.
    fn subsystem_list(&self) -> &[Box<dyn Subsystem>];
    fn subsystem_list_mut(&mut self) -> &mut [Box<dyn Subsystem>];

    /// The subsystem of type `T`, if it is compiled in.
    fn subsystem<T: Subsystem>(&self) -> Option<&T> {
        self.subsystem_list()
            .iter()
            .find_map(|s| s.as_any().downcast_ref::<T>())
    }

    /// The subsystem of type `T`, if it is compiled in, to change its settings.
    fn subsystem_mut<T: Subsystem>(&mut self) -> Option<&mut T> {
        self.subsystem_list_mut()
            .iter_mut()
            .find_map(|s| s.as_any_mut().downcast_mut::<T>())
    }

    /// Builder step: change the settings of subsystem `T` (nothing when it is not
    /// compiled in).
    fn with_subsystem<T: Subsystem>(mut self, change: impl FnOnce(&mut T)) -> Self
    where
        Self: Sized,
    {
        if let Some(subsystem) = self.subsystem_mut::<T>() {
            change(subsystem);
        }
        self
    }
}

/// One pluggable capability of the runtime.
pub trait Subsystem: SubsystemObject + Send + Sync + 'static {
    /// Short name, used for the Cargo feature, logs and the Python submodule.
    fn name(&self) -> &'static str;

    /// Top-level `puff.toml` keys this subsystem owns.
    fn config_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Read this subsystem's keys (only those in [`Subsystem::config_keys`] are passed;
    /// called once per file, also when none is present) and keep the result. Relative
    /// paths in them are relative to `base`, the folder of `puff.toml`. Errors name the
    /// offending key; the caller adds the file name.
    fn configure(&mut self, _table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        Ok(())
    }

    /// The global URL override flags of the configured instances (`--{name}-postgres-url`).
    fn url_flags(&self) -> Vec<UrlFlag> {
        Vec::new()
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
