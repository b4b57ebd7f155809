//! [`GraphqlConfig`]: one `[[graphql]]` entry of `puff.toml`.

use puff_greenlet::ConfigError;
use puff_greenlet::instance::{self, NamedInstance};
use serde::Deserialize;

/// One named GraphQL schema and where it is served.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GraphqlConfig {
    /// Schema name; Python uses it in `puff.graphql.named_graphql(name)`.
    #[serde(default = "default_name")]
    pub name: String,
    /// The schema class, `module.Class` (required).
    #[serde(default)]
    pub schema: String,
    /// `false` drops the entry.
    #[serde(default = "default_true")]
    pub enable: bool,
    /// Path of the POST/GET endpoint; empty serves none (`global_graphql.query` still works).
    #[serde(default = "default_url")]
    pub url: String,
    /// Path of the websocket endpoint for subscriptions (graphql-transport-ws and
    /// graphql-ws); none by default.
    #[serde(default)]
    pub subscriptions_url: Option<String>,
    /// Path of the GraphQL Playground page; none by default (it is served only where configured).
    #[serde(default)]
    pub playground_url: Option<String>,
    /// The `[[postgres]]` pool resolvers' SQL runs on.
    #[serde(default = "default_name")]
    pub database: String,
    /// Deepest selection nesting a query may have (default 15).
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Most fields a query may select once fragments are expanded: the complexity limit
    /// (default 2000).
    #[serde(default = "default_max_fields")]
    pub max_fields: usize,
    /// Most lexical tokens a query document may have (default 20000).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Whether `__schema` / `__type` introspection is answered (default true).
    #[serde(default = "default_true")]
    pub introspection: bool,
}

fn default_name() -> String {
    "default".into()
}
fn default_true() -> bool {
    true
}
fn default_url() -> String {
    "/graphql".into()
}
fn default_max_depth() -> usize {
    15
}
fn default_max_fields() -> usize {
    2000
}
fn default_max_tokens() -> usize {
    20_000
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        GraphqlConfig {
            name: default_name(),
            schema: String::new(),
            enable: true,
            url: default_url(),
            subscriptions_url: None,
            playground_url: None,
            database: default_name(),
            max_depth: default_max_depth(),
            max_fields: default_max_fields(),
            max_tokens: default_max_tokens(),
            introspection: true,
        }
    }
}

impl GraphqlConfig {
    /// A schema named `name` from the class at `schema` with default settings.
    pub fn new(name: impl Into<String>, schema: impl Into<String>) -> Self {
        GraphqlConfig {
            name: name.into(),
            schema: schema.into(),
            ..Self::default()
        }
    }

    /// Check values that serde cannot (errors name the key).
    pub fn validate(&self) -> Result<(), ConfigError> {
        instance::validate_name(&self.name)?;
        if self.schema.trim().is_empty() {
            return Err(ConfigError::new(
                "schema",
                "required, the schema class as `module.Class`",
            ));
        }
        if !self.schema.contains('.') {
            return Err(ConfigError::new(
                "schema",
                format!("`{}` is not a `module.Class` path", self.schema),
            ));
        }
        for (key, path) in self.paths() {
            if !path.starts_with('/') {
                return Err(ConfigError::new(
                    key,
                    format!("`{path}` must start with `/`"),
                ));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (key, path) in self.paths() {
            if seen.contains(&path) {
                return Err(ConfigError::new(
                    key,
                    format!("`{path}` is also used by another endpoint"),
                ));
            }
            seen.push(path);
        }
        if self.max_depth == 0 || self.max_fields == 0 || self.max_tokens == 0 {
            // Three keys: the message names them all.
            return Err(ConfigError::unkeyed(
                "`max_depth`, `max_fields` and `max_tokens` must be at least 1",
            ));
        }
        Ok(())
    }

    /// The configured endpoint paths with their keys.
    pub fn paths(&self) -> Vec<(&'static str, &str)> {
        let mut paths = Vec::new();
        if !self.url.is_empty() {
            paths.push(("url", self.url.as_str()));
        }
        if let Some(p) = &self.subscriptions_url {
            paths.push(("subscriptions_url", p.as_str()));
        }
        if let Some(p) = &self.playground_url {
            paths.push(("playground_url", p.as_str()));
        }
        paths
    }
}

impl NamedInstance for GraphqlConfig {
    const KIND: &'static str = "graphql";

    fn instance_name(&self) -> &str {
        &self.name
    }

    fn enabled(&self) -> bool {
        self.enable
    }

    fn validate(&self) -> Result<(), ConfigError> {
        GraphqlConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c: GraphqlConfig = toml::from_str("schema = \"app.Schema\"").unwrap();
        assert_eq!(c, GraphqlConfig::new("default", "app.Schema"));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.paths(), vec![("url", "/graphql")]);
        let c: GraphqlConfig = toml::from_str("url = \"/g\"").unwrap();
        assert_eq!(c.validate().unwrap_err().key.as_deref(), Some("schema"));
        let c: GraphqlConfig =
            toml::from_str("schema = \"a.S\"\nplayground_url = \"/graphql\"").unwrap();
        assert!(c.validate().unwrap_err().message.contains("also used"));
        let c: GraphqlConfig = toml::from_str("schema = \"a.S\"\nurl = \"graphql\"").unwrap();
        assert_eq!(c.validate().unwrap_err().key.as_deref(), Some("url"));
        assert!(toml::from_str::<GraphqlConfig>("schema = \"a.S\"\nmax_dept = 3").is_err());
    }
}
