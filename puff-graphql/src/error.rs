//! [`GraphqlError`]: why a schema cannot be found by name.

use puff_greenlet::PuffError;

/// Looking up a started schema failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphqlError {
    /// No Puff runtime in this process.
    #[error(transparent)]
    Runtime(#[from] PuffError),
    /// No `[[graphql]]` entry at all.
    #[error(
        "no GraphQL schema `{name}`: none is configured (add a [[graphql]] entry with \
         `schema = \"module.Schema\"` to puff.toml)"
    )]
    NoneConfigured { name: String },
    /// Schemas exist, but none with this name.
    #[error("no GraphQL schema `{name}` (configured: {})", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_schema_and_the_configured_ones() {
        let none = GraphqlError::NoneConfigured {
            name: "audit".into(),
        };
        assert_eq!(
            none.to_string(),
            "no GraphQL schema `audit`: none is configured (add a [[graphql]] entry with \
             `schema = \"module.Schema\"` to puff.toml)"
        );
        let unknown = GraphqlError::Unknown {
            name: "audit".into(),
            known: vec!["default".into(), "layers".into()],
        };
        assert_eq!(
            unknown.to_string(),
            "no GraphQL schema `audit` (configured: default, layers)"
        );
    }
}
