//! `puff.toml` keys of the subsystems, read through `RuntimeConfig` as `puff-cli` reads
//! them, and the builder methods that set the same settings in code. Needs the subsystems
//! compiled in (as in the workspace build, where `puff-cli` enables them all).
#![cfg(all(
    feature = "http",
    feature = "postgres",
    feature = "redis",
    feature = "pubsub",
    feature = "tasks",
    feature = "django"
))]

use std::path::Path;

use puff_core::prelude::*;
use puff_core::{ConfigError, config::EXAMPLE_CONFIG};

fn parse(text: &str) -> Result<RuntimeConfig, ConfigError> {
    RuntimeConfig::from_toml_str(text, "puff.toml", Path::new("/base"))
}

#[test]
fn example_config_sets_subsystems() {
    let config = parse(EXAMPLE_CONFIG).unwrap();
    assert!(config.http_config().cors.is_some());
    assert_eq!(config.http_config().http_client[0].name, "internal");
}

#[test]
fn http_keys() {
    let config =
        parse("bind = \"0.0.0.0:8000\"\ntls_cert = \"c.pem\"\ntls_key = \"/k.pem\"").unwrap();
    assert_eq!(config.http_config().bind, "0.0.0.0:8000");
    // Relative to the file's folder, like python_path.
    assert_eq!(
        config.http_config().tls_cert.as_deref(),
        Some(Path::new("/base/c.pem"))
    );
    assert_eq!(
        config.http_config().tls_key.as_deref(),
        Some(Path::new("/k.pem"))
    );
    let e = parse("bind = \"nope\"").unwrap_err();
    assert_eq!(
        e.to_string(),
        "puff.toml: key `bind`: `nope` is not a `host:port` socket address (e.g. \"127.0.0.1:7777\")"
    );
    let e = parse("[cors]\nallow_origins = [\"a\\nb\"]").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("cors.allow_origins"), "{e}");
    let e = parse("tls_cert = \"c.pem\"").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("tls_key"), "{e}");
    let rc = RuntimeConfig::default()
        .set_bind("127.0.0.1:1")
        .set_max_connections(5);
    assert_eq!(rc.http_config().bind, "127.0.0.1:1");
    assert_eq!(rc.http_config().max_connections, Some(5));
}

#[test]
fn static_folders_are_relative_to_the_file_and_must_exist() {
    let tmp = std::env::temp_dir();
    let text = format!("[static]\n\"/media/\" = {:?}", tmp.display().to_string());
    let config = parse(&text).unwrap();
    assert_eq!(
        config.http_config().static_mappings(),
        vec![("/media/".to_owned(), tmp)]
    );
    // Relative: joined to the file's folder (/base), which has no such folder.
    let e = parse("[static]\n\"/s/\" = \"assets\"").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("static"), "{e}");
    assert!(e.message.contains("/base/assets"), "{e}");
    let e = parse("[static]\n\"nope\" = \"/tmp\"").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("static"), "{e}");
}

#[test]
fn django_is_a_flag() {
    let enabled = |config: &RuntimeConfig| {
        config
            .subsystem::<puff_django::DjangoSubsystem>()
            .unwrap()
            .enabled
    };
    assert!(enabled(&parse("django = true").unwrap()));
    assert!(!enabled(&parse("").unwrap()));
    assert!(enabled(&RuntimeConfig::default().set_django(true)));
    let e = parse("django = \"yes\"").unwrap_err();
    assert_eq!(
        e.to_string(),
        "puff.toml: key `django`: expected true or false, got string"
    );
}

#[test]
fn postgres_entries() {
    let config = parse(
        "[[postgres]]\nenable = true\n[[postgres]]\nname = \"ro\"\nurl = \"postgres://u:pw@h/db\"\npool_size = 3",
    )
    .unwrap();
    let pools = config.postgres_configs();
    assert_eq!(pools.len(), 2);
    assert_eq!(pools[0].name, "default");
    assert_eq!(pools[0].pool_size, 10);
    assert_eq!(pools[1].name, "ro");
    assert_eq!(pools[1].pool_size, 3);
    let e = parse("[[postgres]]\npool_sise = 3").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("postgres[0]"), "{e}");
    assert!(e.message.starts_with("`pool_sise`: "), "{e}");
    let e = parse("[[postgres]]\n[[postgres]]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "puff.toml: key `postgres[1]`: an instance named `default` is configured twice"
    );
    let e = parse("[[postgres]]\nurl = \"postgres://u:hunter2@h:notaport/db\"").unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = parse("postgres = 5").unwrap_err();
    assert_eq!(
        e.to_string(),
        "puff.toml: key `postgres`: expected [[postgres]] tables, got integer"
    );
    let rc = RuntimeConfig::default().set_postgres(true);
    assert_eq!(rc.postgres_configs()[0].name, "default");
    assert!(rc.set_postgres(false).postgres_configs().is_empty());
}

#[test]
fn task_queue_entries() {
    // The docs' form, and a named queue on a named pool.
    let config = parse(
        "asyncio = true\n[[task_queue]]\nenable = true\n[[redis]]\nname = \"jobs\"\n\
         [[task_queue]]\nname = \"emails\"\nredis = \"jobs\"\nmax_concurrent_tasks = 2",
    )
    .unwrap();
    let queues = config.task_queue_configs();
    assert_eq!(queues[0], puff_tasks::TaskQueueConfig::named("default"));
    assert_eq!(queues[1].max_concurrent_tasks, Some(2));
    let e = parse("[[task_queue]]\nmax_concurent_tasks = 2").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("task_queue[0]"), "{e}");
    assert!(e.message.contains("max_concurent_tasks"), "{e}");
    let e = parse("[[task_queue]]\nurl = \"redis://:hunter2@h:x\"").unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let rc = RuntimeConfig::default()
        .set_task_queue(true)
        .set_task_queue_concurrent_tasks(3);
    assert_eq!(rc.task_queue_configs().len(), 1);
    assert_eq!(rc.task_queue_configs()[0].concurrency(), 3);
    assert!(rc.set_task_queue(false).task_queue_configs().is_empty());
}

#[test]
fn redis_and_pubsub_entries() {
    let config = parse(
        "[[redis]]\nenable = true\n[[redis]]\nname = \"cache\"\npool_size = 3\n\
         [[pubsub]]\nname = \"events\"\nredis = \"cache\"",
    )
    .unwrap();
    assert_eq!(config.redis_configs().len(), 2);
    assert_eq!(config.redis_configs()[1].pool_size, 3);
    assert_eq!(config.pubsub_configs()[0].redis.as_deref(), Some("cache"));
    let e = parse("[[redis]]\npool_sise = 3").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("redis[0]"), "{e}");
    let e = parse("[[redis]]\nurl = \"http://:hunter2@h\"").unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = parse("[[pubsub]]\nurl = \"redis://a\"\nredis = \"b\"").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("pubsub[0]"), "{e}");
    let rc = RuntimeConfig::default().set_redis(true).set_pubsub(true);
    assert_eq!(rc.redis_configs()[0].name, "default");
    assert_eq!(rc.pubsub_configs()[0].name, "default");
}

#[test]
fn url_flags_come_from_the_subsystems() {
    let config = parse(
        "[[postgres]]\nname = \"ro\"\n[[redis]]\nenable = true\n[[task_queue]]\nname = \"emails\"",
    )
    .unwrap();
    let flags: Vec<String> = config
        .subsystem_list()
        .iter()
        .flat_map(|s| s.url_flags())
        .map(|f| f.flag)
        .collect();
    assert_eq!(
        flags,
        [
            "ro-postgres-url",
            "default-redis-url",
            "default-pubsub-url",
            "default-task-queue-url",
            "emails-task-queue-url"
        ]
    );
}
