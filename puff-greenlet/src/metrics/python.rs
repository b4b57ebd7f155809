//! Metrics of the Python thread: how long work waits in the hub's queue before it runs,
//! greenlets running a job, and garbage-collection pauses (from `gc.callbacks`).

use std::cell::Cell;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyString};

use super::family::{DURATION_BUCKETS, GaugeFamily, HistogramFamily};

pub(crate) static HUB_LAG: HistogramFamily = HistogramFamily::new(
    "puff_python_hub_lag_seconds",
    "Time work for the Python thread (a new job, or a greenlet whose future finished) waited \
     in the hub's queue before it ran.",
    &[],
    DURATION_BUCKETS,
);

pub(crate) static GREENLETS_ALIVE: GaugeFamily = GaugeFamily::new(
    "puff_python_greenlets_alive",
    "Greenlets running a job or parked waiting on Rust.",
    &[],
);

static GC_PAUSES: HistogramFamily = HistogramFamily::new(
    "puff_python_gc_pause_seconds",
    "Python garbage collections, by generation: how long each stopped the Python thread.",
    &["generation"],
    DURATION_BUCKETS,
);

pub(crate) static BLOCKED: HistogramFamily = HistogramFamily::new(
    "puff_python_blocked_seconds",
    "Blocks the watchdog saw (block_warn_ms): how long one greenlet, task or coroutine step \
     held the Python thread without yielding, every block past the threshold.",
    &[],
    DURATION_BUCKETS,
);

thread_local! {
    /// When the collection in progress on this thread started.
    static GC_STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Times every garbage collection (call on the Python thread once metrics are on).
pub fn watch_gc(py: Python<'_>) -> PyResult<()> {
    let callback = PyCFunction::new_closure(py, None, None, |args, _kwargs| -> PyResult<()> {
        let phase = args.get_item(0)?;
        let phase = phase.cast::<PyString>()?.to_str()?;
        if phase == "start" {
            GC_STARTED.with(|s| s.set(Some(Instant::now())));
        } else if let Some(started) = GC_STARTED.with(Cell::take) {
            let info = args.get_item(1)?;
            let generation = info
                .cast::<PyDict>()
                .ok()
                .and_then(|d| d.get_item("generation").ok().flatten())
                .and_then(|g| g.extract::<u8>().ok());
            let label = match generation {
                Some(0) => "0",
                Some(1) => "1",
                Some(2) => "2",
                _ => "other",
            };
            GC_PAUSES.with(&[label]).observe_duration(started.elapsed());
        }
        Ok(())
    })?;
    py.import("gc")?
        .getattr("callbacks")?
        .call_method1("append", (callback,))?;
    Ok(())
}
