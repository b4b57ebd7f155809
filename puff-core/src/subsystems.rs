//! The subsystems compiled into this build: one line per Cargo feature, as a plugin
//! group. This is the only place in `puff-core` that names a Cargo feature; each
//! subsystem owns its `puff.toml` keys, their parsing, its URL flags, its builder
//! methods (re-exported in [`prelude`]) and its commands (re-exported in [`commands`]).

use puff_greenlet::Subsystem;

/// Every compiled-in subsystem with default settings, in start-up order.
pub fn default_subsystems() -> Vec<Box<dyn Subsystem>> {
    vec![
        // First: spans recorded while the others start have somewhere to go.
        #[cfg(feature = "http")]
        Box::new(puff_http::TracingSubsystem::default()),
        #[cfg(feature = "http")]
        Box::new(puff_http::HttpSubsystem::default()),
        #[cfg(feature = "postgres")]
        Box::new(puff_postgres::PostgresSubsystem::default()),
        #[cfg(feature = "redis")]
        Box::new(puff_redis::RedisSubsystem::default()),
        // After redis, whose started pools they may borrow.
        #[cfg(feature = "pubsub")]
        Box::new(puff_pubsub::PubSubSubsystem::default()),
        #[cfg(feature = "tasks")]
        Box::new(puff_tasks::TasksSubsystem::default()),
        // After the pools, whose names Django's aliases bind to; before GraphQL, whose
        // schemas may import Django models.
        #[cfg(feature = "django")]
        Box::new(puff_django::DjangoSubsystem::default()),
        #[cfg(feature = "graphql")]
        Box::new(puff_graphql::GraphqlSubsystem::default()),
    ]
}

/// The commands the compiled-in subsystems contribute, re-exported in
/// [`crate::program::commands`].
pub mod commands {
    #[cfg(feature = "http")]
    pub use puff_http::commands::{ASGIServerCommand, ServerCommand, WSGIServerCommand};
    #[cfg(feature = "tasks")]
    pub use puff_tasks::TasksCommand;
}

/// The subsystem crates, re-exported at the crate root (`puff_core::postgres`, ...).
pub mod crates {
    #[cfg(feature = "graphql")]
    pub use puff_graphql as graphql;
    #[cfg(feature = "http")]
    pub use puff_http::{self as http, Router};
    #[cfg(feature = "postgres")]
    pub use puff_postgres as postgres;
    #[cfg(feature = "pubsub")]
    pub use puff_pubsub as pubsub;
    #[cfg(feature = "redis")]
    pub use puff_redis as redis;
    #[cfg(feature = "tasks")]
    pub use puff_tasks as tasks;
}

/// The compiled-in subsystems' part of [`crate::prelude`]: their `RuntimeConfig` builder
/// methods and, with http, `Router` and the server commands.
pub mod prelude {
    #[cfg(feature = "django")]
    pub use puff_django::DjangoSettings;
    #[cfg(feature = "graphql")]
    pub use puff_graphql::GraphqlSettings;
    #[cfg(feature = "http")]
    pub use puff_http::{
        ASGIServerCommand, HttpSettings, Router, ServerCommand, WSGIServerCommand,
    };
    #[cfg(feature = "postgres")]
    pub use puff_postgres::PostgresSettings;
    #[cfg(feature = "pubsub")]
    pub use puff_pubsub::PubSubSettings;
    #[cfg(feature = "redis")]
    pub use puff_redis::RedisSettings;
    #[cfg(feature = "tasks")]
    pub use puff_tasks::TaskQueueSettings;
}

/// Top-level `puff.toml` keys of every subsystem that can be compiled in, with the Cargo
/// feature providing them: a key no compiled-in subsystem owns is reported as needing
/// its feature.
pub const FEATURE_KEYS: &[(&str, &str)] = &[
    ("bind", "http"),
    ("cors", "http"),
    ("http_client", "http"),
    ("postgres", "postgres"),
    ("redis", "redis"),
    ("pubsub", "pubsub"),
    ("task_queue", "tasks"),
    ("graphql", "graphql"),
    ("static", "http"),
    ("django", "django"),
    ("tracing", "http"),
];

/// The Cargo feature providing top-level key `key`, if a subsystem owns it.
pub fn feature_of_key(key: &str) -> Option<&'static str> {
    FEATURE_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, feature)| *feature)
}
