//! The subsystems compiled into this build: one line per Cargo feature.

use puff_greenlet::Subsystem;

use crate::config::RuntimeConfig;

/// Instantiate every enabled subsystem from the runtime configuration.
pub fn enabled(config: &RuntimeConfig) -> Vec<Box<dyn Subsystem>> {
    let _ = config;
    vec![
        #[cfg(feature = "http")]
        Box::new(puff_http::HttpSubsystem {
            config: config.http.clone(),
        }),
        #[cfg(feature = "postgres")]
        Box::new(puff_postgres::PostgresSubsystem {
            pools: config.postgres.clone(),
        }),
        #[cfg(feature = "redis")]
        Box::new(puff_redis::RedisSubsystem {
            pools: config.redis.clone(),
        }),
        #[cfg(feature = "pubsub")]
        Box::new(puff_pubsub::PubSubSubsystem {
            instances: config.pubsub.clone(),
            redis: config.redis.clone(),
        }),
        #[cfg(feature = "tasks")]
        Box::new(puff_tasks::TasksSubsystem {
            queues: config.task_queue.clone(),
            redis: config.redis.clone(),
        }),
        // After the pools, whose names Django's aliases bind to; before GraphQL, whose
        // schemas may import Django models.
        #[cfg(feature = "django")]
        Box::new(puff_django::DjangoSubsystem {
            enabled: config.django,
        }),
        #[cfg(feature = "graphql")]
        Box::new(puff_graphql::GraphqlSubsystem {
            schemas: config.graphql.clone(),
        }),
    ]
}

/// Top-level `puff.toml` keys of subsystems that exist but are not compiled in, with the
/// Cargo feature that provides them, so the error can say what to enable.
pub const FEATURE_KEYS: &[(&str, &str)] = &[
    #[cfg(not(feature = "http"))]
    ("bind", "http"),
    #[cfg(not(feature = "http"))]
    ("cors", "http"),
    #[cfg(not(feature = "http"))]
    ("http_client", "http"),
    #[cfg(not(feature = "postgres"))]
    ("postgres", "postgres"),
    #[cfg(not(feature = "redis"))]
    ("redis", "redis"),
    #[cfg(not(feature = "pubsub"))]
    ("pubsub", "pubsub"),
    #[cfg(not(feature = "tasks"))]
    ("task_queue", "tasks"),
    #[cfg(not(feature = "graphql"))]
    ("graphql", "graphql"),
    #[cfg(not(feature = "http"))]
    ("static", "http"),
    #[cfg(not(feature = "django"))]
    ("django", "django"),
];
