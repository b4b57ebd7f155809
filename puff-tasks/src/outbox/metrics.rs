//! The outbox's metrics, per queue: how long committed rows waited for a relay (the
//! outbox lag), the rows relayed by this process, and the rows waiting (sampled).

use puff_greenlet::metrics::{CounterFamily, GaugeFamily, HistogramFamily};

/// From a millisecond (a relay woken by NOTIFY) to minutes (no relay running): 14 bounds,
/// the most a histogram keeps (more are cut off).
const LAG_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0,
];

static LAG: HistogramFamily = HistogramFamily::new(
    "puff_task_outbox_lag_seconds",
    "Time from a task's outbox row being written to its relay into the queue, by the \
     database's clock (includes the rest of the enqueuing transaction), by queue.",
    &["queue"],
    LAG_BUCKETS,
);
static RELAYED: CounterFamily = CounterFamily::new(
    "puff_task_outbox_relayed_total",
    "Outbox rows this process moved into the queue, by queue.",
    &["queue"],
);
static WAITING: GaugeFamily = GaugeFamily::new(
    "puff_task_outbox_waiting",
    "Committed outbox rows waiting for a relay (sampled by each relay about once a second: \
     aggregate with max), by queue.",
    &["queue"],
);

/// One row moved into the queue after waiting `lag_seconds`.
pub(crate) fn relayed(queue: &str, lag_seconds: f64) {
    RELAYED.with(&[queue]).inc();
    LAG.with(&[queue]).observe(lag_seconds.max(0.0));
}

pub(crate) fn waiting(queue: &str, rows: i64) {
    WAITING.with(&[queue]).set(rows);
}
