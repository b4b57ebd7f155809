//! HTTP server settings: the top-level `puff.toml` keys owned by the http subsystem.

use std::time::Duration;

use puff_greenlet::ConfigError;
use serde::Deserialize;

/// Default request body limit: 10 MiB.
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Default listen backlog, as granian's; gunicorn and uvicorn use 2048.
pub const DEFAULT_BACKLOG: u32 = 1024;
/// Default `header_read_timeout_ms`: 30 s, as granian and nginx's `client_header_timeout`
/// (60 s) are in the same range; a slow client on a bad link still gets its head through.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 30_000;
/// Default `keep_alive_timeout_ms`: 75 s, nginx's default. Longer than the 60 s idle timeout
/// of common load balancers and proxies (AWS ALB, nginx `keepalive_timeout` upstream), so
/// the proxy closes an idle connection first and never sends a request into one Puff is
/// closing (the race behind gunicorn's 2 s default giving 502s). An idle connection costs
/// a few KB, and `max_connections` bounds how many there are.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT_MS: u64 = 75_000;

/// Server settings (`bind`, limits, compression, CORS, access log, shutdown).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on, `host:port`.
    pub bind: String,
    /// Larger request bodies get `413 Payload Too Large`.
    pub max_request_body_bytes: usize,
    /// gzip/deflate response compression when the client accepts it.
    pub compression: bool,
    /// One log line per request: `"text"`, `"json"` or `"off"` (`true`/`false`: text/off).
    pub access_log: crate::access_log::AccessLogFormat,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_timeout_ms: u64,
    /// The whole request head (line and headers; for TLS, the handshake too) must arrive
    /// within this time, counted from the connection's start or the head's first byte;
    /// `0`: no limit.
    pub header_read_timeout_ms: u64,
    /// An idle connection (no request in flight) is closed after this time; HTTP/2 gets a
    /// GOAWAY. `0`: no limit.
    pub keep_alive_timeout_ms: u64,
    /// A request body that sends nothing for this long is answered with 408; `0` (the
    /// default): no limit.
    pub body_read_timeout_ms: u64,
    /// Stop accepting while this many connections are open (they wait in the listen
    /// queue); unset: no limit but the open files limit.
    pub max_connections: Option<usize>,
    /// Connections the kernel queues for `accept` (capped by `net.core.somaxconn`).
    pub backlog: u32,
    /// Stop accepting while this many requests are in flight in this process (with
    /// `--workers N`: per worker, so new connections go to a less busy worker); unset: no
    /// limit.
    pub max_concurrent_requests: Option<usize>,
    /// Cross-origin resource sharing; off unless configured.
    pub cors: Option<CorsConfig>,
    /// `[[http_client]]`: named `puff.http` clients (a `default` one always exists).
    pub http_client: Vec<crate::client::HttpClientConfig>,
    /// PEM certificate chain: with `tls_key`, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// `[static]`: URL prefix -> folder, served from Rust (relative folders are relative
    /// to puff.toml's folder).
    #[serde(rename = "static")]
    pub static_dirs: std::collections::BTreeMap<String, std::path::PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "127.0.0.1:7777".into(),
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            compression: false,
            access_log: crate::access_log::AccessLogFormat::Text,
            shutdown_timeout_ms: 30_000,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            keep_alive_timeout_ms: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
            body_read_timeout_ms: 0,
            max_connections: None,
            backlog: DEFAULT_BACKLOG,
            max_concurrent_requests: None,
            cors: None,
            http_client: Vec::new(),
            tls_cert: None,
            tls_key: None,
            static_dirs: Default::default(),
        }
    }
}

impl HttpConfig {
    /// Top-level `puff.toml` keys this config reads.
    pub const KEYS: &'static [&'static str] = &[
        "bind",
        "max_request_body_bytes",
        "compression",
        "access_log",
        "shutdown_timeout_ms",
        "header_read_timeout_ms",
        "keep_alive_timeout_ms",
        "body_read_timeout_ms",
        "max_connections",
        "backlog",
        "max_concurrent_requests",
        "cors",
        "http_client",
        "tls_cert",
        "tls_key",
        "static",
    ];

    /// The `[static]` mappings as (URL prefix, folder) pairs.
    pub fn static_mappings(&self) -> Vec<(String, std::path::PathBuf)> {
        self.static_dirs
            .iter()
            .map(|(url, dir)| (url.clone(), dir.clone()))
            .collect()
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// The per-connection timeouts (`0` in the config: off).
    pub(crate) fn conn_limits(&self) -> crate::conn::ConnLimits {
        let ms = |v: u64| (v > 0).then(|| Duration::from_millis(v));
        crate::conn::ConnLimits {
            header_read: ms(self.header_read_timeout_ms),
            keep_alive: ms(self.keep_alive_timeout_ms),
            body_read: ms(self.body_read_timeout_ms),
        }
    }

    /// Relative `[static]` folders and TLS files are relative to `base` (puff.toml's folder).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        for dir in self.static_dirs.values_mut() {
            *dir = base.join(&*dir);
        }
        for path in [&mut self.tls_cert, &mut self.tls_key]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
    }

    /// Check values serde cannot (addresses, header names); errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::new(
                "bind",
                format!(
                    "`{}` is not a `host:port` socket address (e.g. \"127.0.0.1:7777\")",
                    self.bind
                ),
            ));
        }
        if let Some(cors) = &self.cors {
            cors.validate()?;
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "tls_key",
                    "`tls_cert` is set, so `tls_key` must be too",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls_cert",
                    "`tls_key` is set, so `tls_cert` must be too",
                ));
            }
            _ => {}
        }
        if self.max_connections == Some(0) {
            return Err(ConfigError::new(
                "max_connections",
                "0 would never accept a connection; leave it unset for no limit",
            ));
        }
        if self.max_concurrent_requests == Some(0) {
            return Err(ConfigError::new(
                "max_concurrent_requests",
                "0 would never accept a connection; leave it unset for no limit",
            ));
        }
        crate::static_files::validate(&self.static_mappings())
            .map_err(|e| ConfigError::new("static", e.to_string()))?;
        let mut names = std::collections::HashSet::new();
        for client in &self.http_client {
            if !names.insert(client.name.as_str()) {
                return Err(ConfigError::new(
                    "http_client",
                    format!("the name `{}` is used twice", client.name),
                ));
            }
        }
        Ok(())
    }
}

/// `[cors]` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins, or `["*"]` for any.
    pub allow_origins: Vec<String>,
    /// Allowed methods; empty means GET, HEAD, POST.
    pub allow_methods: Vec<String>,
    /// Allowed request headers, or `["*"]`.
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age_secs: Option<u64>,
}

impl CorsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.allow_origins {
            if origin != "*" && http::HeaderValue::from_str(origin).is_err() {
                return Err(ConfigError::new(
                    "cors.allow_origins",
                    format!("invalid origin `{origin}`"),
                ));
            }
        }
        for method in &self.allow_methods {
            if method.parse::<http::Method>().is_err() {
                return Err(ConfigError::new(
                    "cors.allow_methods",
                    format!("invalid method `{method}`"),
                ));
            }
        }
        for header in self.allow_headers.iter().chain(&self.expose_headers) {
            if header != "*" && header.parse::<http::HeaderName>().is_err() {
                return Err(ConfigError::new(
                    "cors",
                    format!("invalid header name `{header}`"),
                ));
            }
        }
        if self.allow_credentials && self.allow_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::new(
                "cors",
                "allow_credentials = true cannot be combined with allow_origins = [\"*\"]",
            ));
        }
        Ok(())
    }

    /// The tower-http layer for these settings (validated first).
    pub fn layer(&self) -> tower_http::cors::CorsLayer {
        use tower_http::cors::{AllowHeaders, AllowOrigin, Any, CorsLayer};
        let mut layer = CorsLayer::new();
        layer = if self.allow_origins.iter().any(|o| o == "*") {
            layer.allow_origin(Any)
        } else {
            layer.allow_origin(AllowOrigin::list(
                self.allow_origins
                    .iter()
                    .filter_map(|o| http::HeaderValue::from_str(o).ok()),
            ))
        };
        let methods: Vec<http::Method> = if self.allow_methods.is_empty() {
            vec![http::Method::GET, http::Method::HEAD, http::Method::POST]
        } else {
            self.allow_methods
                .iter()
                .filter_map(|m| m.parse().ok())
                .collect()
        };
        layer = layer.allow_methods(methods);
        layer = if self.allow_headers.iter().any(|h| h == "*") {
            layer.allow_headers(AllowHeaders::any())
        } else {
            layer.allow_headers(
                self.allow_headers
                    .iter()
                    .filter_map(|h| h.parse::<http::HeaderName>().ok())
                    .collect::<Vec<_>>(),
            )
        };
        layer = layer.expose_headers(
            self.expose_headers
                .iter()
                .filter_map(|h| h.parse::<http::HeaderName>().ok())
                .collect::<Vec<_>>(),
        );
        if self.allow_credentials {
            layer = layer.allow_credentials(true);
        }
        if let Some(secs) = self.max_age_secs {
            layer = layer.max_age(std::time::Duration::from_secs(secs));
        }
        layer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let cfg = HttpConfig::default();
        assert_eq!(cfg.max_request_body_bytes, 10 * 1024 * 1024);
        assert!(cfg.validate().is_ok());
        let bad = HttpConfig {
            bind: "nowhere".into(),
            ..HttpConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().key.as_deref(), Some("bind"));
        let cors = HttpConfig {
            cors: Some(CorsConfig {
                allow_origins: vec!["*".into()],
                allow_credentials: true,
                ..Default::default()
            }),
            ..HttpConfig::default()
        };
        let e = cors.validate().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("cors"));
        assert!(e.message.contains("allow_credentials"), "{e}");
    }

    #[test]
    fn static_folders_are_checked() {
        let mut cfg = HttpConfig::default();
        cfg.static_dirs
            .insert("/assets/".into(), "/nonexistent/puff-assets".into());
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("static"));
        assert!(e.message.contains("is not a folder"), "{e}");
        cfg.static_dirs.clear();
        cfg.static_dirs
            .insert("assets/".into(), std::env::temp_dir());
        let e = cfg.validate().unwrap_err();
        assert!(e.message.contains("below the root"), "{e}");
    }

    #[test]
    fn access_log_takes_a_format_or_a_bool() {
        use crate::access_log::AccessLogFormat;
        let parse = |value: &str| {
            let table: toml::Table = toml::from_str(&format!("access_log = {value}")).unwrap();
            HttpConfig::deserialize(toml::Value::Table(table)).map(|c| c.access_log)
        };
        assert_eq!(parse("\"text\"").unwrap(), AccessLogFormat::Text);
        assert_eq!(parse("\"json\"").unwrap(), AccessLogFormat::Json);
        assert_eq!(parse("\"off\"").unwrap(), AccessLogFormat::Off);
        assert_eq!(parse("true").unwrap(), AccessLogFormat::Text);
        assert_eq!(parse("false").unwrap(), AccessLogFormat::Off);
        for bad in ["\"xml\"", "3"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("\"json\""), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let table: toml::Table = toml::from_str("bind = \"127.0.0.1:1\"\nbindd = 3").unwrap();
        let err = HttpConfig::deserialize(toml::Value::Table(table)).unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
    }
}
