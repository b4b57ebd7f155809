//! The blocked-thread detector: a plain thread, outside the GIL, that notices when one
//! greenlet, task, resolver or coroutine step has held the Python thread longer than a
//! threshold (`block_warn_ms`), and logs one warning with the Python stack that holds it.
//!
//! The hub calls [`beat`] each time control is back in it (one relaxed store per message)
//! and, in plain mode, says when it sleeps on its queue. The watchdog samples both every
//! quarter threshold. A beat that has not moved for half the threshold may only be an idle
//! event loop, so the watchdog posts a no-op through the hub's queue (which wakes the loop);
//! only a thread that is really held leaves it unanswered. Past the threshold, with the
//! no-op still queued, the watchdog takes the GIL (a blocking call has released it; a CPU
//! loop gives it up at the switch interval), reads the thread's stack with
//! `sys._current_frames()` and warns, once per block and at most once a second. When the
//! block ends, its length goes to the `puff_python_blocked_seconds` histogram and to the
//! observer set with [`set_blocked_observer`].
//!
//! Blocks are reported once the program serves ([`arm`]): importing the app at start-up
//! holds the thread too, but nothing waits on it yet.

mod report;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::error::{PuffError, PuffResult};
use crate::runtime::PythonRuntime;

/// Bumped by the hub whenever control is back in it.
static HEARTBEAT: AtomicU64 = AtomicU64::new(0);
/// Plain mode: the hub sleeps on its queue (idle, not held).
static HUB_SLEEPING: AtomicBool = AtomicBool::new(false);
/// The watchdog's no-op is on the hub's queue and not handled yet.
static PING_PENDING: AtomicBool = AtomicBool::new(false);
/// Called with the length of every block longer than the threshold, when it ends.
static OBSERVER: OnceLock<fn(Duration)> = OnceLock::new();
/// The watchdog of this process, if one was started; [`arm`] reaches it here.
static ACTIVE: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

/// At most one warning per this interval; the blocks in between are counted.
const WARN_INTERVAL: Duration = Duration::from_secs(1);

/// Control is back in the hub. One relaxed load and store: only the hub writes.
#[inline]
pub(crate) fn beat() {
    HEARTBEAT.store(
        HEARTBEAT.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Plain mode: the hub is about to sleep on its queue (`true`) or has woken (`false`).
#[inline]
pub(crate) fn hub_sleeping(sleeping: bool) {
    HUB_SLEEPING.store(sleeping, Ordering::Relaxed);
}

/// Receive the length of each block longer than the threshold, when it ends (for a
/// metrics histogram). Only the first observer set is kept; returns whether it was this one.
pub fn set_blocked_observer(observer: fn(Duration)) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// The program now serves: report blocks from here on. Without a running [`Watchdog`]
/// (`block_warn_ms = 0`, or a one-off command) this does nothing.
pub fn arm() {
    let active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = active.as_ref() {
        shared.armed.store(true, Ordering::Release);
        shared.thread.unpark();
    }
}

/// State shared between the [`Watchdog`] handle and its thread.
struct Shared {
    threshold: Duration,
    armed: AtomicBool,
    stop: AtomicBool,
    /// `threading.get_ident()` of the Python thread (0 until the hub reports it).
    python_ident: AtomicU64,
    thread: Thread,
}

/// The running watchdog thread; dropping the handle stops it.
pub struct Watchdog {
    shared: Arc<Shared>,
}

impl Watchdog {
    /// Start watching `runtime`'s Python thread for blocks longer than `threshold`; nothing
    /// is reported before [`arm`]. One watchdog per process.
    pub fn start(runtime: &PythonRuntime, threshold: Duration) -> PuffResult<Watchdog> {
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        if active.is_some() {
            return Err(PuffError::Other(
                "a blocked-thread watchdog is already running in this process".into(),
            ));
        }
        let (thread_tx, thread_rx) = std::sync::mpsc::sync_channel::<Arc<Shared>>(1);
        let watched = runtime.clone();
        let handle = thread::Builder::new()
            .name("puff-watchdog".into())
            .spawn(move || {
                if let Ok(shared) = thread_rx.recv() {
                    watch(&shared, &watched);
                }
            })
            .map_err(PuffError::Io)?;
        let shared = Arc::new(Shared {
            threshold: threshold.max(Duration::from_millis(1)),
            armed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            python_ident: AtomicU64::new(0),
            thread: handle.thread().clone(),
        });
        let reported = shared.clone();
        runtime.run_on_hub(move |py| {
            let ident = py
                .import("threading")
                .and_then(|t| t.call_method0("get_ident"))
                .and_then(|i| i.extract::<u64>());
            match ident {
                Ok(ident) => reported.python_ident.store(ident, Ordering::Release),
                Err(e) => tracing::debug!("the watchdog cannot name the Python thread: {e}"),
            }
        })?;
        let _ = thread_tx.send(shared.clone());
        *active = Some(shared.clone());
        Ok(Watchdog { shared })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Not joined: the thread may be waiting for the GIL behind a block that never ends.
        self.shared.stop.store(true, Ordering::Release);
        self.shared.thread.unpark();
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        if active
            .as_ref()
            .is_some_and(|a| Arc::ptr_eq(a, &self.shared))
        {
            *active = None;
        }
    }
}

/// How often the watchdog samples the heartbeat for `threshold`.
fn tick_for(threshold: Duration) -> Duration {
    (threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(250))
}

/// One block past the threshold, from the first sample that saw the stale beat.
struct Block {
    since: Instant,
    warned: bool,
}

/// Lets one warning through per [`WARN_INTERVAL`] and counts the others.
#[derive(Default)]
struct WarnLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimit {
    /// `Some(blocks not reported since the last warning)` when a warning may go out now.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < WARN_INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The watchdog thread: wait to be armed, then sample until stopped.
fn watch(shared: &Shared, runtime: &PythonRuntime) {
    while !shared.armed.load(Ordering::Acquire) {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        thread::park();
    }
    let threshold = shared.threshold;
    let tick = tick_for(threshold);
    let mut seen = HEARTBEAT.load(Ordering::Relaxed);
    let mut since = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    let mut block: Option<Block> = None;
    let mut limit = WarnLimit::default();
    loop {
        thread::park_timeout(tick);
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        if !PING_PENDING.load(Ordering::Acquire) {
            ping_sent = None;
        }
        let heartbeat = HEARTBEAT.load(Ordering::Relaxed);
        if heartbeat != seen || HUB_SLEEPING.load(Ordering::Relaxed) {
            seen = heartbeat;
            if let Some(ended) = block.take() {
                report::block_ended(now.duration_since(ended.since), ended.warned);
                let held = now.duration_since(ended.since);
                crate::metrics::python::BLOCKED
                    .with(&[])
                    .observe_duration(held);
                if let Some(observer) = OBSERVER.get() {
                    observer(held);
                }
            }
            since = now;
            continue;
        }
        let held = now.duration_since(since);
        if held >= threshold / 2 && !PING_PENDING.swap(true, Ordering::AcqRel) {
            let pong = runtime.run_on_hub(|_py| PING_PENDING.store(false, Ordering::Release));
            if pong.is_err() {
                return; // the Python thread has stopped
            }
            ping_sent = Some(now);
        }
        // Held past the threshold, and the no-op has had time to be answered by an idle hub.
        let unanswered = ping_sent.is_some_and(|sent| now.duration_since(sent) >= tick / 2);
        if block.is_none() && held >= threshold && unanswered {
            let warned = match limit.allow(now) {
                Some(suppressed) => {
                    let ident = shared.python_ident.load(Ordering::Acquire);
                    report::block_warning(ident, since, threshold, suppressed);
                    true
                }
                None => false,
            };
            block = Some(Block { since, warned });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_limited_to_one_per_interval_and_count_the_rest() {
        let start = Instant::now();
        let mut limit = WarnLimit::default();
        assert_eq!(limit.allow(start), Some(0));
        assert_eq!(limit.allow(start + Duration::from_millis(200)), None);
        assert_eq!(limit.allow(start + Duration::from_millis(900)), None);
        assert_eq!(limit.allow(start + WARN_INTERVAL), Some(2));
        assert_eq!(limit.allow(start + WARN_INTERVAL * 3), Some(0));
    }

    #[test]
    fn ticks_are_a_quarter_threshold_within_bounds() {
        assert_eq!(
            tick_for(Duration::from_millis(100)),
            Duration::from_millis(25)
        );
        assert_eq!(tick_for(Duration::from_millis(2)), Duration::from_millis(1));
        assert_eq!(
            tick_for(Duration::from_secs(10)),
            Duration::from_millis(250)
        );
    }
}
