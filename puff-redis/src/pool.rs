//! [`RedisPool`]: one named mobc pool of multiplexed Redis connections, and the Rust command
//! API on it.

use puff_greenlet::PoolStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mobc::async_trait;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, Value};

use crate::config::RedisConfig;
use crate::error::RedisError;
use puff_greenlet::redact_url;

/// A pooled multiplexed connection. It implements [`ConnectionLike`], so every redis-rs
/// command (`redis::AsyncCommands`) works on it; an I/O error marks it broken and the pool
/// drops it instead of handing it out again.
pub struct RedisConnection {
    conn: MultiplexedConnection,
    broken: bool,
    url: Arc<str>,
}

/// A connection checked out of a pool; returned to the pool when dropped.
pub type PooledConnection = mobc::Connection<RedisManager>;

impl RedisConnection {
    /// Run one command and return its reply; a server error reply is an `Err`.
    pub async fn query(&mut self, cmd: &Cmd) -> Result<Value, RedisError> {
        let reply = self.conn.req_packed_command(cmd).await;
        self.reply(reply)
    }

    /// Send a pipeline in one round trip and return one result per command. With
    /// `pipe.atomic()` the commands run in MULTI/EXEC; `Ok(None)` means a WATCHed key
    /// changed and the transaction did not run.
    pub async fn pipeline(
        &mut self,
        pipe: &Pipeline,
        commands: usize,
        atomic: bool,
    ) -> Result<Option<Vec<Result<Value, RedisError>>>, RedisError> {
        if commands == 0 {
            return Ok(Some(Vec::new()));
        }
        let values = if atomic {
            // MULTI's OK, one QUEUED (or the error of a rejected command) per command, then
            // EXEC's reply; all kept, so a rejected command can be named.
            let sent = self.conn.req_packed_commands(pipe, 0, commands + 2).await;
            self.note(&sent);
            let mut replies = sent.map_err(|e| RedisError::from_redis(&e, &self.url))?;
            let exec = replies.pop();
            match exec {
                Some(Value::Nil) => return Ok(None),
                Some(Value::Array(items)) => items,
                Some(Value::ServerError(e)) => {
                    let abort = RedisError::from_server(e);
                    // EXECABORT: each rejected command gets its own error, the others
                    // (which did not run) the abort.
                    let queued: Vec<Value> = replies.into_iter().skip(1).collect();
                    if queued.iter().any(|v| matches!(v, Value::ServerError(_))) {
                        return Ok(Some(
                            queued
                                .into_iter()
                                .map(|v| match v {
                                    Value::ServerError(e) => Err(RedisError::from_server(e)),
                                    _ => Err(abort.clone()),
                                })
                                .collect(),
                        ));
                    }
                    return Err(abort);
                }
                other => {
                    return Err(RedisError::Data(format!(
                        "unexpected reply to EXEC: {other:?}"
                    )));
                }
            }
        } else {
            let sent = self.conn.req_packed_commands(pipe, 0, commands).await;
            self.note(&sent);
            sent.map_err(|e| RedisError::from_redis(&e, &self.url))?
        };
        Ok(Some(
            values
                .into_iter()
                .map(|v| match v {
                    Value::ServerError(e) => Err(RedisError::from_server(e)),
                    v => Ok(v),
                })
                .collect(),
        ))
    }

    /// The raw multiplexed connection (clones share it).
    pub fn multiplexed(&self) -> &MultiplexedConnection {
        &self.conn
    }

    fn note<T>(&mut self, result: &redis::RedisResult<T>) {
        if let Err(e) = result
            && crate::error::breaks_connection(e)
        {
            self.broken = true;
        }
    }

    fn reply(&mut self, reply: redis::RedisResult<Value>) -> Result<Value, RedisError> {
        self.note(&reply);
        match reply {
            Ok(Value::ServerError(e)) => Err(RedisError::from_server(e)),
            Ok(v) => Ok(v),
            Err(e) => Err(RedisError::from_redis(&e, &self.url)),
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let reply = self.conn.req_packed_command(cmd).await;
            self.note(&reply);
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let reply = self.conn.req_packed_commands(cmd, offset, count).await;
            self.note(&reply);
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// Opens connections for a pool (mobc manager).
pub struct RedisManager {
    client: redis::Client,
    connection: AsyncConnectionConfig,
    url: Arc<str>,
}

#[async_trait]
impl mobc::Manager for RedisManager {
    type Connection = RedisConnection;
    type Error = RedisError;

    async fn connect(&self) -> Result<RedisConnection, RedisError> {
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.connection)
            .await
            .map_err(|e| RedisError::from_redis(&e, &self.url))?;
        Ok(RedisConnection {
            conn,
            broken: false,
            url: self.url.clone(),
        })
    }

    async fn check(&self, mut conn: RedisConnection) -> Result<RedisConnection, RedisError> {
        conn.query(&redis::cmd("PING")).await?;
        Ok(conn)
    }

    fn validate(&self, conn: &mut RedisConnection) -> bool {
        !conn.broken
    }
}

/// A named pool of Redis connections.
pub struct RedisPool {
    config: RedisConfig,
    url: Arc<str>,
    client: redis::Client,
    connection: AsyncConnectionConfig,
    pool: mobc::Pool<RedisManager>,
    /// Idle connections for blocking commands ([`RedisPool::query_blocking`]), kept apart
    /// from `pool`: a waiter holds one for as long as it waits.
    dedicated: Mutex<Vec<RedisConnection>>,
}

/// A connection idle longer than this is PINGed before reuse, so a restarted server costs
/// no failed command once the pool has been quiet for a moment.
const HEALTH_CHECK_AFTER: Duration = Duration::from_secs(1);

impl RedisPool {
    /// Build the pool; it connects lazily, on first use.
    pub fn new(config: RedisConfig) -> Result<RedisPool, RedisError> {
        config
            .validate()
            .map_err(|e| RedisError::Config(e.to_string()))?;
        let url: Arc<str> = redact_url(&config.url).into();
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| RedisError::Config(format!("{url} is not a valid Redis URL: {e}")))?;
        let mut connection =
            AsyncConnectionConfig::new().set_connection_timeout(config.connect_timeout());
        if let Some(timeout) = config.command_timeout() {
            connection = connection.set_response_timeout(timeout);
        }
        let manager = RedisManager {
            client: client.clone(),
            connection: connection.clone(),
            url: url.clone(),
        };
        let pool = mobc::Pool::builder()
            .max_open(u64::from(config.pool_size))
            .max_idle(u64::from(config.pool_size))
            .get_timeout(None)
            .health_check_interval(Some(HEALTH_CHECK_AFTER))
            .build(manager);
        Ok(RedisPool {
            config,
            url,
            client,
            connection,
            pool,
            dedicated: Mutex::new(Vec::new()),
        })
    }

    /// The configured pool named `name`, from the runtime's registry; `None` before the
    /// runtime started or for an unknown name.
    pub fn named(name: &str) -> Option<Arc<RedisPool>> {
        puff_greenlet::PythonRuntime::global()
            .ok()?
            .resources()
            .get::<RedisPool>(name)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The URL with its password hidden.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    /// Check a connection out, waiting up to the acquire timeout.
    pub async fn get(&self) -> Result<PooledConnection, RedisError> {
        // Tokio's timer rather than mobc's `get_timeout`, whose timer thread costs ~10% of
        // the CPU of a busy pool.
        let got = puff_greenlet::metrics::pool::checkout(
            "redis",
            &self.config.name,
            tokio::time::timeout(self.config.acquire_timeout(), self.pool.get()),
        )
        .await
        .unwrap_or(Err(mobc::Error::Timeout));
        match got {
            Ok(conn) => Ok(conn),
            Err(mobc::Error::Inner(e)) => Err(e),
            Err(mobc::Error::Timeout) => {
                // mobc also reports a connect attempt that hangs as a timeout.
                let status = self.status().await;
                Err(if status.in_use < status.max_open {
                    RedisError::Connection(format!(
                        "Redis at {} did not accept a connection within {} ms (pool `{}`)",
                        self.url, self.config.acquire_timeout_ms, self.config.name
                    ))
                } else {
                    RedisError::Timeout(format!(
                        "timed out after {} ms waiting for a connection from Redis pool `{}` \
                         (all {} connections busy; raise pool_size or acquire_timeout_ms)",
                        self.config.acquire_timeout_ms, self.config.name, self.config.pool_size
                    ))
                })
            }
            Err(mobc::Error::BadConn) => Err(RedisError::Connection(format!(
                "Redis at {}: bad connection",
                self.url
            ))),
            Err(mobc::Error::PoolClosed) => Err(RedisError::Config(format!(
                "Redis pool `{}` is closed",
                self.config.name
            ))),
        }
    }

    /// Run one command on a pooled connection.
    ///
    /// Like redis-py, a command that fails because a reused connection had died (the
    /// server restarted while it sat idle) is sent again, on the next pooled connection or a
    /// fresh one (at most once per pooled connection).
    pub async fn query(&self, cmd: &Cmd) -> Result<Value, RedisError> {
        let mut span = crate::command_span::command_span(cmd, self.name());
        let mut stale = 0;
        loop {
            let mut conn = self.get().await?;
            let result = conn.query(cmd).await;
            if !self.retry_on_fresh(&result, conn, &mut stale) {
                crate::command_span::note_result(&mut span, &result);
                return result;
            }
        }
    }

    /// Send a pipeline on one pooled connection (retried like [`RedisPool::query`]); see
    /// [`RedisConnection::pipeline`].
    pub async fn pipeline(
        &self,
        pipe: &Pipeline,
        commands: usize,
        atomic: bool,
    ) -> Result<Option<Vec<Result<Value, RedisError>>>, RedisError> {
        let mut span = crate::command_span::pipeline_span(commands, self.name());
        let mut stale = 0;
        loop {
            let mut conn = self.get().await?;
            let result = conn.pipeline(pipe, commands, atomic).await;
            if !self.retry_on_fresh(&result, conn, &mut stale) {
                crate::command_span::note_result(&mut span, &result);
                return result;
            }
        }
    }

    /// Whether a call deserves another try: it failed because the connection, reused
    /// rather than opened for this call, had died (the server restarted while it sat idle).
    /// Takes the connection and drops it (marked broken, so the pool discards it) before
    /// the caller asks for another, which matters for a pool of one. After a restart every
    /// idle connection may be dead, so this allows one try per pooled connection.
    fn retry_on_fresh<T>(
        &self,
        result: &Result<T, RedisError>,
        conn: PooledConnection,
        stale: &mut u32,
    ) -> bool {
        let retry = matches!(result, Err(RedisError::Connection(_)))
            && !conn.is_brand_new()
            && *stale < self.config.pool_size;
        *stale += 1;
        retry
    }

    /// Run a blocking command (BLPOP, BZPOPMIN, XREAD BLOCK, ... see [`is_blocking`]) on a
    /// connection of its own rather than a pooled one, so any number of waiters never hold
    /// the pool's connections hostage. Such connections have no reply timeout (the command
    /// carries its own) and are kept for reuse, up to `pool_size` idle ones.
    pub async fn query_blocking(&self, cmd: &Cmd) -> Result<Value, RedisError> {
        let mut span = crate::command_span::command_span(cmd, self.name());
        loop {
            let (mut conn, reused) = self.dedicated_connection().await?;
            let result = conn.query(cmd).await;
            let retry = reused && matches!(result, Err(RedisError::Connection(_)));
            self.give_back(conn);
            if !retry {
                crate::command_span::note_result(&mut span, &result);
                return result;
            }
        }
    }

    /// [`RedisPool::pipeline`] on a dedicated connection, for a pipeline holding a blocking
    /// command.
    pub async fn pipeline_blocking(
        &self,
        pipe: &Pipeline,
        commands: usize,
        atomic: bool,
    ) -> Result<Option<Vec<Result<Value, RedisError>>>, RedisError> {
        loop {
            let (mut conn, reused) = self.dedicated_connection().await?;
            let result = conn.pipeline(pipe, commands, atomic).await;
            let retry = reused && matches!(result, Err(RedisError::Connection(_)));
            self.give_back(conn);
            if !retry {
                return result;
            }
        }
    }

    /// An idle dedicated connection (`true`: reused, it may have died meanwhile) or a new
    /// one.
    async fn dedicated_connection(&self) -> Result<(RedisConnection, bool), RedisError> {
        let idle = self.dedicated.lock().ok().and_then(|mut idle| idle.pop());
        if let Some(conn) = idle {
            return Ok((conn, true));
        }
        let config =
            AsyncConnectionConfig::new().set_connection_timeout(self.config.connect_timeout());
        let conn = tokio::time::timeout(
            self.config.connect_timeout(),
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| {
            RedisError::Connection(format!(
                "Redis at {} did not accept a connection within {} ms",
                self.url, self.config.connect_timeout_ms
            ))
        })?
        .map_err(|e| RedisError::from_redis(&e, &self.url))?;
        Ok((
            RedisConnection {
                conn,
                broken: false,
                url: self.url.clone(),
            },
            false,
        ))
    }

    fn give_back(&self, conn: RedisConnection) {
        if conn.broken {
            return;
        }
        if let Ok(mut idle) = self.dedicated.lock()
            && idle.len() < self.config.pool_size as usize
        {
            idle.push(conn);
        }
    }

    /// The redis-rs client behind the pool, for connections the pool does not manage
    /// (e.g. a pub/sub subscriber).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Settings every connection of this pool is opened with (timeouts).
    pub fn connection_config(&self) -> &AsyncConnectionConfig {
        &self.connection
    }

    pub async fn status(&self) -> PoolStatus {
        let s = self.pool.state().await;
        PoolStatus {
            max_open: s.max_open,
            connections: s.connections,
            in_use: s.in_use,
            idle: s.idle,
        }
    }

    /// Try one connection in the background and warn (with the redacted URL) if the server
    /// cannot be reached; the pool keeps working once the server is up.
    pub fn check_in_background(self: &Arc<Self>, tokio: &tokio::runtime::Handle) {
        let pool = self.clone();
        tokio.spawn(async move {
            match pool.query(&redis::cmd("PING")).await {
                Ok(_) => tracing::debug!("Redis pool `{}` connected to {}", pool.name(), pool.url),
                Err(e) => tracing::warn!(
                    "Redis pool `{}` cannot reach {} yet ({e}); commands will fail with \
                     puff.redis.ConnectionError until it is up",
                    pool.name(),
                    pool.url
                ),
            }
        });
    }
}

/// Whether `cmd` may block on the server until data arrives: the list and sorted-set
/// blocking pops and moves (Redis 8's BZMOVE and BLMOVEM too), and XREAD/XREADGROUP with a BLOCK option. Such commands run on
/// a dedicated connection ([`RedisPool::query_blocking`]).
pub fn is_blocking(cmd: &Cmd) -> bool {
    let mut args = cmd.args_iter();
    let Some(redis::Arg::Simple(name)) = args.next() else {
        return false;
    };
    // Most commands are ruled out by their first letter (GET, SET, ... stay cheap).
    match name.first() {
        Some(b'B' | b'b') => [
            &b"BLPOP"[..],
            b"BRPOP",
            b"BRPOPLPUSH",
            b"BLMOVE",
            b"BLMPOP",
            b"BZPOPMIN",
            b"BZPOPMAX",
            b"BZMPOP",
            b"BZMOVE",
            b"BLMOVEM",
        ]
        .iter()
        .any(|blocking| name.eq_ignore_ascii_case(blocking)),
        Some(b'X' | b'x')
            if name.eq_ignore_ascii_case(b"XREAD") || name.eq_ignore_ascii_case(b"XREADGROUP") =>
        {
            // Options come before STREAMS; after it only keys and ids.
            args.map_while(|arg| match arg {
                redis::Arg::Simple(a) if !a.eq_ignore_ascii_case(b"STREAMS") => Some(a),
                _ => None,
            })
            .any(|a| a.eq_ignore_ascii_case(b"BLOCK"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_blocking;

    fn cmd(args: &[&str]) -> redis::Cmd {
        let mut cmd = redis::Cmd::new();
        for arg in args {
            cmd.arg(*arg);
        }
        cmd
    }

    #[test]
    fn blocking_commands_are_recognised_by_name_and_block_option() {
        for args in [
            &["BLPOP", "q", "0"][..],
            &["brpop", "q", "1"],
            &["BRPOPLPUSH", "a", "b", "0"],
            &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
            &["BLMPOP", "0", "1", "a", "LEFT"],
            &["BZPOPMIN", "z", "0"],
            &["bzpopmax", "z", "0"],
            &["BZMPOP", "0", "1", "z", "MIN"],
            &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
            &[
                "xreadgroup",
                "GROUP",
                "g",
                "c",
                "COUNT",
                "1",
                "block",
                "5",
                "STREAMS",
                "s",
                ">",
            ],
        ] {
            assert!(is_blocking(&cmd(args)), "{args:?}");
        }
        for args in [
            &["GET", "k"][..],
            &["SET", "k", "v"],
            &["BITCOUNT", "k"],
            &["LPOP", "q"],
            &["XREAD", "STREAMS", "BLOCK", "0"], // a stream named BLOCK
            &["XREAD", "COUNT", "1", "STREAMS", "s", "0"],
            &["WAIT", "1", "100"],
        ] {
            assert!(!is_blocking(&cmd(args)), "{args:?}");
        }
    }
}
