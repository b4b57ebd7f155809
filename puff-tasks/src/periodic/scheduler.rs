//! The scheduler of one queue's periodic tasks in this process: one Tokio task per
//! schedule that sleeps until the next tick, then claims the due ticks in the backend
//! (the first process to claim a tick enqueues its task; the others learn the new last
//! tick and go back to sleep), and the ticks fired / missed metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use puff_greenlet::metrics::CounterFamily;
use puff_redis::RedisError;
use tokio::sync::Notify;

use super::claim::{self, Claim, MemoryTicks};
use super::{Periodic, tick_task_id};
use crate::queue::TaskQueue;
use crate::task::{NewTask, now_ms};

static FIRED: CounterFamily = CounterFamily::new(
    "puff_task_periodic_fired_total",
    "Ticks of periodic tasks this process enqueued (each tick is enqueued by one process), \
     by queue and schedule.",
    &["queue", "schedule"],
);
static MISSED: CounterFamily = CounterFamily::new(
    "puff_task_periodic_missed_total",
    "Ticks of periodic tasks dropped by catch_up after no process fired them in time, by \
     queue and schedule (counted by the process that noticed).",
    &["queue", "schedule"],
);

/// After a backend error, the scheduler tries again this soon.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The schedules running for one queue in this process.
#[derive(Default)]
pub(crate) struct Registry {
    running: Mutex<HashMap<String, Arc<Stop>>>,
    pub(crate) memory_ticks: MemoryTicks,
}

#[derive(Default)]
struct Stop {
    stopped: AtomicBool,
    notify: Notify,
}

impl Stop {
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

impl Registry {
    /// Stop every schedule (the queue is shutting down).
    pub(crate) fn stop_all(&self) {
        for (_, stop) in lock(&self.running).drain() {
            stop.stop();
        }
    }

    /// Names of the schedules running here.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.running).keys().cloned().collect();
        names.sort();
        names
    }
}

impl TaskQueue {
    /// Run `schedule` in this process (replacing a schedule of the same name). Every
    /// process with the same schedule shares its ticks: each runs once.
    pub fn add_periodic(&self, schedule: Periodic) -> Result<(), RedisError> {
        self.check_shared()?;
        let stop = Arc::new(Stop::default());
        if let Some(old) =
            lock(&self.periodic().running).insert(schedule.name.clone(), stop.clone())
        {
            old.stop();
        }
        tracing::debug!(
            "task queue `{}`: periodic `{}` runs {}",
            self.name(),
            schedule.name,
            schedule.function
        );
        let queue = self.clone();
        self.tokio()
            .spawn(async move { queue.run_schedule(schedule, stop).await });
        Ok(())
    }

    /// Stop running schedule `name` in this process; false if it does not run here.
    pub fn remove_periodic(&self, name: &str) -> bool {
        match lock(&self.periodic().running).remove(name) {
            Some(stop) => {
                stop.stop();
                true
            }
            None => false,
        }
    }

    async fn run_schedule(self, schedule: Periodic, stop: Arc<Stop>) {
        let (fired, missed) = (
            FIRED.with(&[self.name(), &schedule.name]),
            MISSED.with(&[self.name(), &schedule.name]),
        );
        // The stored last tick as this process last saw it (`None` until read).
        let mut known: Option<Option<u64>> = None;
        let mut failing = false;
        loop {
            if stop.stopped.load(Ordering::Acquire) || self.is_stopping() {
                return;
            }
            let now = now_ms();
            let pause = match self.fire_due(&schedule, &mut known, now).await {
                Ok((enqueued, dropped)) => {
                    if failing {
                        failing = false;
                        tracing::info!(
                            "task queue `{}`: periodic `{}` reaches the backend again",
                            self.name(),
                            schedule.name
                        );
                    }
                    fired.inc_by(enqueued);
                    missed.inc_by(dropped);
                    if dropped > 0 {
                        tracing::info!(
                            "task queue `{}`: periodic `{}` missed {dropped} tick(s) \
                             (catch_up = {:?})",
                            self.name(),
                            schedule.name,
                            schedule.catch_up
                        );
                    }
                    let after = now.max(known.flatten().unwrap_or(0));
                    let Some(next) = schedule.timing.next_after(after) else {
                        tracing::info!(
                            "task queue `{}`: periodic `{}` has no further tick",
                            self.name(),
                            schedule.name
                        );
                        return;
                    };
                    Duration::from_millis(next.saturating_sub(now_ms()))
                }
                Err(e) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(
                            "task queue `{}`: periodic `{}`: {e}; retrying every {} ms",
                            self.name(),
                            schedule.name,
                            RETRY_AFTER.as_millis()
                        );
                    }
                    known = None;
                    RETRY_AFTER
                }
            };
            tokio::select! {
                _ = stop.notify.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Claim the ticks due at `now`; (tasks enqueued, ticks missed).
    async fn fire_due(
        &self,
        schedule: &Periodic,
        known: &mut Option<Option<u64>>,
        now: u64,
    ) -> Result<(u64, u64), RedisError> {
        let store = self.store();
        let ticks = &self.periodic().memory_ticks;
        // A lost race tells the winner's tick; a few rounds settle any contention.
        for _ in 0..8 {
            let last = match *known {
                Some(last) => last,
                None => claim::last_tick(store, ticks, &schedule.name).await?,
            };
            *known = Some(last);
            let plan = schedule.plan(last, now);
            let Some(newest) = plan.newest.filter(|n| Some(*n) > last) else {
                return Ok((0, 0));
            };
            let tasks: Vec<NewTask> = plan
                .run
                .iter()
                .map(|&tick| NewTask {
                    id: tick_task_id(self.name(), &schedule.name, tick),
                    function: schedule.function.clone(),
                    payload: schedule.payload.clone(),
                    scheduled_time_unix_ms: tick,
                    timeout_ms: schedule.timeout_ms,
                    keep_results_for_ms: schedule.keep_results_for_ms,
                    max_retries: schedule.max_retries.unwrap_or(self.config().max_retries),
                    traceparent: None,
                })
                .collect();
            match claim::claim(store, ticks, &schedule.name, last, newest, tasks).await? {
                Claim::Won(enqueued) => {
                    *known = Some(Some(newest));
                    if enqueued > 0 {
                        (0..enqueued).for_each(|_| crate::metrics::scheduled(self.name()));
                        self.wake_worker();
                    }
                    return Ok((enqueued, plan.missed));
                }
                Claim::Lost(stored) => *known = Some(stored),
            }
        }
        Ok((0, 0))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
