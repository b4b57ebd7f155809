//! The task records the stores keep and hand out, and the outcome a task leaves behind.

use serde::{Deserialize, Serialize};

/// Defaults from the seeds: a task is retried after 30 s without a result, and its result
/// is kept for 5 minutes.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_KEEP_RESULTS_FOR_MS: u64 = 5 * 60 * 1000;

/// A task to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTask {
    pub id: String,
    /// `module:function`, importable on every worker.
    pub function: String,
    /// The payload as JSON text.
    pub payload: String,
    /// Tasks run in order of this (unix ms); in the future means "not before".
    pub scheduled_time_unix_ms: u64,
    /// Without a result this long after a worker claimed it, the task is retried.
    pub timeout_ms: u64,
    pub keep_results_for_ms: u64,
    /// Retries (after timeouts or lost workers) before the task is dead-lettered.
    pub max_retries: u32,
    /// The W3C `traceparent` of the code that scheduled it: its runs join that trace.
    pub traceparent: Option<String>,
}

/// A task a worker claimed and must run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedTask {
    pub id: String,
    pub function: String,
    pub payload: String,
    /// 1 for the first run, 2 for the first retry, ...
    pub attempt: u32,
    /// [`NewTask::traceparent`].
    pub traceparent: Option<String>,
}

/// A task that ran out of retries (the Redis store reads it back from JSON).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    pub function: String,
    /// JSON text.
    pub payload: String,
    pub attempts: u32,
    /// Why its last attempt was abandoned (`timed out`, `worker lost`).
    pub reason: String,
    /// When it was dead-lettered (unix ms).
    pub at_ms: u64,
}

/// What a finished task left: its JSON result, or the error it raised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok(serde_json::Value),
    Error(TaskFailure),
}

/// A task's exception (or why it could not run), as stored with its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The exception type, `module.QualName` (e.g. `builtins.ValueError`).
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
    #[serde(default)]
    pub traceback: String,
}

impl Outcome {
    /// The stored form: `{"ok": value}` or `{"error": {"type", "message", "traceback"}}`.
    pub fn to_json(&self) -> String {
        // Serializing a Value or plain strings cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{\"ok\":null}".into())
    }

    pub fn from_json(text: &str) -> Result<Outcome, UnreadableOutcome> {
        serde_json::from_str(text).map_err(|error| UnreadableOutcome {
            text: text.to_owned(),
            error,
        })
    }

    pub fn failure(error_type: &str, message: impl Into<String>) -> Outcome {
        Outcome::Error(TaskFailure {
            error_type: error_type.into(),
            message: message.into(),
            traceback: String::new(),
        })
    }
}

/// A stored task result that is not an [`Outcome`].
#[derive(Debug, thiserror::Error)]
#[error("unreadable task result {text:?}: {error}")]
pub struct UnreadableOutcome {
    pub text: String,
    pub error: serde_json::Error,
}

/// Error type recorded for a task that used up its retries.
pub const RETRIES_EXHAUSTED: &str = "puff.task_queue.RetriesExhausted";

/// The message stored with a dead-lettered task.
pub fn retries_exhausted_message(attempts: u32, reason: &str) -> String {
    format!("gave up after {attempts} attempts (last one: {reason})")
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A new task id. It starts with the time in ms and a per-process counter, so among tasks
/// with the same `scheduled_time_unix_ms` (the stores break ties by id) the ones scheduled
/// first run first; the random tail keeps ids from different processes apart.
pub fn new_task_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seq = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
    let tail = puff_greenlet::ids::random_u64() as u32;
    format!("{:012x}{seq:06x}{tail:08x}", now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_round_trip_and_ids() {
        let ok = Outcome::Ok(serde_json::json!({"x": [1, 2]}));
        assert_eq!(ok.to_json(), r#"{"ok":{"x":[1,2]}}"#);
        assert_eq!(Outcome::from_json(&ok.to_json()).unwrap(), ok);
        let err = Outcome::failure("builtins.ValueError", "bad");
        assert_eq!(Outcome::from_json(&err.to_json()).unwrap(), err);
        let unreadable = Outcome::from_json("nope").unwrap_err();
        assert_eq!(
            unreadable.to_string(),
            "unreadable task result \"nope\": expected value at line 1 column 1"
        );
        let (a, b) = (new_task_id(), new_task_id());
        assert_eq!(a.len(), 26);
        assert!(a < b, "ids sort in scheduling order: {a} {b}");
    }
}
