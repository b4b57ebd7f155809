//! The `tracing` subsystem: owns the `[tracing]` key, and with an `otlp_endpoint` installs
//! the span queue and starts the exporter before any request or Python code runs.

use std::path::Path;

use puff_greenlet::{ConfigError, PuffError, PuffResult, Resources, StartContext, Subsystem};

use super::config::TracingConfig;
use super::exporter::Exporter;

/// Exports spans over OTLP/HTTP when `[tracing] otlp_endpoint` is set.
#[derive(Clone, Default)]
pub struct TracingSubsystem {
    pub config: TracingConfig,
}

impl Subsystem for TracingSubsystem {
    fn name(&self) -> &'static str {
        "tracing"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        &[TracingConfig::KEY]
    }

    fn configure(&mut self, table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        self.config = match table.get(TracingConfig::KEY) {
            Some(value) => TracingConfig::from_toml(value)?,
            None => TracingConfig::default(),
        };
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        self.config
            .validate()
            .map_err(|e| PuffError::Config(e.to_string()))?;
        let exporter = Exporter::new(&self.config)
            .map_err(|e| PuffError::Config(format!("`tracing`: {}", e.without_url())))?;
        let Some(exporter) = exporter else {
            return Ok(());
        };
        // A second start in one process (tests embedding several programs) keeps the first.
        if let Some(receiver) = puff_greenlet::trace::sink::install(self.config.max_queued_spans) {
            ctx.tokio.spawn(exporter.run(receiver));
        }
        Ok(())
    }

    fn shutdown(&self, _resources: &Resources) {
        super::exporter::flush();
    }
}
