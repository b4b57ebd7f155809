//! The `[tracing]` section of `puff.toml`.

use puff_greenlet::{ConfigError, deserialize_keys};
use serde::Deserialize;

/// `[tracing]`: where to export spans. With no `otlp_endpoint` nothing is recorded.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TracingConfig {
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); spans are POSTed to
    /// `<otlp_endpoint>/v1/traces`.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// How often queued spans are sent (a batch also goes as soon as 512 are queued).
    pub export_interval_ms: u64,
    /// Spans waiting for export, at most; more are dropped and counted.
    pub max_queued_spans: usize,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            otlp_endpoint: None,
            service_name: "puff".into(),
            export_interval_ms: 1000,
            max_queued_spans: 8192,
        }
    }
}

impl TracingConfig {
    /// The `puff.toml` key holding this section.
    pub const KEY: &'static str = "tracing";

    /// Read the `[tracing]` table (`value` of key `tracing`); errors name the key.
    pub fn from_toml(value: &toml::Value) -> Result<TracingConfig, ConfigError> {
        let table = value.as_table().ok_or_else(|| {
            ConfigError::new(
                Self::KEY,
                format!("expected a table ([tracing]), got {}", value.type_str()),
            )
        })?;
        let config: TracingConfig = deserialize_keys(table).map_err(|e| e.inside(Self::KEY))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(endpoint) = &self.otlp_endpoint {
            let shown = puff_greenlet::redact_url(endpoint);
            let url = reqwest::Url::parse(endpoint).map_err(|e| {
                ConfigError::new(
                    "tracing.otlp_endpoint",
                    format!("`{shown}` is not a URL: {e}"),
                )
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new(
                    "tracing.otlp_endpoint",
                    format!("`{shown}` must be an http:// or https:// URL"),
                ));
            }
        }
        if self.service_name.is_empty() {
            return Err(ConfigError::new(
                "tracing.service_name",
                "must not be empty",
            ));
        }
        if self.export_interval_ms == 0 {
            return Err(ConfigError::new(
                "tracing.export_interval_ms",
                "must be at least 1",
            ));
        }
        if self.max_queued_spans == 0 {
            return Err(ConfigError::new(
                "tracing.max_queued_spans",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The URL spans are POSTed to.
    pub fn traces_url(&self) -> Option<String> {
        self.otlp_endpoint
            .as_ref()
            .map(|e| format!("{}/v1/traces", e.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TracingConfig, ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        TracingConfig::from_toml(&table["tracing"])
    }

    #[test]
    fn keys_defaults_and_errors() {
        let config = parse("[tracing]\notlp_endpoint = \"http://c:4318/\"").unwrap();
        assert_eq!(config.service_name, "puff");
        assert_eq!(config.traces_url().unwrap(), "http://c:4318/v1/traces");
        assert_eq!(parse("[tracing]").unwrap().traces_url(), None);
        let unknown = parse("[tracing]\notlp_endpont = \"http://c\"").unwrap_err();
        assert_eq!(unknown.key.as_deref(), Some("tracing"));
        assert!(unknown.message.contains("otlp_endpont"), "{unknown}");
        let bad = parse("[tracing]\notlp_endpoint = \"ftp://u:secret@c\"").unwrap_err();
        assert_eq!(bad.key.as_deref(), Some("tracing.otlp_endpoint"));
        assert!(!bad.message.contains("secret"), "{bad}");
        assert!(parse("tracing = 3").is_err());
    }
}
