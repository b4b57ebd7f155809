//! The in-process store: the same semantics as the Redis one (order, delays, timeouts,
//! retries, dead letters, result expiry) for a single process, with nothing to lose but
//! the process itself.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::metrics::Reaped;
use crate::rate_limit::{ClaimBatch, RateLimit, StartLog};
use crate::task::{
    ClaimedTask, DeadLetter, NewTask, Outcome, RETRIES_EXHAUSTED, retries_exhausted_message,
};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// (scheduled time, id) of tasks waiting to run.
    queue: BTreeSet<(u64, String)>,
    /// (deadline, id) of claimed tasks.
    running: BTreeSet<(u64, String)>,
    tasks: HashMap<String, Record>,
    results: HashMap<String, (String, u64)>,
    /// (expiry, id) of stored results.
    expiries: BTreeSet<(u64, String)>,
    dead: Vec<DeadLetter>,
    /// `unique_key` -> the id of the queued or running task holding it, and back.
    unique: HashMap<String, String>,
    unique_of: HashMap<String, String>,
    /// Recent starts of rate-limited functions.
    starts: StartLog,
}

struct Record {
    task: NewTask,
    attempts: u32,
    deadline: Option<u64>,
}

impl State {
    /// Remove task `id` from every set (it finished or was cancelled).
    fn take(&mut self, id: &str) -> Option<Record> {
        let record = self.tasks.remove(id)?;
        self.free_unique(id);
        if let Some(deadline) = record.deadline {
            self.running.remove(&(deadline, id.to_owned()));
        }
        self.queue
            .remove(&(record.task.scheduled_time_unix_ms, id.to_owned()));
        Some(record)
    }

    fn enqueue(&mut self, task: NewTask) {
        self.queue
            .insert((task.scheduled_time_unix_ms, task.id.clone()));
        self.tasks.insert(
            task.id.clone(),
            Record {
                task,
                attempts: 0,
                deadline: None,
            },
        );
    }

    /// Task `id` left the queue for good: its `unique_key` (if any) is free again.
    fn free_unique(&mut self, id: &str) {
        if let Some(key) = self.unique_of.remove(id)
            && self.unique.get(&key).is_some_and(|holder| holder == id)
        {
            self.unique.remove(&key);
        }
    }

    /// Hand task `id` (just taken out of the queue) to a worker: its next attempt, with a
    /// deadline; `None` if it is gone.
    fn start(&mut self, id: String, now: u64) -> Option<ClaimedTask> {
        let record = self.tasks.get_mut(&id)?;
        record.attempts += 1;
        let deadline = now.saturating_add(record.task.timeout_ms);
        record.deadline = Some(deadline);
        let claimed = ClaimedTask {
            id: id.clone(),
            function: record.task.function.clone(),
            payload: record.task.payload.clone(),
            attempt: record.attempts,
            traceparent: record.task.traceparent.clone(),
        };
        self.running.insert((deadline, id));
        Some(claimed)
    }

    fn store_result(&mut self, id: &str, outcome: String, keep_ms: u64, now: u64) {
        let expires = now.saturating_add(keep_ms);
        if let Some((_, old)) = self.results.insert(id.to_owned(), (outcome, expires)) {
            self.expiries.remove(&(old, id.to_owned()));
        }
        self.expiries.insert((expires, id.to_owned()));
    }

    /// Take `id` out of the running set: back in the queue, or dead-lettered when it has
    /// used its retries (what happened is counted in `reaped`).
    fn requeue(&mut self, id: &str, reason: &str, now: u64, reaped: &mut Reaped) {
        let Some(record) = self.tasks.get_mut(id) else {
            return;
        };
        if let Some(deadline) = record.deadline.take() {
            self.running.remove(&(deadline, id.to_owned()));
        }
        if record.attempts > record.task.max_retries {
            let Some(record) = self.tasks.remove(id) else {
                return;
            };
            reaped.dead_lettered += 1;
            self.free_unique(id);
            let message = retries_exhausted_message(record.attempts, reason);
            self.dead.push(DeadLetter {
                id: id.to_owned(),
                function: record.task.function.clone(),
                payload: record.task.payload.clone(),
                attempts: record.attempts,
                reason: reason.to_owned(),
                at_ms: now,
            });
            let outcome = Outcome::failure(RETRIES_EXHAUSTED, message).to_json();
            self.store_result(id, outcome, record.task.keep_results_for_ms, now);
        } else {
            reaped.retried += 1;
            self.queue
                .insert((record.task.scheduled_time_unix_ms, id.to_owned()));
        }
    }
}

impl MemoryStore {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is one
        // statement group without awaits), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// False (and nothing changes) when a task with this id is already queued, running or
    /// finished (the outbox relay may hand the same task over twice).
    pub fn schedule(&self, task: NewTask) -> bool {
        let mut state = self.state();
        if state.tasks.contains_key(&task.id) || state.results.contains_key(&task.id) {
            return false;
        }
        state.enqueue(task);
        true
    }

    pub fn claim(&self, max: usize, now: u64) -> Vec<ClaimedTask> {
        let mut state = self.state();
        let mut claimed = Vec::new();
        while claimed.len() < max {
            let Some(first) = state.queue.first().cloned() else {
                break;
            };
            if first.0 > now {
                break;
            }
            state.queue.remove(&first);
            claimed.extend(state.start(first.1, now));
        }
        claimed
    }

    /// [`MemoryStore::claim`], holding back tasks of functions at their rate limit (later
    /// due tasks of other functions are claimed past them).
    pub fn claim_rated(&self, max: usize, now: u64, limits: &[RateLimit]) -> ClaimBatch {
        let mut state = self.state();
        let mut batch = ClaimBatch::default();
        let mut held_back = Vec::new();
        while batch.tasks.len() < max {
            let Some(first) = state.queue.first().cloned() else {
                break;
            };
            if first.0 > now {
                break;
            }
            state.queue.remove(&first);
            let function = state.tasks.get(&first.1).map(|r| r.task.function.clone());
            let limit = function.and_then(|f| limits.iter().find(|l| l.function == f));
            if let Some(limit) = limit {
                if state.starts.room(limit, now) == 0 {
                    let wait = state.starts.reopens_in(limit, now);
                    batch.retry_in_ms = Some(batch.retry_in_ms.map_or(wait, |w| w.min(wait)));
                    held_back.push(first);
                    continue;
                }
                state.starts.record(&limit.function, now);
            }
            batch.tasks.extend(state.start(first.1, now));
        }
        // Back in their places: they keep their order.
        state.queue.extend(held_back);
        batch
    }

    /// Queue `task` unless a queued or running task holds `unique_key`; the id of the task
    /// that holds it now (`task`'s own when it was queued).
    pub fn schedule_unique(&self, task: NewTask, unique_key: String) -> String {
        let mut state = self.state();
        if let Some(holder) = state.unique.get(&unique_key)
            && state.tasks.contains_key(holder)
        {
            return holder.clone();
        }
        let id = task.id.clone();
        state.unique.insert(unique_key.clone(), id.clone());
        state.unique_of.insert(id.clone(), unique_key);
        state.enqueue(task);
        id
    }

    /// Store the outcome unless the task already has one (or was cancelled).
    pub fn complete(&self, id: &str, outcome: String, now: u64) -> bool {
        let mut state = self.state();
        let Some(record) = state.take(id) else {
            return false;
        };
        state.store_result(id, outcome, record.task.keep_results_for_ms, now);
        true
    }

    /// Put a claimed task straight back in the queue (its worker is shutting down); that
    /// attempt does not count.
    pub fn release(&self, id: &str, now: u64) {
        let mut state = self.state();
        if let Some(record) = state.tasks.get_mut(id) {
            record.attempts = record.attempts.saturating_sub(1);
        }
        // A hand-back is not a retry (and cannot dead-letter: the attempt was given back).
        state.requeue(id, "worker shut down", now, &mut Reaped::default());
    }

    pub fn result(&self, id: &str, now: u64) -> Option<String> {
        let state = self.state();
        match state.results.get(id) {
            Some((outcome, expires)) if *expires > now => Some(outcome.clone()),
            _ => None,
        }
    }

    pub fn cancel(&self, id: &str) -> bool {
        self.state().take(id).is_some()
    }

    /// Retry (or dead-letter) timed-out tasks and drop expired results.
    pub fn reap(&self, now: u64) -> Reaped {
        let mut state = self.state();
        let due: Vec<String> = state
            .running
            .iter()
            .take_while(|(deadline, _)| *deadline <= now)
            .map(|(_, id)| id.clone())
            .collect();
        let mut reaped = Reaped::default();
        for id in &due {
            state.requeue(id, "timed out", now, &mut reaped);
        }
        while let Some(first) = state.expiries.first().cloned() {
            if first.0 > now {
                break;
            }
            state.expiries.remove(&first);
            state.results.remove(&first.1);
        }
        reaped
    }

    pub fn dead_letters(&self, limit: usize) -> Vec<DeadLetter> {
        let state = self.state();
        let skip = state.dead.len().saturating_sub(limit);
        state.dead[skip..].to_vec()
    }

    /// (queued, running) counts.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.queue.len(), state.running.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, at: u64, timeout_ms: u64, max_retries: u32) -> NewTask {
        NewTask {
            id: id.into(),
            function: "m:f".into(),
            payload: "1".into(),
            scheduled_time_unix_ms: at,
            timeout_ms,
            keep_results_for_ms: 1000,
            max_retries,
            traceparent: None,
        }
    }

    #[test]
    fn order_delay_timeout_retry_and_dead_letters() {
        let store = MemoryStore::default();
        store.schedule(task("b", 10, 100, 1));
        store.schedule(task("a", 10, 100, 1));
        store.schedule(task("first", 1, 100, 1));
        store.schedule(task("later", 500, 100, 1));
        let ids: Vec<String> = store.claim(10, 20).into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["first", "a", "b"]);
        assert!(store.claim(10, 499).is_empty(), "not before its time");
        assert_eq!(store.claim(10, 500)[0].id, "later");
        assert!(store.complete("first", "{\"ok\":1}".into(), 30));
        assert!(
            !store.complete("first", "{\"ok\":2}".into(), 31),
            "first result wins"
        );
        assert_eq!(store.result("first", 40).as_deref(), Some("{\"ok\":1}"));
        assert_eq!(store.result("first", 1031), None, "expired");
        // `a` times out twice: retried once, then dead-lettered with an error result.
        let both_retried = Reaped {
            retried: 2,
            dead_lettered: 0,
        };
        assert_eq!(store.reap(121), both_retried);
        let again = store.claim(10, 121);
        assert_eq!(again.iter().map(|t| t.attempt).max(), Some(2));
        let both_dead = Reaped {
            retried: 0,
            dead_lettered: 2,
        };
        assert_eq!(store.reap(300), both_dead);
        let dead = store.dead_letters(10);
        assert_eq!(dead.len(), 2);
        assert_eq!(dead[0].reason, "timed out");
        let failure = Outcome::from_json(&store.result("a", 300).unwrap()).unwrap();
        assert!(matches!(failure, Outcome::Error(f) if f.error_type == RETRIES_EXHAUSTED));
        // Handing a task back on shutdown does not use up a retry.
        store.schedule(task("handed-back", 0, 100, 0));
        assert_eq!(store.claim(1, 300)[0].id, "handed-back");
        store.release("handed-back", 300);
        assert_eq!(store.claim(1, 300)[0].attempt, 1);
        assert!(store.complete("handed-back", "{\"ok\":1}".into(), 300));
        // `later` is still running; cancel stops it from producing a result.
        assert!(store.cancel("later"));
        assert!(!store.complete("later", "{\"ok\":1}".into(), 301));
        assert_eq!(store.counts(), (0, 0));
    }

    #[test]
    fn a_unique_key_is_held_while_queued_or_running() {
        let store = MemoryStore::default();
        assert_eq!(store.schedule_unique(task("a", 0, 100, 0), "k".into()), "a");
        assert_eq!(store.schedule_unique(task("b", 0, 100, 0), "k".into()), "a");
        assert_eq!(store.claim(10, 1)[0].id, "a");
        assert_eq!(store.schedule_unique(task("c", 0, 100, 0), "k".into()), "a");
        assert!(store.complete("a", "{\"ok\":1}".into(), 2));
        assert_eq!(store.schedule_unique(task("d", 0, 100, 0), "k".into()), "d");
        assert!(store.cancel("d"));
        assert_eq!(store.schedule_unique(task("e", 0, 100, 0), "k".into()), "e");
        // Dead-lettered (no retries left after a timeout): free again.
        assert_eq!(store.claim(10, 2)[0].id, "e");
        assert_eq!(store.reap(200).dead_lettered, 1);
        assert_eq!(store.schedule_unique(task("f", 0, 100, 0), "k".into()), "f");
        assert_eq!(store.counts(), (1, 0));
    }

    #[test]
    fn a_rate_limited_function_is_held_back_without_blocking_others() {
        let store = MemoryStore::default();
        for (i, id) in ["l1", "l2", "l3"].iter().enumerate() {
            let mut t = task(id, i as u64, 1000, 0);
            t.function = "m:limited".into();
            store.schedule(t);
        }
        store.schedule(task("other", 5, 1000, 0));
        let limits = [RateLimit::new("m:limited", 2, 100)];
        let batch = store.claim_rated(10, 10, &limits);
        let ids: Vec<&str> = batch.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["l1", "l2", "other"]);
        assert_eq!(batch.retry_in_ms, Some(100));
        let batch = store.claim_rated(10, 60, &limits);
        assert!(batch.tasks.is_empty());
        assert_eq!(batch.retry_in_ms, Some(50));
        let batch = store.claim_rated(10, 110, &limits);
        assert_eq!(batch.tasks[0].id, "l3");
        assert_eq!(batch.retry_in_ms, None);
    }

    #[test]
    fn a_task_id_is_scheduled_once() {
        let store = MemoryStore::default();
        assert!(store.schedule(task("once", 0, 100, 0)));
        assert!(!store.schedule(task("once", 0, 100, 0)), "queued");
        assert_eq!(store.claim(10, 1).len(), 1);
        assert!(!store.schedule(task("once", 0, 100, 0)), "running");
        assert!(store.complete("once", "{\"ok\":1}".into(), 2));
        assert!(!store.schedule(task("once", 0, 100, 0)), "finished");
        assert!(store.claim(10, 3).is_empty());
    }
}
