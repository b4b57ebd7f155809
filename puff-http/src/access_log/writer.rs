//! The access log's writer: request threads append finished lines to a shared buffer, and
//! one thread writes the whole buffer to stderr with one `write(2)` [`BATCH_INTERVAL`] after
//! the first line arrives. A full buffer drops lines instead of making a request wait; how
//! many were dropped is logged once the writer catches up.

use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How long the writer lets lines collect before it writes them: one `write(2)` per
/// interval instead of one per request, however busy the server is.
const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Lines waiting beyond this many bytes are dropped: 100 ms of 200-byte JSON lines at
/// 800,000 requests a second, several times what one process serves, so only a stalled
/// stderr fills it.
const MAX_PENDING_BYTES: usize = 16 * 1024 * 1024;

struct Writer {
    pending: Mutex<Pending>,
    /// Signalled when a line arrives while the writer thread sleeps on it.
    arrived: Condvar,
    /// Held while a batch is taken and written, so that batches reach stderr in order
    /// whether the writer thread or [`flush`] writes them; holds the spare buffer.
    output: Mutex<Vec<u8>>,
}

struct Pending {
    lines: Vec<u8>,
    dropped: u64,
    writer_waiting: bool,
}

fn writer() -> &'static Writer {
    static WRITER: OnceLock<&'static Writer> = OnceLock::new();
    WRITER.get_or_init(|| {
        let writer: &'static Writer = Box::leak(Box::new(Writer::new()));
        let spawned = std::thread::Builder::new()
            .name("puff-access-log".into())
            .spawn(move || writer.run());
        if let Err(e) = spawned {
            // Lines then collect until the buffer is full and [`flush`] writes them.
            tracing::warn!("cannot start the access log writer thread: {e}");
        }
        writer
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queue one finished line (ending in a newline) for writing; never blocks on the output.
pub(super) fn push(line: &[u8]) {
    writer().push(line);
}

/// Write every queued line now (at shutdown, so the last requests' lines are not lost).
pub fn flush() {
    writer().write_batch();
}

impl Writer {
    fn new() -> Writer {
        Writer {
            pending: Mutex::new(Pending {
                lines: Vec::with_capacity(64 * 1024),
                dropped: 0,
                writer_waiting: false,
            }),
            arrived: Condvar::new(),
            output: Mutex::new(Vec::with_capacity(64 * 1024)),
        }
    }

    fn push(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        if pending.lines.len() + line.len() > MAX_PENDING_BYTES {
            pending.dropped += 1;
            return;
        }
        pending.lines.extend_from_slice(line);
        if pending.writer_waiting {
            pending.writer_waiting = false;
            drop(pending);
            self.arrived.notify_one();
        }
    }

    fn run(&self) {
        loop {
            let mut pending = lock(&self.pending);
            while pending.lines.is_empty() && pending.dropped == 0 {
                pending.writer_waiting = true;
                pending = self
                    .arrived
                    .wait(pending)
                    .unwrap_or_else(|e| e.into_inner());
            }
            drop(pending);
            std::thread::sleep(BATCH_INTERVAL);
            self.write_batch();
        }
    }

    /// Swap the pending lines for the empty spare buffer and write them.
    fn write_batch(&self) {
        let mut batch = lock(&self.output);
        let dropped = {
            let mut pending = lock(&self.pending);
            std::mem::swap(&mut pending.lines, &mut *batch);
            std::mem::take(&mut pending.dropped)
        };
        if !batch.is_empty() {
            // Nowhere better to report a failing stderr; the lines are lost either way.
            let _ = std::io::stderr().lock().write_all(&batch);
            batch.clear();
        }
        if dropped > 0 {
            tracing::warn!(
                target: "puff::access",
                "{dropped} access log lines were dropped: stderr took them slower than requests came"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_beyond_the_limit_are_counted_not_kept() {
        // No thread: nothing takes the lines, as when stderr blocks.
        let writer = Writer::new();
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_PENDING_BYTES / 1024 + 5) {
            writer.push(&line);
        }
        let pending = lock(&writer.pending);
        assert_eq!(pending.lines.len(), MAX_PENDING_BYTES);
        assert_eq!(pending.dropped, 5);
    }
}
