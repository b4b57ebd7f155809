//! Prometheus metrics shared by every crate of Puff: static metric families (counters,
//! gauges, histograms) that record into the shared [`arena`], the text exposition of that
//! arena, and the `/metrics` endpoint.
//!
//! Off until a program enables it (`metrics_bind`): recording is then one atomic load and
//! a return. On, a series is found in the arena by hashing its key (no lock, no
//! allocation) and recorded with atomic adds. Under a supervisor, every worker records
//! into the supervisor's arena with a `worker` label, so one endpoint (the supervisor's)
//! shows every worker, and a replacement worker keeps counting where its predecessor
//! stopped.
//!
//! ```
//! use puff_greenlet::metrics::CounterFamily;
//!
//! static JOBS: CounterFamily = CounterFamily::new("app_jobs_total", "Jobs run.", &["kind"]);
//! JOBS.with(&["import"]).inc();
//! ```

pub mod arena;
mod exposition;
mod family;
pub mod pool;
pub(crate) mod python;
mod serve;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arena::Arena;

pub use exposition::{CONTENT_TYPE, render};
pub use family::{
    Counter, CounterFamily, DURATION_BUCKETS, Gauge, GaugeFamily, Histogram, HistogramFamily,
};
pub use python::watch_gc;
pub use serve::serve;

/// The arena this process records into, and who it is there.
struct Recorder {
    arena: &'static Arena,
    /// The `worker` label's value (under a supervisor).
    worker: Option<String>,
    /// The process slot this process's gauges are kept under.
    slot: u16,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();
static DROP_LOGGED: AtomicBool = AtomicBool::new(false);

/// Records into `arena` from now on (once per process; later calls are ignored).
/// `worker` is the supervisor's worker id, `slot` this process's slot among the live
/// workers (its gauges are reset: a gauge of a process that is gone means nothing).
pub fn enable(arena: &'static Arena, worker: Option<u32>, slot: u16) {
    arena.reset_gauges(slot);
    let _ = RECORDER.set(Recorder {
        arena,
        worker: worker.map(|id| id.to_string()),
        slot,
    });
}

/// Records into a new arena of this process's own (no supervisor) and returns it for
/// [`serve`].
pub fn enable_in_process() -> std::io::Result<&'static Arena> {
    let (arena, _fd) = Arena::create()?;
    let arena: &'static Arena = Box::leak(Box::new(arena));
    enable(arena, None, 0);
    Ok(arena)
}

/// Whether this process records metrics.
pub fn enabled() -> bool {
    RECORDER.get().is_some()
}

/// `Some(now)` when metrics are on: a start time to measure from, free when off.
pub fn start_timer() -> Option<Instant> {
    enabled().then(Instant::now)
}

fn recorder() -> Option<&'static Recorder> {
    RECORDER.get()
}

/// Logs, once per process, that series were dropped for want of room.
fn note_dropped(key: &[u8]) {
    if !DROP_LOGGED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the metrics arena is full or a label set is too long; series such as `{}` are \
             not recorded (counted in puff_metrics_dropped_series_total)",
            String::from_utf8_lossy(key).replace(['\x1d', '\x1e', '\x1f'], " ")
        );
    }
}
