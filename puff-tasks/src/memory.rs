//! The in-process store: the same semantics as the Redis one (order, delays, timeouts,
//! retries, dead letters, result expiry) for a single process, with nothing to lose but
//! the process itself.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::metrics::Reaped;
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
        if let Some(deadline) = record.deadline {
            self.running.remove(&(deadline, id.to_owned()));
        }
        self.queue
            .remove(&(record.task.scheduled_time_unix_ms, id.to_owned()));
        Some(record)
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
        state
            .queue
            .insert((task.scheduled_time_unix_ms, task.id.clone()));
        state.tasks.insert(
            task.id.clone(),
            Record {
                task,
                attempts: 0,
                deadline: None,
            },
        );
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
            let id = first.1;
            let Some(record) = state.tasks.get_mut(&id) else {
                continue;
            };
            record.attempts += 1;
            let deadline = now.saturating_add(record.task.timeout_ms);
            record.deadline = Some(deadline);
            claimed.push(ClaimedTask {
                id: id.clone(),
                function: record.task.function.clone(),
                payload: record.task.payload.clone(),
                attempt: record.attempts,
                traceparent: record.task.traceparent.clone(),
            });
            state.running.insert((deadline, id));
        }
        claimed
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
