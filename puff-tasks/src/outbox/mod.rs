//! The transactional outbox of a queue (issue 22): `schedule_function(transaction=conn)`
//! writes the task as a row of `puff_task_outbox` with the caller's own connection, inside
//! its open transaction, plus a `NOTIFY` that Postgres delivers only if that transaction
//! commits; a relay in each Puff process ([`relay`]) moves committed rows into the queue.
//!
//! Why it is built this way:
//! - The row is written by the caller's connection, so it commits or rolls back with the
//!   caller's own data: a rolled-back task never exists, a committed one is durable in
//!   Postgres before anything else happens. The task id is chosen up front (and returned),
//!   so the queue knows the task by the same id the caller holds.
//! - The relay takes rows with `DELETE ... FOR UPDATE SKIP LOCKED` in one transaction,
//!   schedules them, then commits. A relay killed before its commit leaves the rows
//!   (Postgres rolls its transaction back) for any other relay; several relays never take
//!   the same row at once. What remains is a task scheduled by a relay that died before
//!   its commit and then scheduled again: the queue's schedule is idempotent on the task
//!   id (an id queued, running or with a stored result is not scheduled again), so it
//!   still runs once.
//! - NOTIFY wakes relays at once; every `poll_interval_ms` they also look, which covers a
//!   lost notification (a relay reconnecting) and rows left by a crash.
//! - The table is created on first use, from this process's outbox pool (not from the
//!   caller's transaction, where DDL would hold locks until it commits), under an advisory
//!   lock so concurrent first uses do not race; [`sql::MIGRATION`] is the same DDL for
//!   users who manage their schema themselves.

mod metrics;
pub(crate) mod python;
mod relay;
pub(crate) mod sql;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use puff_postgres::{PgError, PostgresPool};
use tokio::sync::Notify;

use crate::config::TaskQueueConfig;
use crate::queue::TaskQueue;

/// One queue's outbox: the pool whose database holds the table, and the relay's state.
pub(crate) struct Outbox {
    queue: TaskQueue,
    pool: Arc<PostgresPool>,
    /// Set once the table is known to exist (it is never dropped by Puff).
    table_ready: AtomicBool,
    /// Wakes this process's relay: the table was just created here, or stop.
    wake: Notify,
    stopping: AtomicBool,
    /// Held while this process checks for (and creates) the table.
    creating: tokio::sync::Mutex<()>,
}

impl Outbox {
    pub(crate) fn new(queue: TaskQueue, pool: Arc<PostgresPool>) -> Outbox {
        Outbox {
            queue,
            pool,
            table_ready: AtomicBool::new(false),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn queue(&self) -> &TaskQueue {
        &self.queue
    }

    pub(crate) fn pool_name(&self) -> &str {
        self.pool.name()
    }

    fn table_ready(&self) -> bool {
        self.table_ready.load(Ordering::Acquire)
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// True when the outbox table exists in the pool's database.
    async fn table_exists(&self) -> Result<bool, PgError> {
        let exists = table_found(&self.pool.query(sql::TABLE_EXISTS, &[]).await?);
        if exists {
            self.table_ready.store(true, Ordering::Release);
        }
        Ok(exists)
    }

    /// Create the outbox table unless it exists (first use), one session at a time.
    pub(crate) async fn ensure_table(&self) -> Result<(), PgError> {
        if self.table_ready() {
            return Ok(());
        }
        // Greenlets of this process that enqueue at once wait for the first one.
        let _one_at_a_time = self.creating.lock().await;
        if self.table_ready() || self.table_exists().await? {
            return Ok(());
        }
        // Other sessions wait on the advisory lock; the one that gets it first creates
        // the table, the others find it.
        let created = self
            .pool
            .transaction(|client| {
                Box::pin(async move {
                    client.batch_execute(sql::CREATE_LOCK).await?;
                    if table_found(&client.query(sql::TABLE_EXISTS, &[]).await?) {
                        return Ok(false);
                    }
                    client.batch_execute(sql::MIGRATION).await?;
                    Ok(true)
                })
            })
            .await?;
        if created {
            tracing::info!(
                "task queue `{}`: created the outbox table {} in Postgres pool `{}`",
                self.queue.name(),
                sql::TABLE,
                self.pool.name()
            );
        }
        self.table_ready.store(true, Ordering::Release);
        self.wake.notify_one();
        Ok(())
    }

    /// Run the relay on `tokio` until [`Outbox::stop`].
    pub(crate) fn start_relay(self: &Arc<Self>, tokio: &tokio::runtime::Handle) {
        tokio.spawn(relay::run(self.clone()));
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// The answer of [`sql::TABLE_EXISTS`].
fn table_found(result: &puff_postgres::QueryResult) -> bool {
    matches!(
        result.rows.first().and_then(|row| row.first()),
        Some(puff_postgres::Value::Bool(true))
    )
}

/// Give `queue` its outbox when it has one (registered under the queue's name) and start
/// its relay in this process unless `outbox_relay = false`.
pub(crate) fn attach(
    queue: &TaskQueue,
    ctx: &puff_greenlet::StartContext<'_>,
) -> Result<(), String> {
    let pools = ctx.resources.names::<PostgresPool>();
    let Some(name) = pool_name(queue.config(), &pools)? else {
        return Ok(());
    };
    let pool = ctx
        .resources
        .get::<PostgresPool>(&name)
        .ok_or_else(|| format!("the Postgres pool `{name}` did not start"))?;
    let outbox = Arc::new(Outbox::new(queue.clone(), pool));
    // An in-process queue refusing use (several workers) would only log failures.
    if queue.config().outbox_relay && queue.check_shared().is_ok() {
        outbox.start_relay(ctx.tokio);
    }
    ctx.resources.insert(queue.name().to_owned(), outbox);
    Ok(())
}

/// The `[[postgres]]` pool holding `config`'s outbox: `outbox_postgres`, else `default`
/// when such a pool is configured; None: the queue has no outbox. `pools` are the
/// configured pools' names.
pub(crate) fn pool_name(
    config: &TaskQueueConfig,
    pools: &[String],
) -> Result<Option<String>, String> {
    match &config.outbox_postgres {
        Some(name) if pools.contains(name) => Ok(Some(name.clone())),
        Some(name) => Err(format!(
            "`outbox_postgres` names the Postgres pool `{name}`, which is not configured \
             (configured: {}); add a [[postgres]] entry with name = \"{name}\"",
            if pools.is_empty() {
                "none".to_owned()
            } else {
                pools.join(", ")
            }
        )),
        None => Ok(pools.iter().find(|p| *p == "default").cloned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_pool_is_named_or_the_default_one() {
        let pools = ["default".to_owned(), "jobs".to_owned()];
        let mut config = TaskQueueConfig::named("q");
        assert_eq!(pool_name(&config, &pools), Ok(Some("default".into())));
        assert_eq!(pool_name(&config, &pools[1..]), Ok(None));
        config.outbox_postgres = Some("jobs".into());
        assert_eq!(pool_name(&config, &pools), Ok(Some("jobs".into())));
        config.outbox_postgres = Some("nope".into());
        let err = pool_name(&config, &pools).unwrap_err();
        assert!(
            err.contains("outbox_postgres") && err.contains("nope"),
            "{err}"
        );
        let parsed: TaskQueueConfig =
            toml::from_str("outbox_postgres = \"jobs\"\noutbox_relay = false").unwrap();
        assert_eq!(parsed.outbox_postgres.as_deref(), Some("jobs"));
        assert!(!parsed.outbox_relay);
        assert!(TaskQueueConfig::named("q").outbox_relay);
    }
}
