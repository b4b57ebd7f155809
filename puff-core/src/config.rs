//! [`RuntimeConfig`]: how a Puff program is set up, in code or from `puff.toml`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use puff_greenlet::GlobalStateFn;
use puff_greenlet::pyo3::prelude::*;
use serde::Deserialize;

use crate::subsystems;

/// A `puff.toml` problem, naming the file and the key.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: key `{}`: {}", self.file, key, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One `[[commands]]` entry: a subcommand that runs a Python function.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    /// Subcommand name, e.g. `hello_world`.
    pub command_name: String,
    /// `module.function` to call (no arguments).
    pub function: String,
    /// Help text for `--help`.
    #[serde(default)]
    pub about: Option<String>,
}

/// Core keys read by [`RuntimeConfig::from_toml_str`]; subsystems own the rest.
const CORE_KEYS: &[&str] = &[
    "wsgi",
    "asgi",
    "python_path",
    "env",
    "pytest",
    "asyncio",
    "commands",
    "gc_threshold",
    "tokio_batch_scheduling",
];

/// Python's gen-0 garbage collection threshold Puff sets by default (Python's own is 700).
pub const DEFAULT_GC_THRESHOLD: u32 = 20_000;

/// How to set up the runtime: Python environment, global state, enabled subsystems and
/// their settings.
#[derive(Clone, Default)]
pub struct RuntimeConfig {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) python_paths: Vec<PathBuf>,
    pub(crate) virtualenv: Option<PathBuf>,
    pub(crate) global_state_fn: Option<GlobalStateFn>,
    pub(crate) wsgi: Option<String>,
    pub(crate) asgi: Option<String>,
    pub(crate) commands: Vec<CommandEntry>,
    pub(crate) tokio_worker_threads: Option<usize>,
    /// `None`: [`DEFAULT_GC_THRESHOLD`]; `Some(0)`: leave Python's collector alone.
    pub(crate) gc_threshold: Option<u32>,
    /// `None`: on; see [`RuntimeConfig::set_tokio_batch_scheduling`].
    pub(crate) tokio_batch_scheduling: Option<bool>,
    pub(crate) asyncio: bool,
    pub(crate) source: Option<PathBuf>,
    #[cfg(feature = "http")]
    pub(crate) http: puff_http::HttpConfig,
    #[cfg(feature = "postgres")]
    pub(crate) postgres: Vec<puff_postgres::PostgresConfig>,
    #[cfg(feature = "redis")]
    pub(crate) redis: Vec<puff_redis::RedisConfig>,
    #[cfg(feature = "pubsub")]
    pub(crate) pubsub: Vec<puff_pubsub::PubSubConfig>,
    #[cfg(feature = "tasks")]
    pub(crate) task_queue: Vec<puff_tasks::TaskQueueConfig>,
    #[cfg(feature = "graphql")]
    pub(crate) graphql: Vec<puff_graphql::GraphqlConfig>,
    #[cfg(feature = "django")]
    pub(crate) django: bool,
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("python_paths", &self.python_paths)
            .field("wsgi", &self.wsgi)
            .field("commands", &self.commands)
            .finish_non_exhaustive()
    }
}

impl RuntimeConfig {
    /// Set an environment variable before Python starts (e.g. `DJANGO_SETTINGS_MODULE`).
    pub fn add_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Put a folder on `sys.path` (before site-packages).
    pub fn add_python_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.python_paths.push(path.into());
        self
    }

    /// Use this virtualenv instead of `$VIRTUAL_ENV`.
    pub fn set_virtualenv(mut self, path: impl Into<PathBuf>) -> Self {
        self.virtualenv = Some(path.into());
        self
    }

    /// Build the object Python gets from `puff.global_state()`.
    pub fn set_global_state_fn<F>(mut self, f: F) -> Self
    where
        F: Fn(Python<'_>) -> PyResult<Py<PyAny>> + Send + Sync + 'static,
    {
        self.global_state_fn = Some(Arc::new(f));
        self
    }

    /// Run an asyncio event loop (uvloop when installed) on the Python thread: Puff async
    /// functions become awaitable from coroutines, and `puff.run_coroutine` works.
    pub fn set_asyncio(mut self, on: bool) -> Self {
        self.asyncio = on;
        self
    }

    /// `django = true`: at start-up, run the Django project of `DJANGO_SETTINGS_MODULE`
    /// on Puff's pools (psycopg2 shim, greenlet-local connections) and serve its
    /// `STATIC_ROOT` at `STATIC_URL`.
    #[cfg(feature = "django")]
    pub fn set_django(mut self, on: bool) -> Self {
        self.django = on;
        self
    }

    /// Number of Tokio worker threads (default: one per CPU).
    /// Python's generation-0 garbage collection threshold (default
    /// [`DEFAULT_GC_THRESHOLD`]; Python's own is 700). Servers create thousands of short-lived
    /// objects per millisecond, and collecting every 700 allocations cost them about a tenth
    /// of their Python time; servers also `gc.freeze()` what exists once the app is loaded.
    /// `0` leaves Python's collector exactly as it is.
    pub fn set_gc_threshold(mut self, threshold: u32) -> Self {
        self.gc_threshold = Some(threshold);
        self
    }

    /// The effective gen-0 threshold; `None` when Python's collector is left alone.
    pub fn gc_threshold(&self) -> Option<u32> {
        match self.gc_threshold.unwrap_or(DEFAULT_GC_THRESHOLD) {
            0 => None,
            n => Some(n),
        }
    }

    /// Run Tokio's threads under Linux's `SCHED_BATCH` policy (default on): a Tokio thread
    /// that wakes (a socket is readable, Python handed it a query) then waits for the CPU
    /// instead of preempting the Python thread on the spot. When both share a core, every
    /// wake was a context switch and a cold cache for Python, several per request; batched,
    /// Tokio runs when Python waits or its time slice ends. On a machine with an idle core
    /// the woken thread runs there at once, as before. Elsewhere than Linux: no effect.
    pub fn set_tokio_batch_scheduling(mut self, on: bool) -> Self {
        self.tokio_batch_scheduling = Some(on);
        self
    }

    /// Whether Tokio's threads run under `SCHED_BATCH` (see
    /// [`RuntimeConfig::set_tokio_batch_scheduling`]).
    pub fn tokio_batch_scheduling(&self) -> bool {
        self.tokio_batch_scheduling.unwrap_or(true)
    }

    pub fn set_tokio_worker_threads(mut self, threads: usize) -> Self {
        self.tokio_worker_threads = Some(threads.max(1));
        self
    }

    /// The WSGI app (`module.attr`) `puff-cli runserver` serves.
    pub fn set_wsgi(mut self, app: impl Into<String>) -> Self {
        self.wsgi = Some(app.into());
        self
    }

    pub fn wsgi(&self) -> Option<&str> {
        self.wsgi.as_deref()
    }

    /// The ASGI app (`module.attr`) `puff-cli runserver` serves; implies `asyncio`.
    pub fn set_asgi(mut self, app: impl Into<String>) -> Self {
        self.asgi = Some(app.into());
        self.asyncio = true;
        self
    }

    pub fn asgi(&self) -> Option<&str> {
        self.asgi.as_deref()
    }

    /// `[[commands]]` entries.
    pub fn commands(&self) -> &[CommandEntry] {
        &self.commands
    }

    /// The file this configuration was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Read `puff.toml`. Relative `python_path` entries are relative to the file's folder,
    /// which is also the default `python_path`.
    pub fn from_toml_file(path: &Path) -> Result<RuntimeConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: shown.clone(),
            key: None,
            message: format!("cannot read the file: {e}"),
        })?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        let mut config = Self::from_toml_str(&text, &shown, &base)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parse `puff.toml` text; `file` names it in errors, `base` anchors relative paths.
    pub fn from_toml_str(
        text: &str,
        file: &str,
        base: &Path,
    ) -> Result<RuntimeConfig, ConfigError> {
        let err = |key: Option<&str>, message: String| ConfigError {
            file: file.to_owned(),
            key: key.map(str::to_owned),
            message,
        };
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| err(None, format!("not valid TOML: {}", e.to_string().trim())))?;
        // `[static]` folders are relative to the file, like `python_path`.
        if let Some(toml::Value::Table(dirs)) = table.get_mut("static") {
            for (_, dir) in dirs.iter_mut() {
                if let Some(path) = dir.as_str() {
                    *dir = toml::Value::String(base.join(path).display().to_string());
                }
            }
        }
        let mut config = RuntimeConfig {
            python_paths: vec![base.to_path_buf()],
            ..RuntimeConfig::default()
        };
        let mut subsystem_tables: Vec<(Box<dyn puff_greenlet::Subsystem>, toml::Table)> =
            subsystems::enabled(&config)
                .into_iter()
                .map(|s| (s, toml::Table::new()))
                .collect();
        for (key, value) in &table {
            let type_err = |expected: &str| {
                err(
                    Some(key),
                    format!("expected {expected}, got {}", value.type_str()),
                )
            };
            match key.as_str() {
                "wsgi" | "asgi" => {
                    let app = value
                        .as_str()
                        .ok_or_else(|| type_err("a string like \"module.app\""))?;
                    if !app.contains('.') && !app.contains(':') {
                        return Err(err(
                            Some(key),
                            format!("`{app}` is not a `module.attribute` path"),
                        ));
                    }
                    if key == "wsgi" {
                        config.wsgi = Some(app.to_owned());
                    } else {
                        config.asgi = Some(app.to_owned());
                        // ASGI apps run on the event loop.
                        config.asyncio = true;
                    }
                }
                "python_path" => {
                    let paths = value
                        .as_array()
                        .ok_or_else(|| type_err("a list of folder paths"))?;
                    config.python_paths = paths
                        .iter()
                        .map(|p| {
                            p.as_str()
                                .map(|p| base.join(p))
                                .ok_or_else(|| type_err("a list of strings"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "env" => {
                    let vars = value
                        .as_table()
                        .ok_or_else(|| type_err("a table of NAME = \"value\""))?;
                    for (name, v) in vars {
                        let v = v.as_str().ok_or_else(|| {
                            err(
                                Some(&format!("env.{name}")),
                                format!("expected a string, got {}", v.type_str()),
                            )
                        })?;
                        config.env.push((name.clone(), v.to_owned()));
                    }
                }
                "asyncio" => {
                    config.asyncio = value.as_bool().ok_or_else(|| type_err("true or false"))?;
                }
                "gc_threshold" => {
                    let n = value
                        .as_integer()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| {
                            type_err("a whole number >= 0 (0 keeps Python's default)")
                        })?;
                    config.gc_threshold = Some(n);
                }
                "tokio_batch_scheduling" => {
                    config.tokio_batch_scheduling =
                        Some(value.as_bool().ok_or_else(|| type_err("true or false"))?);
                }
                "pytest" => {
                    value.as_bool().ok_or_else(|| type_err("true or false"))?;
                }
                "commands" => {
                    let entries = value
                        .as_array()
                        .ok_or_else(|| type_err("an array of tables ([[commands]])"))?;
                    for (i, entry) in entries.iter().enumerate() {
                        let key = format!("commands[{i}]");
                        let entry: CommandEntry = entry
                            .as_table()
                            .ok_or_else(|| err(Some(&key), "expected a table".into()))
                            .and_then(|t| {
                                puff_greenlet::deserialize_section(t)
                                    .map_err(|m| err(Some(&key), m))
                            })?;
                        if entry.command_name.is_empty()
                            || !entry
                                .command_name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        {
                            return Err(err(
                                Some(&key),
                                format!(
                                    "command_name `{}` must be letters, digits, `_` or `-`",
                                    entry.command_name
                                ),
                            ));
                        }
                        config.commands.push(entry);
                    }
                }
                other => {
                    if let Some((_, table)) = subsystem_tables
                        .iter_mut()
                        .find(|(s, _)| s.config_keys().contains(&other))
                    {
                        table.insert(key.clone(), value.clone());
                    } else if let Some((_, feature)) =
                        subsystems::FEATURE_KEYS.iter().find(|(k, _)| *k == other)
                    {
                        return Err(err(
                            Some(key),
                            format!(
                                "needs the `{feature}` feature, which this build of Puff does not include"
                            ),
                        ));
                    } else {
                        let mut known: Vec<&str> = CORE_KEYS.to_vec();
                        for (s, _) in &subsystem_tables {
                            known.extend_from_slice(s.config_keys());
                        }
                        known.sort_unstable();
                        return Err(err(
                            Some(key),
                            format!("unknown key (known keys: {})", known.join(", ")),
                        ));
                    }
                }
            }
        }
        for (subsystem, table) in &mut subsystem_tables {
            subsystem.configure(table).map_err(|message| {
                // Subsystem messages start with the key in backticks when they know it.
                let key = message
                    .strip_prefix('`')
                    .and_then(|rest| rest.split_once('`'))
                    .map(|(k, _)| k.to_owned());
                match key {
                    Some(k) => {
                        let rest = message
                            .split_once(": ")
                            .map_or(message.as_str(), |(_, r)| r)
                            .to_owned();
                        err(Some(&k), rest)
                    }
                    None => err(None, format!("[{}] {message}", subsystem.name())),
                }
            })?;
        }
        #[cfg(feature = "http")]
        {
            let http_keys: toml::Table = table
                .iter()
                .filter(|(k, _)| puff_http::HttpConfig::KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            config.http =
                puff_greenlet::deserialize_section(&http_keys).map_err(|m| err(None, m))?;
            // Certificate paths are relative to puff.toml, like python_path.
            for path in [&mut config.http.tls_cert, &mut config.http.tls_key]
                .into_iter()
                .flatten()
            {
                *path = base.join(&*path);
            }
        }
        #[cfg(feature = "postgres")]
        if let Some(value) = table.get("postgres") {
            config.postgres = puff_postgres::PostgresSubsystem::parse(value)
                .map_err(|m| err(Some("postgres"), m))?;
        }
        #[cfg(feature = "redis")]
        if let Some(value) = table.get("redis") {
            config.redis =
                puff_redis::RedisSubsystem::parse(value).map_err(|m| err(Some("redis"), m))?;
        }
        #[cfg(feature = "pubsub")]
        if let Some(value) = table.get("pubsub") {
            config.pubsub =
                puff_pubsub::PubSubSubsystem::parse(value).map_err(|m| err(Some("pubsub"), m))?;
        }
        #[cfg(feature = "tasks")]
        if let Some(value) = table.get("task_queue") {
            config.task_queue =
                puff_tasks::TasksSubsystem::parse(value).map_err(|m| err(Some("task_queue"), m))?;
        }
        #[cfg(feature = "graphql")]
        if let Some(value) = table.get("graphql") {
            config.graphql = puff_graphql::GraphqlSubsystem::parse(value)
                .map_err(|m| err(Some("graphql"), m))?;
        }
        #[cfg(feature = "django")]
        if let Some(value) = table.get("django") {
            config.django =
                puff_django::DjangoSubsystem::parse(value).map_err(|m| err(Some("django"), m))?;
        }
        if config.wsgi.is_some() && config.asgi.is_some() {
            return Err(err(
                Some("asgi"),
                "set either `wsgi` or `asgi`, not both (one app serves the fallback routes)".into(),
            ));
        }
        Ok(config)
    }
}

#[cfg(feature = "http")]
impl RuntimeConfig {
    /// Address `runserver` listens on (default `127.0.0.1:7777`).
    pub fn set_bind(mut self, bind: impl Into<String>) -> Self {
        self.http.bind = bind.into();
        self
    }

    /// Larger request bodies get 413 (default 10 MiB).
    pub fn set_max_request_body_bytes(mut self, bytes: usize) -> Self {
        self.http.max_request_body_bytes = bytes;
        self
    }

    /// gzip/deflate responses for clients that accept them.
    pub fn set_compression(mut self, on: bool) -> Self {
        self.http.compression = on;
        self
    }

    pub fn set_access_log(mut self, on: bool) -> Self {
        self.http.access_log = on;
        self
    }

    pub fn set_cors(mut self, cors: puff_http::CorsConfig) -> Self {
        self.http.cors = Some(cors);
        self
    }

    /// How long in-flight requests may take to finish on shutdown.
    pub fn set_shutdown_timeout_ms(mut self, ms: u64) -> Self {
        self.http.shutdown_timeout_ms = ms;
        self
    }

    /// How long a request head may take to arrive (`0`: no limit; default 30 s).
    pub fn set_header_read_timeout_ms(mut self, ms: u64) -> Self {
        self.http.header_read_timeout_ms = ms;
        self
    }

    /// How long a connection may stay idle between requests (`0`: no limit; default 75 s).
    pub fn set_keep_alive_timeout_ms(mut self, ms: u64) -> Self {
        self.http.keep_alive_timeout_ms = ms;
        self
    }

    /// How long a request body may send nothing before 408 (`0`, the default: no limit).
    pub fn set_body_read_timeout_ms(mut self, ms: u64) -> Self {
        self.http.body_read_timeout_ms = ms;
        self
    }

    /// Stop accepting while this many connections are open (default: no limit).
    pub fn set_max_connections(mut self, connections: usize) -> Self {
        self.http.max_connections = Some(connections);
        self
    }

    pub fn http_config(&self) -> &puff_http::HttpConfig {
        &self.http
    }
}

#[cfg(feature = "postgres")]
impl RuntimeConfig {
    /// Enable (or remove) the `default` Postgres pool with default settings; its URL comes
    /// from `PUFF_DEFAULT_POSTGRES_URL` / `--default-postgres-url` when set.
    pub fn set_postgres(mut self, on: bool) -> Self {
        self.postgres.retain(|c| c.name != "default");
        if on {
            self.postgres
                .push(puff_postgres::PostgresConfig::named("default"));
        }
        self
    }

    /// Add (or replace) a named Postgres pool.
    pub fn add_postgres(mut self, config: puff_postgres::PostgresConfig) -> Self {
        self.postgres.retain(|c| c.name != config.name);
        self.postgres.push(config);
        self
    }

    /// The configured Postgres pools.
    pub fn postgres_configs(&self) -> &[puff_postgres::PostgresConfig] {
        &self.postgres
    }
}

#[cfg(feature = "redis")]
impl RuntimeConfig {
    /// Enable (or remove) the `default` Redis pool with default settings; its URL comes
    /// from `PUFF_DEFAULT_REDIS_URL` / `--default-redis-url` when set.
    pub fn set_redis(mut self, on: bool) -> Self {
        self.redis.retain(|c| c.name != "default");
        if on {
            self.redis.push(puff_redis::RedisConfig::named("default"));
        }
        self
    }

    /// Add (or replace) a named Redis pool.
    pub fn add_redis(mut self, config: puff_redis::RedisConfig) -> Self {
        self.redis.retain(|c| c.name != config.name);
        self.redis.push(config);
        self
    }

    /// The configured Redis pools.
    pub fn redis_configs(&self) -> &[puff_redis::RedisConfig] {
        &self.redis
    }
}

#[cfg(feature = "pubsub")]
impl RuntimeConfig {
    /// Declare (or remove) the `default` pub/sub instance. It exists either way: on the
    /// `default` Redis pool when one is configured, else in process.
    pub fn set_pubsub(mut self, on: bool) -> Self {
        self.pubsub.retain(|c| c.name != "default");
        if on {
            self.pubsub
                .push(puff_pubsub::PubSubConfig::named("default"));
        }
        self
    }

    /// Add (or replace) a named pub/sub instance.
    pub fn add_pubsub(mut self, config: puff_pubsub::PubSubConfig) -> Self {
        self.pubsub.retain(|c| c.name != config.name);
        self.pubsub.push(config);
        self
    }

    /// The configured pub/sub instances (without the implicit `default`).
    pub fn pubsub_configs(&self) -> &[puff_pubsub::PubSubConfig] {
        &self.pubsub
    }
}

#[cfg(feature = "tasks")]
impl RuntimeConfig {
    /// Declare (or remove) the `default` task queue. It exists either way: on the
    /// `default` Redis pool when one is configured, else in process.
    pub fn set_task_queue(mut self, on: bool) -> Self {
        self.task_queue.retain(|c| c.name != "default");
        if on {
            self.task_queue
                .push(puff_tasks::TaskQueueConfig::named("default"));
        }
        self
    }

    /// How many tasks of the `default` queue this process runs at once (default: CPUs x
    /// 4; 0 makes the process schedule only).
    pub fn set_task_queue_concurrent_tasks(mut self, tasks: usize) -> Self {
        if !self.task_queue.iter().any(|c| c.name == "default") {
            self.task_queue
                .push(puff_tasks::TaskQueueConfig::named("default"));
        }
        for c in self.task_queue.iter_mut().filter(|c| c.name == "default") {
            c.max_concurrent_tasks = Some(tasks);
        }
        self
    }

    /// Add (or replace) a named task queue.
    pub fn add_task_queue(mut self, config: puff_tasks::TaskQueueConfig) -> Self {
        self.task_queue.retain(|c| c.name != config.name);
        self.task_queue.push(config);
        self
    }

    /// The configured task queues (without the implicit `default`).
    pub fn task_queue_configs(&self) -> &[puff_tasks::TaskQueueConfig] {
        &self.task_queue
    }
}

#[cfg(feature = "graphql")]
impl RuntimeConfig {
    /// Build the `default` GraphQL schema from the Python class at `path`
    /// (`module.Schema`). No endpoint is mounted: route `puff_graphql::handle_graphql()` and
    /// friends yourself, or use [`RuntimeConfig::add_graphql`] with a `url`.
    pub fn set_gql_schema_class(self, path: impl Into<String>) -> Self {
        let mut config = puff_graphql::GraphqlConfig::new("default", path);
        config.url = String::new();
        self.add_graphql(config)
    }

    /// Add (or replace) a named GraphQL schema.
    pub fn add_graphql(mut self, config: puff_graphql::GraphqlConfig) -> Self {
        self.graphql.retain(|c| c.name != config.name);
        self.graphql.push(config);
        self
    }

    /// The configured GraphQL schemas.
    pub fn graphql_configs(&self) -> &[puff_graphql::GraphqlConfig] {
        &self.graphql
    }
}

/// A complete, commented `puff.toml` (printed by `puff-cli example-config`).
pub const EXAMPLE_CONFIG: &str = r#"# puff.toml: configuration for `puff-cli`.
# Path: --config PATH, else $PUFF_CONFIG, else ./puff.toml.

# The WSGI application `puff-cli runserver` serves, as module.attribute.
wsgi = "app.app"
# ...or an ASGI application instead (runs on the event loop; implies asyncio = true).
# asgi = "app.asgi_app"

# Folders put on sys.path, relative to this file (default: this file's folder).
python_path = ["."]

# `puff-cli pytest [args...]` runs pytest inside the runtime; always available.
pytest = true

# Run an asyncio event loop (uvloop when installed) next to the greenlets: Puff functions
# are then awaitable from coroutines, and greenlets can wait on coroutines.
asyncio = false

# Python's generation-0 garbage collection threshold (Python's default: 700). Servers make
# thousands of short-lived objects per millisecond; collecting that often cost about a
# tenth of their Python time. Servers also gc.freeze() what is loaded before serving.
# 0 leaves Python's collector exactly as it is.
gc_threshold = 20000

# Tokio's threads (sockets, Postgres, Redis) run under Linux's SCHED_BATCH: when one wakes
# on the core the Python thread is using, it waits its turn instead of preempting Python at
# once (each such preemption is a context switch and a cold cache, several per request).
# An idle core still runs it at once. false: the usual policy.
tokio_batch_scheduling = true

# --- HTTP server ---------------------------------------------------------------
# Listen address (override with `runserver --bind`).
bind = "127.0.0.1:7777"
# Request bodies larger than this get 413 Payload Too Large (default 10 MiB).
max_request_body_bytes = 10485760
# gzip/deflate responses for clients sending Accept-Encoding.
compression = false
# One log line per request (target `puff::access`).
access_log = true
# On SIGINT/SIGTERM, how long in-flight requests may take to finish.
shutdown_timeout_ms = 30000
# The request line and headers (and the TLS handshake) must arrive within this time,
# counted from the connection's start or the head's first byte; 0: no limit.
header_read_timeout_ms = 30000
# Idle connections close after this (HTTP/2: GOAWAY); 75 s outlives the 60 s idle timeout
# of common load balancers, so they close first. 0: no limit.
keep_alive_timeout_ms = 75000
# A request body that sends nothing for this long gets 408; 0: no limit.
body_read_timeout_ms = 0
# Stop accepting while this many connections are open (default: no limit).
# max_connections = 10000
# Connections the kernel queues before Puff accepts them (capped by net.core.somaxconn).
backlog = 1024
# HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with PEM files, relative to this file.
# tls_cert = "cert.pem"
# tls_key = "key.pem"

# Django (the `django` feature): run the project of DJANGO_SETTINGS_MODULE on Puff's
# pools (stock postgresql ENGINE, each DATABASES alias on the [[postgres]] pool of its
# name) and serve STATIC_ROOT at STATIC_URL.
# django = true

# Environment variables set before Python starts.
[env]
# DJANGO_SETTINGS_MODULE = "mysite.settings"

# Folders served as static files from Rust, by URL prefix (relative to this file).
# [static]
# "/media/" = "uploads"

# Cross-origin resource sharing (omit the section to disable).
[cors]
allow_origins = ["https://example.com"]
allow_methods = ["GET", "POST"]
allow_headers = ["content-type", "authorization"]
expose_headers = []
allow_credentials = false
max_age_secs = 600

# --- Postgres (the `postgres` feature) -------------------------------------------
# One entry per named pool; Python: puff.postgres.connect("default").
# URL override: --{name}-postgres-url URL or $PUFF_{NAME}_POSTGRES_URL.
# [[postgres]]
# name = "default"
# url = "postgres://postgres:password@localhost:5432/postgres"
# pool_size = 10
# min_idle = 2
# acquire_timeout_ms = 30000
# statement_timeout_ms = 60000

# --- Redis (the `redis` feature) ------------------------------------------------
# One entry per named pool; Python: puff.redis.global_redis / named_client("cache").
# URL override: --{name}-redis-url URL or $PUFF_{NAME}_REDIS_URL.
# [[redis]]
# name = "default"
# url = "redis://localhost:6379"
# pool_size = 10                  # multiplexed connections
# acquire_timeout_ms = 5000
# connect_timeout_ms = 5000
# command_timeout_ms = 10000      # default: none (blocking commands may wait)

# --- Pub/sub (the `pubsub` feature) ----------------------------------------------
# A `default` instance always exists: on the `default` Redis pool when configured, else
# in process. Python: puff.pubsub.global_pubsub / named_client("events").
# URL override: --{name}-pubsub-url URL or $PUFF_{NAME}_PUBSUB_URL ("memory://" = in process).
# [[pubsub]]
# name = "events"
# redis = "default"               # or url = "redis://other:6379"

# --- Task queue (the `tasks` feature) ---------------------------------------------
# A `default` queue always exists: on the `default` Redis pool when configured, else in
# process. Every Puff process runs its due tasks in the background (`wait-forever` makes a
# pure worker). Python: puff.task_queue.global_task_queue / named_queue("emails").
# URL override: --{name}-task-queue-url URL or $PUFF_{NAME}_TASK_QUEUE_URL ("memory://" = in process).
# [[task_queue]]
# name = "default"
# redis = "default"               # or url = "redis://other:6379"
# max_concurrent_tasks = 8        # default: CPUs x 4; 0 = this process only schedules
# max_retries = 3                 # after timeouts / lost workers, then the dead-letter list
# lease_ms = 3000                 # a worker silent this long is presumed dead
# poll_interval_ms = 50           # idle workers look for tasks from other processes
# shutdown_timeout_ms = 10000     # running tasks may finish this long on shutdown

# --- GraphQL (the `graphql` feature) ----------------------------------------------
# One entry per schema, served on every HTTP server of the program (next to the WSGI/ASGI
# app). Python: puff.graphql.global_graphql.query(...) / named_graphql("audit").
# Resolvers' SQL runs on the `database` [[postgres]] pool, one statement per layer.
# [[graphql]]
# name = "default"
# schema = "my_python_gql_app.Schema"  # required: the schema class, module.Class
# url = "/graphql"                     # POST/GET endpoint; "" serves none
# subscriptions_url = "/subscriptions" # websocket (graphql-transport-ws, graphql-ws); default: none
# playground_url = "/playground"       # GraphQL Playground page; default: none
# database = "default"                 # the [[postgres]] pool SQL results run on
# max_depth = 15                       # deepest selection nesting
# max_fields = 2000                    # most fields once fragments are expanded
# max_tokens = 20000                   # most lexical tokens in a query document
# introspection = true                 # answer __schema / __type queries
# enable = true                        # false drops the entry

# Named clients for `puff.http` (a `default` client always exists).
[[http_client]]
name = "internal"
http2_prior_knowledge = true      # h2c to other Puff instances
user_agent = "my-app/1.0"
max_idle_connections = 32         # per host
timeout_ms = 30000                # whole request; per call: timeout_ms=...
connect_timeout_ms = 10000
pool_idle_timeout_ms = 90000

# Each entry becomes a `puff-cli <command_name>` subcommand calling a Python function.
[[commands]]
command_name = "hello_world"
function = "app.hello_world"
about = "Say hello from a greenlet"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimeConfig, ConfigError> {
        RuntimeConfig::from_toml_str(text, "puff.toml", Path::new("/base"))
    }

    #[test]
    fn example_config_parses() {
        let config = parse(EXAMPLE_CONFIG).unwrap();
        assert_eq!(config.wsgi(), Some("app.app"));
        assert_eq!(config.commands()[0].command_name, "hello_world");
        assert_eq!(config.python_paths, vec![PathBuf::from("/base/.")]);
        #[cfg(feature = "http")]
        assert!(config.http.cors.is_some());
    }

    #[test]
    fn unknown_keys_name_file_and_key() {
        let e = parse("wsgi = \"a.b\"\nwsgii = 1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("wsgii"));
        assert!(e.to_string().starts_with("puff.toml: key `wsgii`"), "{e}");
        let e =
            parse("[[commands]]\ncommand_name = \"x\"\nfunction = \"a.b\"\nextra = 1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("commands[0]"));
        assert!(e.message.contains("extra"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = parse("wsgi = 5").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("wsgi"));
        #[cfg(feature = "http")]
        {
            let e = parse("bind = 5").unwrap_err();
            assert_eq!(e.key.as_deref(), Some("bind"), "{e}");
            let e = parse("bind = \"nope\"").unwrap_err();
            assert_eq!(e.key.as_deref(), Some("bind"), "{e}");
            let e = parse("[cors]\nallow_originz = []").unwrap_err();
            assert_eq!(e.key.as_deref(), Some("cors"), "{e}");
        }
    }

    #[cfg(feature = "http")]
    #[test]
    fn static_folders_are_relative_to_the_file_and_must_exist() {
        let tmp = std::env::temp_dir();
        let text = format!("[static]\n\"/media/\" = {:?}", tmp.display().to_string());
        let config = parse(&text).unwrap();
        assert_eq!(
            config.http.static_mappings(),
            vec![("/media/".to_owned(), tmp)]
        );
        // Relative: joined to the file's folder (/base), which has no such folder.
        let e = parse("[static]\n\"/s/\" = \"assets\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("static"), "{e}");
        assert!(e.message.contains("/base/assets"), "{e}");
        let e = parse("[static]\n\"nope\" = \"/tmp\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("static"), "{e}");
    }

    #[cfg(feature = "django")]
    #[test]
    fn django_is_a_flag() {
        assert!(parse("django = true").unwrap().django);
        assert!(!parse("").unwrap().django);
        let e = parse("django = \"yes\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("django"), "{e}");
    }

    #[test]
    fn asgi_implies_asyncio_and_excludes_wsgi() {
        let config = parse("asgi = \"main:app\"").unwrap();
        assert_eq!(config.asgi(), Some("main:app"));
        assert!(config.asyncio);
        assert!(!parse("wsgi = \"a.b\"").unwrap().asyncio);
        let e = parse("wsgi = \"a.b\"\nasgi = \"c.d\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("asgi"), "{e}");
        let e = parse("asgi = \"nodot\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("asgi"), "{e}");
        let e = parse("asyncio = \"yes\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("asyncio"), "{e}");
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn feature_keys_say_which_feature() {
        let e = parse("[[postgres]]\nname = \"default\"").unwrap_err();
        assert!(e.message.contains("`postgres` feature"), "{e}");
    }

    #[cfg(feature = "postgres")]
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
        assert!(e.message.contains("pool_sise"), "{e}");
        let e = parse("[[postgres]]\n[[postgres]]").unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
        let e = parse("[[postgres]]\nurl = \"postgres://u:hunter2@h:notaport/db\"").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let rc = RuntimeConfig::default().set_postgres(true);
        assert_eq!(rc.postgres_configs()[0].name, "default");
        assert!(rc.set_postgres(false).postgres_configs().is_empty());
    }

    #[cfg(feature = "tasks")]
    #[test]
    fn gc_threshold_key() {
        assert_eq!(
            parse("").unwrap().gc_threshold(),
            Some(DEFAULT_GC_THRESHOLD)
        );
        assert_eq!(
            parse("gc_threshold = 5000").unwrap().gc_threshold(),
            Some(5000)
        );
        assert_eq!(parse("gc_threshold = 0").unwrap().gc_threshold(), None);
        let e = parse("gc_threshold = -1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("gc_threshold"), "{e}");
    }

    #[test]
    fn tokio_batch_scheduling_key() {
        assert!(parse("").unwrap().tokio_batch_scheduling());
        assert!(
            !parse("tokio_batch_scheduling = false")
                .unwrap()
                .tokio_batch_scheduling()
        );
        let e = parse("tokio_batch_scheduling = 1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tokio_batch_scheduling"), "{e}");
    }

    #[cfg(feature = "tasks")]
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

    #[cfg(feature = "pubsub")]
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
}
