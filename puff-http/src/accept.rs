//! The accept loop: takes connections off the listening socket, at most `max_connections`
//! at once, and rides out a shortage of file descriptors instead of spinning on it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::load::{ConnectionSlot, ServerLoad};

/// First pause after `accept` fails for lack of descriptors; doubled up to the cap, so the
/// loop serves again within a few milliseconds of a descriptor freeing up.
const SHORTAGE_FIRST_PAUSE: Duration = Duration::from_millis(5);
const SHORTAGE_MAX_PAUSE: Duration = Duration::from_millis(100);
/// A worker with clearly more connections than another waits up to this many pauses
/// before accepting anyway (the other may be slow to wake, or stuck).
const MAX_YIELDS: u32 = 3;
const YIELD_PAUSE: Duration = Duration::from_millis(1);

/// Takes the worker off the load board when the accept loop ends.
struct Withdraw(Arc<ServerLoad>);

impl Drop for Withdraw {
    fn drop(&mut self) {
        self.0.not_accepting();
    }
}

/// Accepts until `stop` fires, handing each connection (with its `max_connections` permit
/// and its count in `load`, both released when the connection ends) to `serve`; pauses
/// while `load` has `max_concurrent_requests` in flight, and with `--workers N` lets an
/// accept go by while another worker has clearly fewer connections.
pub(crate) async fn accept_loop<F>(
    listener: TcpListener,
    max_connections: Option<usize>,
    load: Arc<ServerLoad>,
    mut stop: watch::Receiver<bool>,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr, (Option<OwnedSemaphorePermit>, ConnectionSlot)),
{
    let slots = max_connections.map(|n| Arc::new(Semaphore::new(n)));
    // Read now: once descriptors run out, /proc cannot be opened either.
    let mut shortage = Shortage {
        open_files_limit: open_files_limit(),
        ..Shortage::default()
    };
    // Off the load board when the loop ends, however it ends.
    let _withdraw = Withdraw(load.clone());
    loop {
        load.accepting();
        let permit = match &slots {
            Some(slots) => {
                if slots.available_permits() == 0 {
                    load.not_accepting();
                }
                tokio::select! {
                    permit = slots.clone().acquire_owned() => permit.ok(),
                    _ = stop.changed() => return,
                }
            }
            None => None,
        };
        if load.is_full() {
            load.not_accepting();
        }
        tokio::select! {
            _ = load.room_to_accept() => {}
            _ = stop.changed() => return,
        }
        load.accepting();
        // A worker with clearly more connections than another lets a few accepts go by.
        for _ in 0..MAX_YIELDS {
            if !load.should_yield() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(YIELD_PAUSE) => {}
                _ = stop.changed() => return,
            }
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Full while waiting: leave the connection to a worker with room.
            _ = load.full() => continue,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                shortage.ended();
                let connection = load.connection_opened();
                serve(tcp, peer, (permit, connection));
            }
            Err(e) if is_descriptor_shortage(&e) => {
                let pause = shortage.failed(&e);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return,
                }
            }
            // The client gave up between SYN and accept (ECONNABORTED and the like).
            Err(e) => tracing::debug!(target: "puff::http", "accept failed: {e}"),
        }
    }
}

fn is_descriptor_shortage(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One burst of failed accepts: logged once when it starts and once when it ends.
#[derive(Default)]
struct Shortage {
    since: Option<Instant>,
    pause: Duration,
    refused: u64,
    open_files_limit: Option<String>,
}

impl Shortage {
    /// Records a failed accept; returns how long to pause before the next.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.refused += 1;
        if self.since.is_none() {
            self.since = Some(Instant::now());
            self.pause = SHORTAGE_FIRST_PAUSE;
            tracing::warn!(
                target: "puff::http",
                "cannot accept connections: {e} (open files limit: {}); new connections wait \
                 in the listen queue until some close. Raise `ulimit -n`, or set \
                 `max_connections` below the limit",
                self.open_files_limit.as_deref().unwrap_or("unknown")
            );
        } else {
            self.pause = (self.pause * 2).min(SHORTAGE_MAX_PAUSE);
        }
        self.pause
    }

    fn ended(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                target: "puff::http",
                "accepting connections again after {:.1} s without file descriptors \
                 ({} accepts failed)",
                since.elapsed().as_secs_f64(),
                self.refused
            );
            self.refused = 0;
        }
    }
}

/// The soft `RLIMIT_NOFILE`, read from /proc (no libc call needed).
fn open_files_limit() -> Option<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortage_errors_are_recognised() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(is_descriptor_shortage(&std::io::Error::from_raw_os_error(
                code
            )));
        }
        // ECONNABORTED is the client's doing, not ours.
        assert!(!is_descriptor_shortage(&std::io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
    }

    #[test]
    fn pauses_grow_to_the_cap_and_reset_after_a_burst() {
        // Read now: once descriptors run out, /proc cannot be opened either.
        let mut shortage = Shortage {
            open_files_limit: open_files_limit(),
            ..Shortage::default()
        };
        let e = std::io::Error::from_raw_os_error(24);
        assert_eq!(shortage.failed(&e), SHORTAGE_FIRST_PAUSE);
        let mut last = SHORTAGE_FIRST_PAUSE;
        for _ in 0..10 {
            last = shortage.failed(&e);
        }
        assert_eq!(last, SHORTAGE_MAX_PAUSE);
        shortage.ended();
        assert!(shortage.since.is_none());
        assert_eq!(shortage.failed(&e), SHORTAGE_FIRST_PAUSE);
    }

    #[test]
    fn the_open_files_limit_is_read() {
        let limit = open_files_limit().expect("/proc/self/limits");
        assert!(
            limit == "unlimited" || limit.parse::<u64>().is_ok(),
            "{limit}"
        );
    }
}
