//! The relay: a Tokio task per queue with an outbox, in each process (unless
//! `outbox_relay = false`). It waits for the table to exist, then holds one dedicated
//! connection that LISTENs on the outbox channel and, on a notification for its queue or
//! every `poll_interval_ms`, moves committed rows into the queue in batches: in one
//! transaction it deletes a batch `FOR UPDATE SKIP LOCKED`, schedules each task (the
//! queue ignores ids it already has) and commits. An outage (Postgres or the queue's
//! backend) is logged once; the relay reconnects until it is over.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use puff_postgres::tokio_postgres::{self, AsyncMessage, NoTls};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{Outbox, metrics, sql};
use crate::task::NewTask;

/// Rows moved per transaction.
const BATCH: i64 = 500;
/// How often a relay looks for the table while nobody has used the outbox yet.
const TABLE_CHECK_EVERY: Duration = Duration::from_secs(5);
/// How often the rows waiting are counted (with metrics on).
const SAMPLE_WAITING_EVERY: Duration = Duration::from_secs(1);
/// Longest pause between reconnection attempts.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `options` column: what `schedule_function` was given besides function and payload.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RowOptions {
    pub scheduled_time_unix_ms: u64,
    pub timeout_ms: u64,
    pub keep_results_for_ms: u64,
    pub max_retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

pub(crate) async fn run(outbox: Arc<Outbox>) {
    let mut failing = false;
    let mut pause = Duration::from_millis(100);
    while !outbox.stopping() {
        let Err(e) = session(&outbox, &mut failing).await else {
            return;
        };
        if !outbox.table_ready() {
            // Nobody has used this outbox yet (the relay only looks for its table): the
            // pool's own check already reports an unreachable server.
            tracing::debug!(
                "task queue `{}`: no outbox table yet: {e}",
                outbox.queue.name()
            );
        } else if !failing {
            failing = true;
            tracing::warn!(
                "task queue `{}`: the outbox relay stopped ({e}); retrying until Postgres \
                 (pool `{}`) and the queue are reachable",
                outbox.queue.name(),
                outbox.pool_name()
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = outbox.wake.notified() => {}
        }
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
    }
}

fn recovered(outbox: &Outbox, failing: &mut bool) {
    if std::mem::take(failing) {
        tracing::info!(
            "task queue `{}`: the outbox relay is back",
            outbox.queue.name()
        );
    }
}

/// Relay until stopped (Ok) or until something fails (Err: reconnect).
async fn session(outbox: &Outbox, failing: &mut bool) -> Result<(), String> {
    while !outbox.table_ready() {
        if outbox.table_exists().await.map_err(|e| e.to_string())? {
            break;
        }
        recovered(outbox, failing);
        tokio::select! {
            _ = tokio::time::sleep(TABLE_CHECK_EVERY) => {}
            _ = outbox.wake.notified() => {}
        }
        if outbox.stopping() {
            return Ok(());
        }
    }
    let (mut client, notified) = listen(outbox).await?;
    let statements = Statements::prepare(&client).await?;
    recovered(outbox, failing);
    let poll = Duration::from_millis(outbox.queue.config().poll_interval_ms);
    let mut sampled_at: Option<tokio::time::Instant> = None;
    // The first pass always looks: rows may have been committed while no relay ran.
    let mut look = true;
    while !outbox.stopping() {
        if !look {
            look = has_rows(&client, &statements, outbox).await?;
        }
        if look {
            while relay_batch(&mut client, &statements, outbox).await? == BATCH {}
        }
        if puff_greenlet::metrics::enabled()
            && sampled_at.is_none_or(|at| at.elapsed() >= SAMPLE_WAITING_EVERY)
        {
            sampled_at = Some(tokio::time::Instant::now());
            let rows = client
                .query_one(&statements.count_waiting, &[&outbox.queue.name()])
                .await
                .map_err(|e| e.to_string())?;
            metrics::waiting(outbox.queue.name(), rows.get::<_, i64>(0));
        }
        look = tokio::select! {
            _ = notified.notified() => true,
            _ = outbox.wake.notified() => true,
            _ = tokio::time::sleep(poll) => false,
        };
        if client.is_closed() {
            return Err("the connection to Postgres was lost".into());
        }
    }
    Ok(())
}

/// A dedicated connection to the outbox pool's server, LISTENing on the outbox channel;
/// the Notify fires on each notification for this queue, and when the connection ends.
async fn listen(outbox: &Outbox) -> Result<(tokio_postgres::Client, Arc<Notify>), String> {
    let url = &outbox.pool.config().url;
    let config: tokio_postgres::Config = url.parse().map_err(|e| {
        format!(
            "{} is not a valid Postgres URL: {e}",
            outbox.pool.redacted_url()
        )
    })?;
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| {
            format!(
                "no connection to {} within 10 s",
                outbox.pool.redacted_url()
            )
        })?;
    let (client, mut connection) =
        connected.map_err(|e| format!("Postgres at {}: {e}", outbox.pool.redacted_url()))?;
    let notified = Arc::new(Notify::new());
    let wake = notified.clone();
    let queue = outbox.queue.name().to_owned();
    tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if n.channel() == sql::CHANNEL && n.payload() == queue {
                        wake.notify_one();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    wake.notify_one();
                    return;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", sql::CHANNEL))
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, notified))
}

/// The relay's statements, prepared once per connection (each poll is then one round
/// trip).
struct Statements {
    has_rows: tokio_postgres::Statement,
    take_batch: tokio_postgres::Statement,
    count_waiting: tokio_postgres::Statement,
}

impl Statements {
    async fn prepare(client: &tokio_postgres::Client) -> Result<Statements, String> {
        let prepare = |sql| async move { client.prepare(sql).await.map_err(|e| e.to_string()) };
        Ok(Statements {
            has_rows: prepare(sql::HAS_ROWS).await?,
            take_batch: prepare(sql::TAKE_BATCH).await?,
            count_waiting: prepare(sql::COUNT_WAITING).await?,
        })
    }
}

/// Whether any row of this queue waits (a cheap look before a relay transaction).
async fn has_rows(
    client: &tokio_postgres::Client,
    statements: &Statements,
    outbox: &Outbox,
) -> Result<bool, String> {
    let row = client
        .query_one(&statements.has_rows, &[&outbox.queue.name()])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get::<_, bool>(0))
}

/// Move up to [`BATCH`] rows into the queue in one transaction; the number moved.
async fn relay_batch(
    client: &mut tokio_postgres::Client,
    statements: &Statements,
    outbox: &Outbox,
) -> Result<i64, String> {
    let queue = &outbox.queue;
    let transaction = client.transaction().await.map_err(|e| e.to_string())?;
    let mut rows = transaction
        .query(&statements.take_batch, &[&queue.name(), &BATCH])
        .await
        .map_err(|e| e.to_string())?;
    rows.sort_by_key(|row| row.get::<_, i64>(0));
    let mut lags = Vec::with_capacity(rows.len());
    // All at once: the queue's backend pipelines them (one Redis round trip per batch,
    // not per task). A failure drops (aborts) the rest and rolls the batch back.
    let mut scheduling = tokio::task::JoinSet::new();
    for row in &rows {
        let task_id: String = row.get(1);
        let options: RowOptions = serde_json::from_str(row.get::<_, &str>(4))
            .map_err(|e| format!("outbox row of task {task_id} has unreadable options: {e}"))?;
        let task = NewTask {
            id: task_id,
            function: row.get(2),
            payload: row.get(3),
            scheduled_time_unix_ms: options.scheduled_time_unix_ms,
            timeout_ms: options.timeout_ms.max(1),
            keep_results_for_ms: options.keep_results_for_ms.max(1),
            max_retries: options.max_retries,
            traceparent: options.traceparent,
        };
        let queue = queue.clone();
        scheduling.spawn(async move { queue.schedule_once(task).await });
        lags.push(row.get::<_, f64>(5));
    }
    while let Some(scheduled) = scheduling.join_next().await {
        scheduled
            .map_err(|e| format!("scheduling a task stopped: {e}"))?
            .map_err(|e| e.to_string())?;
    }
    transaction.commit().await.map_err(|e| e.to_string())?;
    for lag in lags {
        metrics::relayed(queue.name(), lag);
    }
    Ok(rows.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_options_round_trip() {
        let options = RowOptions {
            scheduled_time_unix_ms: 5,
            timeout_ms: 6,
            keep_results_for_ms: 7,
            max_retries: 1,
            traceparent: None,
        };
        let text = serde_json::to_string(&options).unwrap();
        assert!(!text.contains("traceparent"));
        assert_eq!(serde_json::from_str::<RowOptions>(&text).unwrap(), options);
    }
}
