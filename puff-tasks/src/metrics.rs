//! The task queues' metrics, per queue: tasks waiting (the backend's count, sampled),
//! tasks scheduled by this process, tasks running in
//! it, runs finished by outcome and their duration (by function: the set of task
//! functions is bounded by the code), and the tasks the reaper retried or dead-lettered.

use std::time::Duration;

use puff_greenlet::metrics::{
    Counter, CounterFamily, DURATION_BUCKETS, Gauge, GaugeFamily, Histogram, HistogramFamily,
};

static SCHEDULED: CounterFamily = CounterFamily::new(
    "puff_task_scheduled_total",
    "Tasks this process scheduled, by queue.",
    &["queue"],
);
static QUEUED: GaugeFamily = GaugeFamily::new(
    "puff_task_queued",
    "Tasks waiting in the queue (the backend's count, sampled by each worker about once a \
     second: every worker reports the same number, aggregate with max).",
    &["queue"],
);
static RUNNING: GaugeFamily = GaugeFamily::new(
    "puff_task_running",
    "Tasks running in this process, by queue.",
    &["queue"],
);
static FINISHED: CounterFamily = CounterFamily::new(
    "puff_task_runs_total",
    "Task runs that finished in this process, by queue, function and outcome (ok, error).",
    &["queue", "function", "outcome"],
);
static DURATION: HistogramFamily = HistogramFamily::new(
    "puff_task_duration_seconds",
    "How long a task's function ran (awaits included), by queue and function.",
    &["queue", "function"],
    DURATION_BUCKETS,
);
static RETRIED: CounterFamily = CounterFamily::new(
    "puff_task_retried_total",
    "Tasks put back in the queue after a timeout or a lost worker, by queue.",
    &["queue"],
);
static DEAD_LETTERED: CounterFamily = CounterFamily::new(
    "puff_task_dead_lettered_total",
    "Tasks that ran out of retries, by queue.",
    &["queue"],
);

pub(crate) fn scheduled(queue: &str) {
    SCHEDULED.with(&[queue]).inc();
}

/// The backend's count of waiting tasks, as last sampled.
pub(crate) fn queued(queue: &str, count: usize) {
    QUEUED
        .with(&[queue])
        .set(i64::try_from(count).unwrap_or(i64::MAX));
}

/// Counts what one pass of the reaper did.
pub(crate) fn reaped(queue: &str, reaped: Reaped) {
    if reaped.retried > 0 {
        RETRIED.with(&[queue]).inc_by(reaped.retried);
    }
    if reaped.dead_lettered > 0 {
        DEAD_LETTERED.with(&[queue]).inc_by(reaped.dead_lettered);
    }
}

/// What the reaper did to tasks whose time ran out or whose worker was lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reaped {
    pub retried: u64,
    pub dead_lettered: u64,
}

impl Reaped {
    pub(crate) fn total(self) -> u64 {
        self.retried + self.dead_lettered
    }
}

/// One task run's series, looked up when it is claimed (nothing to allocate later).
pub(crate) struct RunMetrics {
    running: Gauge,
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

impl RunMetrics {
    /// Counts the run as running (until [`RunMetrics::finished`]).
    pub(crate) fn claimed(queue: &str, function: &str) -> RunMetrics {
        let running = RUNNING.with(&[queue]);
        running.inc();
        RunMetrics {
            running,
            ok: FINISHED.with(&[queue, function, "ok"]),
            error: FINISHED.with(&[queue, function, "error"]),
            duration: DURATION.with(&[queue, function]),
        }
    }

    /// The run ended `ok` or not, its function having run for `took` (`None`: it never
    /// started, or metrics are off).
    pub(crate) fn finished(self, ok: bool, took: Option<Duration>) {
        if let Some(took) = took {
            self.duration.observe_duration(took);
        }
        if ok { self.ok } else { self.error }.inc();
        self.running.dec();
    }
}
