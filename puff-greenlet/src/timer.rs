//! A precise sleep for `puff.sleep_ms`.
//!
//! Tokio's timer wheel works in whole milliseconds and its driver parks on epoll with a
//! millisecond timeout, both rounded up, so a 20 ms `tokio::time::sleep` typically ends
//! after 21-22 ms. Here one thread keeps a heap of deadlines and parks until the nearest
//! one (futex timeouts are precise to tens of microseconds), then wakes the sleepers.
//! A sleep never ends before its deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

struct Sleeper {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// What happens at the deadline.
enum Action {
    /// Wake a `PreciseSleep` future.
    Wake(Arc<Sleeper>),
    /// Run a callback on the timer thread (must be quick, e.g. a channel send).
    Call(Box<dyn FnOnce() + Send>),
}

struct Entry {
    deadline: Instant,
    seq: u64,
    action: Action,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

const SLACK_PER_PENDING: Duration = Duration::from_micros(1);
const MAX_SLACK: Duration = Duration::from_micros(500);

/// Pending deadlines and the last sequence number handed out (ties keep FIFO order).
static HEAP: Mutex<(BinaryHeap<Reverse<Entry>>, u64)> = Mutex::new((BinaryHeap::new(), 0));

/// The timer thread, started on first use.
fn timer_thread() -> &'static Thread {
    static THREAD: OnceLock<Thread> = OnceLock::new();
    THREAD.get_or_init(|| {
        std::thread::Builder::new()
            .name("puff-timer".into())
            .spawn(timer_loop)
            .expect("spawn the puff-timer thread")
            .thread()
            .clone()
    })
}

fn timer_loop() {
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        let (next, pending) = {
            let Ok(mut guard) = HEAP.lock() else { return };
            while guard.0.peek().is_some_and(|e| e.0.deadline <= now) {
                if let Some(Reverse(entry)) = guard.0.pop() {
                    due.push(entry.action);
                }
            }
            (guard.0.peek().map(|e| e.0.deadline), guard.0.len())
        };
        for action in due {
            match action {
                Action::Wake(sleeper) => {
                    sleeper.fired.store(true, Ordering::Release);
                    let waker = sleeper.waker.lock().ok().and_then(|mut w| w.take());
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
                Action::Call(callback) => callback(),
            }
        }
        // Spurious or early wake-ups are harmless: deadlines are re-checked above.
        match next {
            Some(deadline) => {
                // Many pending sleeps: wake a little after the deadline so one wake-up fires
                // a batch (sleeps end late by at most MAX_SLACK, never early).
                let slack = SLACK_PER_PENDING
                    .saturating_mul(pending as u32)
                    .min(MAX_SLACK);
                std::thread::park_timeout(
                    (deadline + slack).saturating_duration_since(Instant::now()),
                )
            }
            None => std::thread::park(),
        }
    }
}

fn push(deadline: Instant, action: Action) {
    let earliest = {
        let Ok(mut guard) = HEAP.lock() else { return };
        guard.1 += 1;
        let seq = guard.1;
        guard.0.push(Reverse(Entry {
            deadline,
            seq,
            action,
        }));
        guard.0.peek().is_some_and(|e| e.0.seq == seq)
    };
    if earliest {
        timer_thread().unpark();
    }
}

/// Run `callback` on the timer thread at (never before) `deadline`. It must be quick.
pub fn call_at(deadline: Instant, callback: impl FnOnce() + Send + 'static) {
    push(deadline, Action::Call(Box::new(callback)));
}

/// Future that completes at (never before) `now + duration`.
pub struct PreciseSleep {
    deadline: Instant,
    sleeper: Option<Arc<Sleeper>>,
}

/// Sleep precisely for `duration`.
pub fn sleep(duration: Duration) -> PreciseSleep {
    sleep_until(Instant::now() + duration)
}

/// Sleep precisely until `deadline`.
pub fn sleep_until(deadline: Instant) -> PreciseSleep {
    PreciseSleep {
        deadline,
        sleeper: None,
    }
}

impl Future for PreciseSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(sleeper) = &self.sleeper {
            if sleeper.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            if let Ok(mut w) = sleeper.waker.lock() {
                *w = Some(cx.waker().clone());
            }
            // The timer may have fired between the check and storing the waker.
            return if sleeper.fired.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let sleeper = Arc::new(Sleeper {
            fired: AtomicBool::new(false),
            waker: Mutex::new(Some(cx.waker().clone())),
        });
        push(self.deadline, Action::Wake(sleeper.clone()));
        self.sleeper = Some(sleeper);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_early_and_all_fire() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let started = Instant::now();
            let sleeps: Vec<_> = [30u64, 5, 20, 5, 0]
                .into_iter()
                .map(|ms| {
                    tokio::spawn(async move {
                        let t = Instant::now();
                        sleep(Duration::from_millis(ms)).await;
                        (ms, t.elapsed())
                    })
                })
                .collect();
            for s in sleeps {
                let (ms, elapsed) = s.await.expect("sleep task");
                assert!(
                    elapsed >= Duration::from_millis(ms),
                    "{ms} ms sleep took {elapsed:?}"
                );
            }
            assert!(started.elapsed() >= Duration::from_millis(30));
        });
    }

    #[test]
    fn callbacks_run_in_deadline_order_and_never_early() {
        let (tx, rx) = std::sync::mpsc::channel();
        let now = Instant::now();
        for ms in [25u64, 5, 15] {
            let tx = tx.clone();
            let deadline = now + Duration::from_millis(ms);
            call_at(deadline, move || {
                let _ = tx.send((ms, Instant::now() >= deadline));
            });
        }
        let got: Vec<_> = (0..3)
            .map(|_| {
                rx.recv_timeout(Duration::from_secs(5))
                    .expect("callback ran")
            })
            .collect();
        assert_eq!(got, vec![(5, true), (15, true), (25, true)]);
    }
}
