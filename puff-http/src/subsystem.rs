//! The `http` subsystem: server settings from `puff.toml`, shared through the registry,
//! and the builder methods that set them in code ([`HttpSettings`]).

use std::path::Path;
use std::sync::{Arc, LazyLock};

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffResult, StartContext, Subsystem, Subsystems, deserialize_keys,
};

use crate::config::{CorsConfig, HttpConfig};

/// Owns the HTTP server settings; commands read them from the resource registry.
#[derive(Clone, Default)]
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

    fn configure(&mut self, table: &toml::Table, base: &Path) -> Result<(), ConfigError> {
        let mut config: HttpConfig = deserialize_keys(table)?;
        // `[static]` folders and certificates are relative to puff.toml, like python_path.
        config.resolve_paths(base);
        config.validate()?;
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

/// `RuntimeConfig` builder methods for the HTTP server settings (in `puff_core::prelude`).
pub trait HttpSettings: Subsystems + Sized {
    /// Change the settings in place (no effect in a build without the http subsystem).
    fn with_http_config(self, change: impl FnOnce(&mut HttpConfig)) -> Self {
        self.with_subsystem(|http: &mut HttpSubsystem| change(&mut http.config))
    }

    /// Address `runserver` listens on (default `127.0.0.1:7777`).
    fn set_bind(self, bind: impl Into<String>) -> Self {
        self.with_http_config(|c| c.bind = bind.into())
    }

    /// Larger request bodies get 413 (default 10 MiB).
    fn set_max_request_body_bytes(self, bytes: usize) -> Self {
        self.with_http_config(|c| c.max_request_body_bytes = bytes)
    }

    /// gzip/deflate responses for clients that accept them.
    fn set_compression(self, on: bool) -> Self {
        self.with_http_config(|c| c.compression = on)
    }

    /// The access log's format; `true`/`false` are `Text`/`Off` (default `Text`).
    fn set_access_log(self, format: impl Into<crate::access_log::AccessLogFormat>) -> Self {
        let format = format.into();
        self.with_http_config(|c| c.access_log = format)
    }

    fn set_cors(self, cors: CorsConfig) -> Self {
        self.with_http_config(|c| c.cors = Some(cors))
    }

    /// How long in-flight requests may take to finish on shutdown.
    fn set_shutdown_timeout_ms(self, ms: u64) -> Self {
        self.with_http_config(|c| c.shutdown_timeout_ms = ms)
    }

    /// How long a request head may take to arrive (`0`: no limit; default 30 s).
    fn set_header_read_timeout_ms(self, ms: u64) -> Self {
        self.with_http_config(|c| c.header_read_timeout_ms = ms)
    }

    /// How long a connection may stay idle between requests (`0`: no limit; default 75 s).
    fn set_keep_alive_timeout_ms(self, ms: u64) -> Self {
        self.with_http_config(|c| c.keep_alive_timeout_ms = ms)
    }

    /// How long a request body may send nothing before 408 (`0`, the default: no limit).
    fn set_body_read_timeout_ms(self, ms: u64) -> Self {
        self.with_http_config(|c| c.body_read_timeout_ms = ms)
    }

    /// Stop accepting while this many connections are open (default: no limit).
    fn set_max_connections(self, connections: usize) -> Self {
        self.with_http_config(|c| c.max_connections = Some(connections))
    }

    /// The HTTP server settings (the defaults in a build without the http subsystem).
    fn http_config(&self) -> &HttpConfig {
        static DEFAULT: LazyLock<HttpConfig> = LazyLock::new(HttpConfig::default);
        self.subsystem::<HttpSubsystem>()
            .map_or(&*DEFAULT, |http| &http.config)
    }
}

impl<T: Subsystems> HttpSettings for T {}
