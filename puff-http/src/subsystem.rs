//! The `http` subsystem: server settings from `puff.toml`, shared through the registry.

use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{PuffResult, StartContext, Subsystem, deserialize_section};

use crate::config::HttpConfig;

/// Owns the HTTP server settings; commands read them from the resource registry.
#[derive(Default)]
pub struct HttpSubsystem {
    pub config: HttpConfig,
}

impl Subsystem for HttpSubsystem {
    fn name(&self) -> &'static str {
        "http"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        HttpConfig::KEYS
    }

    fn configure(&mut self, table: &toml::Table) -> Result<(), String> {
        let config: HttpConfig = deserialize_section(table)?;
        config.validate().map_err(|e| e.to_string())?;
        self.config = config;
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        self.config
            .validate()
            .map_err(|e| puff_greenlet::PuffError::Config(e.to_string()))?;
        ctx.resources
            .insert("default", Arc::new(self.config.clone()));
        let clients = crate::client::HttpClients::build(&self.config.http_client)
            .map_err(|e| puff_greenlet::PuffError::Config(e.to_string()))?;
        ctx.resources.insert("default", Arc::new(clients));
        let statics = self.config.static_mappings();
        if !statics.is_empty() {
            let routes = crate::static_files::static_routes(&statics)
                .map_err(|m| puff_greenlet::PuffError::Config(format!("`static`: {m}")))?;
            ctx.resources
                .insert("static", Arc::new(crate::MountedRoutes(routes)));
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        let http = crate::client::python_module(py)?;
        native.add("http", &http)?;
        py.import("sys")?
            .getattr("modules")?
            .set_item("puff._native.http", http)?;
        Ok(())
    }
}
