//! # puff-django
//!
//! Puff's Django glue, behind the `django` feature. With `django = true` in puff.toml,
//! once Python runs it calls `puff.contrib.django.runtime.setup()`, which installs Puff's
//! psycopg2 shim (`puff.psycopg2`) so the stock `django.db.backends.postgresql` engine
//! runs on the `[[postgres]]` pool named like each database alias, makes Django's
//! connections local to each request greenlet, and sets Django up. This crate then serves
//! `STATIC_URL` from `STATIC_ROOT` in Rust (after `collectstatic`), so the admin needs no
//! whitenoise or nginx.
//!
//! It does not own the WSGI server (`puff-http`), the pools (`puff-postgres`), the Redis
//! cache backend (`puff.contrib.django.cache`, pure Python on `puff-redis`) or the
//! `puff-cli django <command>` command (`puff-core`'s `DjangoManagementCommand`).
//!
//! The manual below is `docs/django.md` in the repository.
#![doc = include_str!("../../docs/django.md")]

use std::path::PathBuf;
use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffError, PuffResult, PythonRuntime, StartContext, Subsystem, Subsystems,
};

/// The Python function that sets Django up on Puff.
const SETUP: &str = "puff.contrib.django.runtime";

/// `django = true`: run the Django project of `DJANGO_SETTINGS_MODULE` on Puff.
#[derive(Clone, Debug, Default)]
pub struct DjangoSubsystem {
    pub enabled: bool,
}

impl DjangoSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["django"];

    /// The value of `django = ...`.
    pub fn parse(value: &toml::Value) -> Result<bool, ConfigError> {
        value.as_bool().ok_or_else(|| {
            ConfigError::new(
                "django",
                format!("expected true or false, got {}", value.type_str()),
            )
        })
    }
}

impl Subsystem for DjangoSubsystem {
    fn name(&self) -> &'static str {
        "django"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        Self::KEYS
    }

    fn configure(
        &mut self,
        table: &toml::Table,
        _base: &std::path::Path,
    ) -> Result<(), ConfigError> {
        if let Some(value) = table.get("django") {
            self.enabled = Self::parse(value)?;
        }
        Ok(())
    }

    fn python_started(&self, ctx: &StartContext<'_>, python: &PythonRuntime) -> PuffResult<()> {
        if !self.enabled {
            return Ok(());
        }
        let statics: Option<(String, PathBuf)> = ctx.tokio.block_on(python.run(|py| {
            let setup = py.import(SETUP)?.getattr("setup")?;
            setup.call0()?.extract::<Option<(String, PathBuf)>>()
        }))?;
        if let Some((url, root)) = statics {
            if !root.is_dir() {
                // Debug only: every `django` command (collectstatic too) would print it.
                tracing::debug!(
                    "Django's STATIC_ROOT {} does not exist yet: run `puff-cli django \
                     collectstatic` to fill it; until then {url} answers 404",
                    root.display()
                );
            }
            let routes = puff_http::static_files::static_routes(&[(url.clone(), root.clone())])
                .map_err(|m| PuffError::Config(format!("Django's STATIC_URL: {m}")))?;
            tracing::debug!("Django static files: {url} from {}", root.display());
            ctx.resources
                .insert("django-static", Arc::new(puff_http::MountedRoutes(routes)));
        }
        Ok(())
    }
}
/// `RuntimeConfig` builder method for Django (in `puff_core::prelude`); no effect in a
/// build without the django subsystem.
pub trait DjangoSettings: Subsystems + Sized {
    /// `django = true`: at start-up, run the Django project of `DJANGO_SETTINGS_MODULE`
    /// on Puff's pools (psycopg2 shim, greenlet-local connections) and serve its
    /// `STATIC_ROOT` at `STATIC_URL`.
    fn set_django(self, on: bool) -> Self {
        self.with_subsystem(|django: &mut DjangoSubsystem| {
            django.enabled = on;
        })
    }
}

impl<T: Subsystems> DjangoSettings for T {}
