//! [`TaskQueue`]: one named queue — its store, the background worker that claims and runs
//! due tasks in this process, the lease and the reaper that retry other workers' lost or
//! timed-out tasks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use puff_greenlet::PythonRuntime;
use puff_greenlet::supervision::worker_count;
use puff_redis::RedisError;
use tokio::sync::{Notify, Semaphore};

use crate::config::TaskQueueConfig;
use crate::memory::MemoryStore;
use crate::metrics::RunMetrics;
use crate::rate_limit::{ClaimBatch, RateLimit, RateLimits};
use crate::redis_store::RedisStore;
use crate::task::{DeadLetter, NewTask, Outcome, new_task_id, now_ms};

/// What [`TaskQueue::schedule`] takes besides the function and payload.
#[derive(Clone, Debug)]
pub struct ScheduleOptions {
    /// Default: now (FIFO). Small values run first; future values delay the task.
    pub scheduled_time_unix_ms: Option<u64>,
    pub timeout_ms: u64,
    pub keep_results_for_ms: u64,
    /// Default: the queue's `max_retries`.
    pub max_retries: Option<u32>,
    /// While a queued or running task of this queue holds the key, scheduling with it
    /// queues nothing and returns that task's id.
    pub unique_key: Option<String>,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            scheduled_time_unix_ms: None,
            timeout_ms: crate::task::DEFAULT_TIMEOUT_MS,
            keep_results_for_ms: crate::task::DEFAULT_KEEP_RESULTS_FOR_MS,
            max_retries: None,
            unique_key: None,
        }
    }
}

pub(crate) enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

/// A cheap handle on a named queue.
#[derive(Clone)]
pub struct TaskQueue {
    shared: Arc<Shared>,
}

struct Shared {
    config: TaskQueueConfig,
    store: Store,
    worker_id: String,
    /// Wakes the claim loop: a task was scheduled here, a slot freed up, or stop.
    wake: Notify,
    slots: Arc<Semaphore>,
    stopping: AtomicBool,
    /// Ids of the tasks this process is running now.
    held: Mutex<HashSet<String>>,
    /// Tasks finished here wake those waiting for their result in this process.
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    tokio: tokio::runtime::Handle,
    /// Set while the backend fails, so the outage is logged once, not on every poll.
    failing: AtomicBool,
    /// Set when in process but one of several workers: the error every call returns.
    refusal: Option<String>,
    /// The periodic schedules running here.
    periodic: crate::periodic::Registry,
    /// Per-function rate limits this process's claims honour.
    rate_limits: RateLimits,
}

impl TaskQueue {
    /// A queue on `store`; workers start with [`TaskQueue::start_worker`].
    pub(crate) fn new(
        config: TaskQueueConfig,
        store: Store,
        tokio: tokio::runtime::Handle,
    ) -> TaskQueue {
        let slots = Arc::new(Semaphore::new(config.concurrency()));
        let rate_limits = RateLimits::new(&config.rate_limit);
        let refusal = match store {
            Store::Memory(_) => puff_redis::config::in_process_refusal(
                "task_queue",
                &config.name,
                "each worker would have its own queue, so a task's result, cancel and counts \
                 would exist only in the worker that scheduled it, and its queued tasks would \
                 be lost when that worker is replaced",
                worker_count(),
            ),
            Store::Redis(_) => None,
        };
        TaskQueue {
            shared: Arc::new(Shared {
                config,
                store,
                worker_id: puff_greenlet::ids::unique_id(),
                wake: Notify::new(),
                slots,
                stopping: AtomicBool::new(false),
                held: Mutex::new(HashSet::new()),
                waiters: Mutex::new(HashMap::new()),
                tokio,
                failing: AtomicBool::new(false),
                refusal,
                periodic: Default::default(),
                rate_limits,
            }),
        }
    }

    /// The configured queue named `name`, from the runtime's registry.
    pub fn named(name: &str) -> Option<Arc<TaskQueue>> {
        PythonRuntime::global()
            .ok()?
            .resources()
            .get::<TaskQueue>(name)
    }

    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    pub fn config(&self) -> &TaskQueueConfig {
        &self.shared.config
    }

    /// `"redis"` or `"memory"`.
    pub fn backend_name(&self) -> &'static str {
        match self.shared.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    pub fn redacted_url(&self) -> Option<&str> {
        match &self.shared.store {
            Store::Memory(_) => None,
            Store::Redis(r) => Some(r.redacted_url()),
        }
    }

    /// Err when this queue cannot serve its purpose: it is in process and this is one of
    /// several worker processes, each with its own queue. Every call below checks it.
    pub fn check_shared(&self) -> Result<(), RedisError> {
        match &self.shared.refusal {
            Some(message) => Err(RedisError::Config(message.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.shared.store
    }

    pub(crate) fn tokio(&self) -> &tokio::runtime::Handle {
        &self.shared.tokio
    }

    pub(crate) fn periodic(&self) -> &crate::periodic::Registry {
        &self.shared.periodic
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }

    /// Let the claim loop look for due tasks now (tasks were enqueued elsewhere here).
    pub(crate) fn wake_worker(&self) {
        self.shared.wake.notify_one();
    }

    /// Enqueue `function` (`module:function`) with a JSON `payload`; returns the task id.
    pub async fn schedule(
        &self,
        function: String,
        payload: String,
        options: ScheduleOptions,
    ) -> Result<String, RedisError> {
        self.check_shared()?;
        if options.keep_results_for_ms == 0 {
            return Err(RedisError::Config(
                "keep_results_for_ms must be at least 1 (the result could never be read)".into(),
            ));
        }
        let traceparent = puff_greenlet::trace::current().map(|c| c.to_traceparent());
        let task = self.new_task(function, payload, &options, traceparent);
        if let Some(unique_key) = options.unique_key {
            return self.schedule_unique(task, unique_key).await;
        }
        let id = task.id.clone();
        // A fresh id: never known to the store already.
        match &self.shared.store {
            Store::Memory(m) => {
                m.schedule(task);
            }
            Store::Redis(r) => {
                r.schedule(&task).await?;
            }
        }
        crate::metrics::scheduled(self.name());
        self.shared.wake.notify_one();
        Ok(id)
    }

    /// Enqueue `task` as it is (its id, time and limits chosen already, as the outbox
    /// relay does), unless a task with its id is queued, running or finished: then false.
    #[cfg(feature = "outbox")]
    pub(crate) async fn schedule_once(&self, task: NewTask) -> Result<bool, RedisError> {
        self.check_shared()?;
        let scheduled = match &self.shared.store {
            Store::Memory(m) => m.schedule(task),
            Store::Redis(r) => r.schedule(&task).await?,
        };
        if scheduled {
            crate::metrics::scheduled(self.name());
            self.shared.wake.notify_one();
        }
        Ok(scheduled)
    }

    /// The task [`TaskQueue::schedule`] enqueues: a fresh id and `options` with their
    /// defaults filled in (now; the queue's `max_retries`), scheduled under `traceparent`.
    pub(crate) fn new_task(
        &self,
        function: String,
        payload: String,
        options: &ScheduleOptions,
        traceparent: Option<String>,
    ) -> NewTask {
        NewTask {
            id: new_task_id(),
            function,
            payload,
            scheduled_time_unix_ms: options.scheduled_time_unix_ms.unwrap_or_else(now_ms),
            timeout_ms: options.timeout_ms.max(1),
            keep_results_for_ms: options.keep_results_for_ms,
            max_retries: options
                .max_retries
                .unwrap_or(self.shared.config.max_retries),
            traceparent,
        }
    }

    /// [`TaskQueue::schedule`] with a `unique_key`: the id of the task holding the key.
    async fn schedule_unique(
        &self,
        task: NewTask,
        unique_key: String,
    ) -> Result<String, RedisError> {
        if unique_key.is_empty() {
            return Err(RedisError::Config("unique_key must not be empty".into()));
        }
        let id = task.id.clone();
        let holder = match &self.shared.store {
            Store::Memory(m) => m.schedule_unique(task, unique_key),
            Store::Redis(r) => r.schedule_unique(&task, &unique_key).await?,
        };
        if holder == id {
            crate::metrics::scheduled(self.name());
            self.shared.wake.notify_one();
        }
        Ok(holder)
    }

    /// From now on, this process's claims start at most `limit.limit` runs of
    /// `limit.function` per `limit.period_ms` (replacing its limit, if any). Other workers
    /// keep theirs: give each the same limits.
    pub fn set_rate_limit(&self, limit: RateLimit) -> Result<(), RedisError> {
        limit
            .validate()
            .map_err(|e| RedisError::Config(format!("rate limit: {e}")))?;
        self.shared.rate_limits.set(limit);
        Ok(())
    }

    /// Lift `function`'s rate limit in this process's claims.
    pub fn lift_rate_limit(&self, function: &str) {
        self.shared.rate_limits.lift(function);
        self.shared.wake.notify_one();
    }

    /// The rate limits this process's claims honour, by function.
    pub fn rate_limits(&self) -> Vec<RateLimit> {
        self.shared.rate_limits.snapshot()
    }

    /// Up to `max` due tasks, honouring the rate limits.
    async fn claim_due(&self, max: usize, now: u64) -> Result<ClaimBatch, RedisError> {
        let limits = self.shared.rate_limits.snapshot();
        let worker = &self.shared.worker_id;
        if limits.is_empty() {
            let tasks = match &self.shared.store {
                Store::Memory(m) => m.claim(max, now),
                Store::Redis(r) => r.claim(worker, max, now).await?,
            };
            return Ok(ClaimBatch {
                tasks,
                retry_in_ms: None,
            });
        }
        match &self.shared.store {
            Store::Memory(m) => Ok(m.claim_rated(max, now, &limits)),
            Store::Redis(r) => r.claim_rated(worker, max, now, &limits).await,
        }
    }

    /// The outcome of task `id`; `None` until it finished (or after its result expired).
    pub async fn result(&self, id: &str) -> Result<Option<Outcome>, RedisError> {
        self.check_shared()?;
        let stored = match &self.shared.store {
            Store::Memory(m) => m.result(id, now_ms()),
            Store::Redis(r) => r.result(id).await?,
        };
        stored
            .map(|text| Outcome::from_json(&text).map_err(|e| RedisError::Data(e.to_string())))
            .transpose()
    }

    /// Wait up to `timeout` for task `id`'s outcome, looking every `poll_interval` (and at
    /// once when it finishes in this process); `None` if it did not finish in time.
    pub async fn wait_for_result(
        &self,
        id: &str,
        poll_interval: Duration,
        timeout: Duration,
    ) -> Result<Option<Outcome>, RedisError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let finished = self.watch(id);
        let _unwatch = Unwatch {
            queue: self,
            id,
            notify: &finished,
        };
        loop {
            let notified = finished.notified();
            if let Some(outcome) = self.result(id).await? {
                return Ok(Some(outcome));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let pause = poll_interval.max(Duration::from_millis(1));
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until((now + pause).min(deadline)) => {}
            }
        }
    }

    fn watch(&self, id: &str) -> Arc<Notify> {
        let mut waiters = lock(&self.shared.waiters);
        waiters.entry(id.to_owned()).or_default().clone()
    }

    /// Stop task `id` from running (or from storing a result if it is running now);
    /// false if it already finished or is unknown.
    pub async fn cancel(&self, id: &str) -> Result<bool, RedisError> {
        self.check_shared()?;
        match &self.shared.store {
            Store::Memory(m) => Ok(m.cancel(id)),
            Store::Redis(r) => r.cancel(id).await,
        }
    }

    /// The newest `limit` tasks that ran out of retries, oldest first.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, RedisError> {
        self.check_shared()?;
        match &self.shared.store {
            Store::Memory(m) => Ok(m.dead_letters(limit)),
            Store::Redis(r) => r.dead_letters(limit).await,
        }
    }

    /// (queued, running) task counts across every worker.
    pub async fn counts(&self) -> Result<(usize, usize), RedisError> {
        self.check_shared()?;
        match &self.shared.store {
            Store::Memory(m) => Ok(m.counts()),
            Store::Redis(r) => r.counts().await,
        }
    }

    /// Operator access to this queue (list, show, retry, cancel, purge, stats; what
    /// `puff-cli tasks` does); Redis queues only.
    pub fn admin(&self) -> Result<crate::admin::QueueAdmin, crate::admin::AdminError> {
        match &self.shared.store {
            Store::Memory(_) => Err(crate::admin::AdminError::in_process(self.name())),
            Store::Redis(r) => {
                let (pool, prefix) = r.pool_and_prefix();
                Ok(crate::admin::QueueAdmin::new(self.config(), pool, prefix))
            }
        }
    }

    /// Run due tasks in this process (up to `max_concurrent_tasks` at once) and keep the
    /// lease and the reaper going. Without slots (`max_concurrent_tasks = 0`) the process
    /// only schedules.
    pub fn start_worker(&self, python: PythonRuntime) {
        if self.shared.config.concurrency() == 0 {
            tracing::debug!("task queue `{}`: schedule only", self.name());
            return;
        }
        let queue = self.clone();
        self.shared
            .tokio
            .spawn(async move { queue.maintain().await });
        let queue = self.clone();
        self.shared
            .tokio
            .spawn(async move { queue.claim_loop(python).await });
    }

    /// Renew the lease and retry lost or timed-out tasks, every third of the lease (and
    /// sample the queue's length for the metrics).
    async fn maintain(self) {
        let every = Duration::from_millis(self.shared.config.lease_ms / 3);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.shared.stopping.load(Ordering::Acquire) {
            tick.tick().await;
            let reaped = match &self.shared.store {
                Store::Memory(m) => Ok(m.reap(now_ms())),
                Store::Redis(r) => match r
                    .renew_lease(&self.shared.worker_id, self.shared.config.lease_ms)
                    .await
                {
                    Ok(()) => r.reap(now_ms()).await,
                    Err(e) => Err(e),
                },
            };
            match self.note_health(reaped) {
                Some(reaped) if reaped.total() > 0 => {
                    crate::metrics::reaped(self.name(), reaped);
                    tracing::info!(
                        "task queue `{}`: {} timed-out or orphaned task(s) back in the queue, \
                         {} dead-lettered",
                        self.name(),
                        reaped.retried,
                        reaped.dead_lettered
                    );
                    self.shared.wake.notify_one();
                }
                _ => {}
            }
            // A length the backend knows, not this process: one ZCARD per tick, with
            // metrics on only.
            if puff_greenlet::metrics::enabled()
                && let Ok((queued, _)) = self.counts().await
            {
                crate::metrics::queued(self.name(), queued);
            }
        }
    }

    /// Log the first failure of an outage and the recovery, not every poll in between.
    fn note_health<T>(&self, result: Result<T, RedisError>) -> Option<T> {
        match result {
            Ok(v) => {
                if self.shared.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!("task queue `{}`: backend reachable again", self.name());
                }
                Some(v)
            }
            Err(e) => {
                if !self.shared.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        "task queue `{}`: {e}; retrying until the backend is back",
                        self.name()
                    );
                }
                None
            }
        }
    }

    async fn claim_loop(self, python: PythonRuntime) {
        let shared = &self.shared;
        let poll = Duration::from_millis(shared.config.poll_interval_ms);
        if let Store::Redis(r) = &shared.store {
            // Hold a lease before the first claim, so no reaper sees our tasks as orphans.
            let renewed = r
                .renew_lease(&shared.worker_id, shared.config.lease_ms)
                .await;
            self.note_health(renewed);
        }
        loop {
            let Ok(first) = shared.slots.clone().acquire_owned().await else {
                return;
            };
            if shared.stopping.load(Ordering::Acquire) {
                return;
            }
            let mut permits = vec![first];
            while let Ok(p) = shared.slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            let now = now_ms();
            let batch = self.claim_due(permits.len(), now).await;
            let batch = self.note_health(batch).unwrap_or_default();
            let idle = batch.tasks.is_empty();
            // Tasks held back by a rate limit: look again when the first may run.
            let pause = batch
                .retry_in_ms
                .map_or(poll, |ms| poll.min(Duration::from_millis(ms.max(1))));
            for (task, permit) in batch.tasks.into_iter().zip(permits.drain(..)) {
                lock(&shared.held).insert(task.id.clone());
                let id = task.id.clone();
                let metrics = RunMetrics::claimed(self.name(), &task.function);
                let running = crate::runner::start_task(&python, task, metrics);
                let queue = self.clone();
                shared.tokio.spawn(async move {
                    queue.finish(id, running.await).await;
                    drop(permit);
                });
            }
            drop(permits);
            if idle {
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Store a task's outcome and wake whoever waits for it here.
    async fn finish(&self, id: String, outcome: Outcome) {
        let outcome = outcome.to_json();
        let stored = match &self.shared.store {
            Store::Memory(m) => Ok(m.complete(&id, outcome, now_ms())),
            Store::Redis(r) => r.complete(&id, &outcome).await,
        };
        if let Err(e) = stored {
            tracing::warn!(
                "task queue `{}`: cannot store the result of task {id} ({e}); it will be \
                 retried",
                self.name()
            );
        }
        lock(&self.shared.held).remove(&id);
        if let Some(waiter) = lock(&self.shared.waiters).get(&id) {
            waiter.notify_waiters();
        }
        if self.shared.stopping.load(Ordering::Acquire) {
            self.shared.wake.notify_one();
        }
    }

    /// Stop claiming, give running tasks up to `shutdown_timeout_ms` to finish, then hand
    /// the rest back to the queue and drop the lease. Blocks the calling (non-Tokio) thread.
    pub fn stop(&self) {
        let shared = &self.shared;
        if shared.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        shared.periodic.stop_all();
        shared.slots.close();
        shared.wake.notify_one();
        if shared.config.concurrency() == 0 {
            return;
        }
        let grace = Duration::from_millis(shared.config.shutdown_timeout_ms);
        let queue = self.clone();
        shared.tokio.block_on(async move {
            let deadline = tokio::time::Instant::now() + grace;
            while !lock(&queue.shared.held).is_empty() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let left: Vec<String> = lock(&queue.shared.held).iter().cloned().collect();
            if !left.is_empty() {
                tracing::warn!(
                    "task queue `{}`: {} task(s) still running after {} ms; handing them back \
                     to the queue",
                    queue.name(),
                    left.len(),
                    grace.as_millis()
                );
            }
            let released = match &queue.shared.store {
                Store::Memory(m) => {
                    left.iter().for_each(|id| m.release(id, now_ms()));
                    Ok(())
                }
                Store::Redis(r) => {
                    let released = if left.is_empty() {
                        Ok(())
                    } else {
                        r.release(&left, now_ms()).await
                    };
                    // A lease left behind just lapses; nothing to warn about.
                    if let Err(e) = r.drop_lease(&queue.shared.worker_id).await {
                        tracing::debug!("task queue `{}`: lease not dropped: {e}", queue.name());
                    }
                    released
                }
            };
            if let Err(e) = released {
                tracing::warn!(
                    "task queue `{}`: could not hand tasks back on shutdown ({e}); they will \
                     be retried when the lease lapses",
                    queue.name()
                );
            }
        });
    }
}

/// Removes a result waiter's entry when its wait ends, unless another wait shares it.
struct Unwatch<'a> {
    queue: &'a TaskQueue,
    id: &'a str,
    notify: &'a Arc<Notify>,
}

impl Drop for Unwatch<'_> {
    fn drop(&mut self) {
        let mut waiters = lock(&self.queue.shared.waiters);
        // Ours plus the map's reference: nobody else waits on this id.
        if Arc::strong_count(self.notify) <= 2 {
            waiters.remove(self.id);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
