//! The `graphql` subsystem: `[[graphql]]` entries -> schemas built from their Python
//! classes once Python runs, registered by name, their endpoints mounted on the server;
//! the builder methods ([`GraphqlSettings`]).

use std::path::Path;
use std::sync::Arc;

use puff_greenlet::instance::replace_instance;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffError, PuffResult, PythonRuntime, StartContext, Subsystem, Subsystems,
    parse_instances,
};
use puff_postgres::PostgresPool;

use crate::config::GraphqlConfig;
use crate::engine::{Engine, EngineHandle};

/// Owns the GraphQL schemas.
#[derive(Clone, Default)]
pub struct GraphqlSubsystem {
    pub schemas: Vec<GraphqlConfig>,
}

impl GraphqlSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["graphql"];

    /// Parse the value of the `graphql` key: `[[graphql]]` tables or one table.
    pub fn parse(value: &toml::Value) -> Result<Vec<GraphqlConfig>, ConfigError> {
        parse_instances("graphql", value)
    }
}

impl Subsystem for GraphqlSubsystem {
    fn name(&self) -> &'static str {
        "graphql"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        Self::KEYS
    }

    fn configure(&mut self, table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        if let Some(value) = table.get("graphql") {
            self.schemas = Self::parse(value)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let mut routes = axum::Router::new();
        let mut paths: Vec<(&str, &str)> = Vec::new();
        for config in &self.schemas {
            config
                .validate()
                .map_err(|m| PuffError::Config(format!("[[graphql]] `{}`: {m}", config.name)))?;
            for (key, path) in config.paths() {
                if let Some((other, _)) = paths.iter().find(|(_, p)| *p == path) {
                    return Err(PuffError::Config(format!(
                        "[[graphql]] `{}`: `{key}`: `{path}` is also an endpoint of `{other}`",
                        config.name
                    )));
                }
                paths.push((config.name.as_str(), path));
            }
            routes = routes.merge(crate::handlers::routes(config));
        }
        if !self.schemas.is_empty() {
            ctx.resources
                .insert("graphql", Arc::new(puff_http::MountedRoutes(routes)));
        }
        Ok(())
    }

    fn python_started(&self, ctx: &StartContext<'_>, python: &PythonRuntime) -> PuffResult<()> {
        for config in &self.schemas {
            let pool = ctx.resources.get::<PostgresPool>(&config.database);
            if pool.is_none() && config.database != "default" {
                // Named explicitly: a typo must not wait until the first SQL field.
                let known = ctx.resources.names::<PostgresPool>();
                return Err(PuffError::Config(format!(
                    "[[graphql]] `{}`: `database`: no [[postgres]] pool named `{}` (configured: {})",
                    config.name,
                    config.database,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            let name = config.name.clone();
            let engine = ctx
                .tokio
                .block_on(Engine::start(config.clone(), python.clone(), pool))?;
            tracing::debug!(
                "GraphQL schema `{name}` from {} ({} types){}",
                config.schema,
                engine.desc.objects.len() + engine.desc.inputs.len(),
                if config.url.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", config.url)
                }
            );
            ctx.resources.insert(name, Arc::new(EngineHandle(engine)));
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::python::add_module(py, native)
    }
}

/// `RuntimeConfig` builder methods for the GraphQL schemas (in `puff_core::prelude`); no
/// effect in a build without the graphql subsystem.
pub trait GraphqlSettings: Subsystems + Sized {
    /// Build the `default` GraphQL schema from the Python class at `path`
    /// (`module.Schema`). No endpoint is mounted: route `puff_graphql::handle_graphql()` and
    /// friends yourself, or use [`GraphqlSettings::add_graphql`] with a `url`.
    fn set_gql_schema_class(self, path: impl Into<String>) -> Self {
        let mut config = GraphqlConfig::new("default", path);
        config.url = String::new();
        self.add_graphql(config)
    }

    /// Add (or replace) a named GraphQL schema.
    fn add_graphql(self, config: GraphqlConfig) -> Self {
        self.with_subsystem(|graphql: &mut GraphqlSubsystem| {
            replace_instance(&mut graphql.schemas, config);
        })
    }

    /// The configured GraphQL schemas.
    fn graphql_configs(&self) -> &[GraphqlConfig] {
        self.subsystem::<GraphqlSubsystem>()
            .map_or(&[], |graphql| &graphql.schemas)
    }
}

impl<T: Subsystems> GraphqlSettings for T {}
