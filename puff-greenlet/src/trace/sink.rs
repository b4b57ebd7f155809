//! Where finished spans go: a bounded queue the exporter drains in the background.
//!
//! Installed once, by the exporter at start-up; until then [`enabled`] is false and spans
//! are not even started. A full queue drops the span and counts it rather than slowing
//! the request or the Python thread down.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::record::FinishedSpan;

struct Sink {
    sender: tokio::sync::mpsc::Sender<FinishedSpan>,
    dropped: AtomicU64,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// The exporter's end of the queue.
pub type SpanReceiver = tokio::sync::mpsc::Receiver<FinishedSpan>;

/// Whether spans are recorded (an exporter is installed): one atomic load.
#[inline]
pub fn enabled() -> bool {
    SINK.get().is_some()
}

/// Install the queue (holding up to `capacity` spans) and return its receiving end; `None`
/// when one is installed already (one exporter per process).
pub fn install(capacity: usize) -> Option<SpanReceiver> {
    let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
    SINK.set(Sink {
        sender,
        dropped: AtomicU64::new(0),
    })
    .ok()?;
    super::current::mark_active();
    Some(receiver)
}

/// Queue a finished span; dropped (and counted) when the queue is full or closed.
pub fn submit(span: FinishedSpan) {
    if let Some(sink) = SINK.get()
        && sink.sender.try_send(span).is_err()
    {
        sink.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Spans dropped so far because the queue was full.
pub fn dropped_spans() -> u64 {
    SINK.get()
        .map_or(0, |sink| sink.dropped.load(Ordering::Relaxed))
}
