//! What `puff-cli tasks` prints: for each subcommand a text for people (aligned tables,
//! `key  value` lines) and a JSON document for scripts, whose keys are documented in
//! docs/tasks.md and stay stable (a key that does not apply is `null`, never missing).

use serde_json::{Value, json};

use super::table::{Table, duration, shorten, time};
use crate::admin::{QueueStats, RetriedAll, TaskInfo, TaskListing, TaskState};

/// Payload cells in tables are cut to this many characters.
const PAYLOAD_WIDTH: usize = 40;

/// JSON text as its value (a string when it is not JSON).
fn json_text(text: Option<&str>) -> Value {
    match text {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)),
        None => Value::Null,
    }
}

/// One task as JSON: the same keys for every state.
fn task_json(task: &TaskInfo) -> Value {
    json!({
        "id": task.id,
        "state": task.state.as_str(),
        "function": task.function,
        "payload": json_text(task.payload.as_deref()),
        "attempts": task.attempts,
        "max_retries": task.max_retries,
        "timeout_ms": task.timeout_ms,
        "keep_results_for_ms": task.keep_results_for_ms,
        "scheduled_ms": task.scheduled_ms,
        "deadline_ms": task.deadline_ms,
        "worker": task.worker,
        "worker_alive": task.worker_alive,
        "reason": task.reason,
        "dead_at_ms": task.dead_at_ms,
    })
}

fn pretty(value: &Value) -> String {
    // Serializing a Value cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

pub fn list_json(queue: &str, listing: &TaskListing) -> String {
    pretty(&json!({
        "queue": queue,
        "counts": {
            "queued": listing.queued,
            "running": listing.running,
            "dead": listing.dead,
        },
        "tasks": listing.tasks.iter().map(task_json).collect::<Vec<_>>(),
    }))
}

fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// `1/4`: attempts so far of the most it may get (`max_retries` + 1).
fn attempts(task: &TaskInfo) -> String {
    let done = or_dash(task.attempts);
    match task.max_retries {
        Some(max) => format!("{done}/{}", u64::from(max) + 1),
        None => done,
    }
}

fn payload_cell(task: &TaskInfo) -> String {
    shorten(task.payload.as_deref().unwrap_or("-"), PAYLOAD_WIDTH)
}

fn worker_cell(task: &TaskInfo) -> String {
    let lease = match task.worker_alive {
        Some(true) => " (lease live)",
        Some(false) => " (lease lapsed)",
        None => "",
    };
    format!("{}{lease}", or_dash(task.worker.as_deref()))
}

/// The tables of `list`: one section per state asked for.
pub fn list_table(
    queue: &str,
    url: &str,
    listing: &TaskListing,
    states: &[TaskState],
    now: u64,
) -> String {
    let mut out = format!(
        "queue `{queue}` at {url}: {} queued, {} running, {} dead\n",
        listing.queued, listing.running, listing.dead
    );
    let of = |state: TaskState| listing.tasks.iter().filter(move |t| t.state == state);
    for state in states {
        let (title, total, mut table) = match state {
            TaskState::Queued => (
                "QUEUED (next to run first)",
                listing.queued,
                Table::new(&["ID", "FUNCTION", "ATTEMPTS", "DUE", "PAYLOAD"]),
            ),
            TaskState::Running => (
                "RUNNING (nearest deadline first)",
                listing.running,
                Table::new(&["ID", "FUNCTION", "ATTEMPT", "WORKER", "DEADLINE", "PAYLOAD"]),
            ),
            TaskState::Dead => (
                "DEAD (newest first)",
                listing.dead,
                Table::new(&[
                    "ID",
                    "FUNCTION",
                    "ATTEMPTS",
                    "REASON",
                    "DEAD SINCE",
                    "PAYLOAD",
                ]),
            ),
            TaskState::Finished => continue,
        };
        for task in of(*state) {
            let function = or_dash(task.function.as_deref());
            table.row(match state {
                TaskState::Queued => vec![
                    task.id.clone(),
                    function,
                    attempts(task),
                    or_dash(task.scheduled_ms.map(|at| time(at, now))),
                    payload_cell(task),
                ],
                TaskState::Running => vec![
                    task.id.clone(),
                    function,
                    attempts(task),
                    worker_cell(task),
                    or_dash(task.deadline_ms.map(|at| time(at, now))),
                    payload_cell(task),
                ],
                _ => vec![
                    task.id.clone(),
                    function,
                    or_dash(task.attempts),
                    or_dash(task.reason.as_deref()),
                    or_dash(task.dead_at_ms.map(|at| time(at, now))),
                    payload_cell(task),
                ],
            });
        }
        out.push_str(&format!("\n{title}\n"));
        if table.is_empty() {
            out.push_str("(none)\n");
            continue;
        }
        out.push_str(&table.render());
        let shown = of(*state).count();
        if shown < total {
            out.push_str(&format!(
                "(showing {shown} of {total}; --limit {total} shows all)\n"
            ));
        }
    }
    out
}

/// `show`: the queue, the keys of a `list` task, then what only `show` reads.
pub fn show_json(queue: &str, task: &TaskInfo) -> String {
    let mut map = serde_json::Map::new();
    map.insert("queue".into(), queue.into());
    if let Value::Object(fields) = task_json(task) {
        map.extend(fields);
    }
    map.insert("traceparent".into(), task.traceparent.clone().into());
    map.insert("result".into(), json_text(task.result.as_deref()));
    map.insert(
        "result_expires_in_ms".into(),
        task.result_expires_in_ms.into(),
    );
    pretty(&Value::Object(map))
}

/// `show`: one `key  value` line per thing known, the traceback of a failure last.
pub fn show_table(queue: &str, task: &TaskInfo, now: u64) -> String {
    let mut table = Table::new(&["", ""]);
    let mut add = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            table.row(vec![key.to_owned(), value]);
        }
    };
    add("id", Some(task.id.clone()));
    add("queue", Some(queue.to_owned()));
    add("state", Some(task.state.to_string()));
    add("function", task.function.clone());
    add("payload", task.payload.as_deref().map(|p| shorten(p, 200)));
    add(
        "attempts",
        task.attempts.map(|_| {
            format!(
                "{} (max_retries {})",
                attempts(task),
                or_dash(task.max_retries)
            )
        }),
    );
    add("timeout", task.timeout_ms.map(duration));
    add("keep results", task.keep_results_for_ms.map(duration));
    add("due", task.scheduled_ms.map(|at| time(at, now)));
    add("deadline", task.deadline_ms.map(|at| time(at, now)));
    add("worker", task.worker.as_ref().map(|_| worker_cell(task)));
    add("dead since", task.dead_at_ms.map(|at| time(at, now)));
    add("reason", task.reason.clone());
    let result = task.result.as_deref().map(|r| json_text(Some(r)));
    let mut traceback = None;
    add(
        "result",
        result
            .as_ref()
            .map(|r| match (r.get("ok"), r.get("error")) {
                (Some(ok), _) => format!("ok: {}", shorten(&ok.to_string(), 200)),
                (None, Some(error)) => {
                    traceback = error
                        .get("traceback")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(String::from);
                    format!(
                        "error: {}: {}",
                        error.get("type").and_then(Value::as_str).unwrap_or("?"),
                        error.get("message").and_then(Value::as_str).unwrap_or("")
                    )
                }
                _ => shorten(&r.to_string(), 200),
            }),
    );
    add(
        "result kept",
        task.result_expires_in_ms
            .map(|ms| format!("{} more", duration(ms))),
    );
    add("traceparent", task.traceparent.clone());
    // The header row only aligns the keys; a `show` reads as a list of keys and values.
    let rendered = table.render();
    let mut out: String = rendered.lines().skip(1).map(|l| format!("{l}\n")).collect();
    if let Some(traceback) = traceback {
        out.push('\n');
        out.push_str(traceback.trim_end());
        out.push('\n');
    }
    out
}

pub fn stats_json(queue: &str, url: &str, stats: &QueueStats) -> String {
    pretty(&json!({
        "queue": queue,
        "redis": url,
        "queued": stats.queued,
        "queued_due": stats.queued_due,
        "running": stats.running,
        "running_overdue": stats.running_overdue,
        "dead": stats.dead,
        "workers": stats.workers,
        "results": stats.results,
    }))
}

pub fn stats_table(queue: &str, url: &str, stats: &QueueStats) -> String {
    let mut table = Table::new(&["", ""]);
    let rows = [
        ("queue", format!("{queue} at {url}")),
        (
            "queued",
            format!(
                "{} ({} due, {} scheduled later)",
                stats.queued,
                stats.queued_due,
                stats.queued - stats.queued_due.min(stats.queued)
            ),
        ),
        (
            "running",
            format!(
                "{} ({} past their deadline)",
                stats.running, stats.running_overdue
            ),
        ),
        ("dead", stats.dead.to_string()),
        ("workers", format!("{} with a live lease", stats.workers)),
        ("results", format!("{} kept", stats.results)),
    ];
    for (key, value) in rows {
        table.row(vec![key.to_owned(), value]);
    }
    table
        .render()
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect()
}

pub fn retried_json(queue: &str, retried: &RetriedAll) -> String {
    pretty(&json!({"queue": queue, "retried": retried.ids, "kept": retried.kept}))
}

pub fn retried_text(queue: &str, retried: &RetriedAll) -> String {
    let mut out = match retried.ids.as_slice() {
        [] => format!("no dead letters in queue `{queue}`\n"),
        [id] => format!("task {id} is back in queue `{queue}`, due now\n"),
        ids => format!(
            "{} dead tasks are back in queue `{queue}`, due now\n",
            ids.len()
        ),
    };
    if retried.kept > 0 {
        out.push_str(&format!(
            "{} dead letter(s) kept: unreadable, or their task id is queued or running again\n",
            retried.kept
        ));
    }
    out
}

pub fn cancelled_json(queue: &str, id: &str, was: TaskState) -> String {
    pretty(&json!({"queue": queue, "cancelled": id, "was": was.as_str()}))
}

pub fn cancelled_text(queue: &str, id: &str, was: TaskState) -> String {
    match was {
        TaskState::Running => format!(
            "cancelled running task {id} in queue `{queue}`: its worker finishes the call, \
             but the result is dropped and it is not retried\n"
        ),
        _ => format!("cancelled {was} task {id} in queue `{queue}`: it will not run\n"),
    }
}

pub fn purged_json(queue: &str, purged: usize) -> String {
    pretty(&json!({"queue": queue, "purged": purged}))
}

pub fn purged_text(queue: &str, purged: usize) -> String {
    format!("dropped {purged} dead letter(s) from queue `{queue}`\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, state: TaskState) -> TaskInfo {
        let mut task = TaskInfo::new(id.into(), state);
        task.function = Some("m:f".into());
        task.payload = Some("{\"n\": 1}".into());
        task.attempts = Some(1);
        task.max_retries = Some(3);
        task
    }

    #[test]
    fn json_keys_do_not_depend_on_the_state() {
        let mut running = task("r", TaskState::Running);
        running.worker = Some("w".into());
        running.worker_alive = Some(false);
        let keys = |t: &TaskInfo| -> Vec<String> {
            task_json(t).as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(keys(&running), keys(&task("q", TaskState::Queued)));
        let listing = TaskListing {
            queued: 1,
            running: 1,
            dead: 0,
            tasks: vec![task("q", TaskState::Queued), running],
        };
        let doc: Value = serde_json::from_str(&list_json("x", &listing)).unwrap();
        assert_eq!(doc["counts"], json!({"queued": 1, "running": 1, "dead": 0}));
        assert_eq!(doc["tasks"][0]["payload"], json!({"n": 1}));
        assert_eq!(doc["tasks"][1]["worker_alive"], json!(false));
        let shown: Value =
            serde_json::from_str(&show_json("x", &task("q", TaskState::Queued))).unwrap();
        assert_eq!(shown.as_object().unwrap().keys().next().unwrap(), "queue");
        assert_eq!(shown["result"], Value::Null);
    }

    #[test]
    fn list_table_has_a_section_per_state_asked_for() {
        let listing = TaskListing {
            queued: 2,
            running: 0,
            dead: 0,
            tasks: vec![task("q1", TaskState::Queued)],
        };
        let out = list_table(
            "x",
            "redis://h:1",
            &listing,
            &[TaskState::Queued, TaskState::Running],
            0,
        );
        assert_eq!(
            out,
            "queue `x` at redis://h:1: 2 queued, 0 running, 0 dead\n\n\
             QUEUED (next to run first)\n\
             ID  FUNCTION  ATTEMPTS  DUE  PAYLOAD\n\
             q1  m:f       1/4       -    {\"n\": 1}\n\
             (showing 1 of 2; --limit 2 shows all)\n\n\
             RUNNING (nearest deadline first)\n(none)\n"
        );
    }
}
