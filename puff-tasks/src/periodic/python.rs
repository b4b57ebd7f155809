//! The periodic half of `puff._native.task_queue`: `add_periodic` and friends (the
//! methods of `NativeTaskQueue` delegate here).

use puff_greenlet::exceptions::PuffError;
use puff_greenlet::json;
use puff_greenlet::pyo3::exceptions::PyValueError;
use puff_greenlet::pyo3::prelude::*;

use super::{CatchUp, PeriodicConfig, tick_task_id};
use crate::TaskQueue;

/// `add_periodic`'s arguments, as `puff.task_queue` passes them.
pub(crate) struct AddPeriodic {
    pub function: String,
    pub cron: Option<String>,
    pub every_ms: Option<u64>,
    pub tz: Option<String>,
    pub catch_up: String,
    pub catch_up_max: u32,
    pub grace_ms: u64,
    pub name: Option<String>,
    pub timeout_ms: u64,
    pub keep_results_for_ms: u64,
    pub max_retries: Option<u32>,
}

/// Validate and start the schedule in this process; its name.
pub(crate) fn add(
    queue: &TaskQueue,
    args: AddPeriodic,
    payload: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let invalid = |key: &str, message: &dyn std::fmt::Display| {
        PyValueError::new_err(format!("add_periodic: `{key}`: {message}"))
    };
    let catch_up = CatchUp::parse(&args.catch_up).map_err(|e| invalid("catch_up", &e))?;
    let config = PeriodicConfig {
        cron: args.cron,
        every_ms: args.every_ms,
        tz: args.tz,
        catch_up,
        catch_up_max: args.catch_up_max,
        grace_ms: args.grace_ms,
        name: args.name,
        timeout_ms: Some(args.timeout_ms),
        keep_results_for_ms: Some(args.keep_results_for_ms),
        max_retries: args.max_retries,
        ..PeriodicConfig::new(args.function)
    };
    let mut schedule = config
        .validate()
        .map_err(|e| PyValueError::new_err(format!("add_periodic: {e}")))?;
    schedule.payload = json::to_json_string(payload, "the periodic task's payload")?;
    let name = schedule.name.clone();
    queue
        .add_periodic(schedule)
        .map_err(|e| PuffError::new_err(e.to_string()))?;
    Ok(name)
}

/// The id the task of `schedule`'s tick at `tick_unix_ms` has (on any process).
pub(crate) fn task_id(queue: &TaskQueue, schedule: &str, tick_unix_ms: u64) -> String {
    tick_task_id(queue.name(), schedule, tick_unix_ms)
}
