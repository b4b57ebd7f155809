//! The server's load across its connections: open connections (posted on the
//! supervisor's load board, so that workers sharing one socket balance), requests in flight (held under
//! `max_concurrent_requests` by pausing the accept loop, so that with `--workers N` new
//! connections go to a less busy worker instead of queueing behind this one's Python
//! thread) and requests served (a worker asks its supervisor to recycle it after
//! `max_requests`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use puff_greenlet::load_board::{ABSENT, LoadBoard};
use puff_greenlet::supervision::{self, WorkerMessage};
use tokio::sync::Notify;

pub(crate) struct ServerLoad {
    /// Open connections, posted on the supervisor's load board (with `--workers N`).
    connections: AtomicU32,
    board: Option<(&'static LoadBoard, usize)>,
    in_flight: AtomicUsize,
    served: AtomicU64,
    max_in_flight: Option<usize>,
    /// Woken when a request ends while the accept loop waits for room.
    room: Notify,
    /// Woken when the last free slot is taken while the accept loop waits in `accept`.
    full: Notify,
    recycle_after: Option<u64>,
    recycle_asked: AtomicBool,
}

impl ServerLoad {
    pub(crate) fn new(max_in_flight: Option<usize>, recycle_after: Option<u64>) -> Arc<Self> {
        Arc::new(ServerLoad {
            connections: AtomicU32::new(0),
            board: supervision::load_board(),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            max_in_flight,
            room: Notify::new(),
            full: Notify::new(),
            recycle_after,
            recycle_asked: AtomicBool::new(false),
        })
    }

    /// Counts a connection in; it is counted out when the returned guard drops.
    pub(crate) fn connection_opened(self: &Arc<Self>) -> ConnectionSlot {
        let open = self.connections.fetch_add(1, Ordering::AcqRel) + 1;
        self.post(open);
        crate::metrics::connection_opened();
        ConnectionSlot(self.clone())
    }

    fn post(&self, open: u32) {
        if let Some((board, slot)) = self.board {
            board.post(slot, open);
        }
    }

    /// Posts this worker's connections: it accepts (again).
    pub(crate) fn accepting(&self) {
        self.post(self.connections.load(Ordering::Acquire));
    }

    /// Takes this worker off the board while it does not accept, so that no other
    /// worker leaves connections to it.
    pub(crate) fn not_accepting(&self) {
        self.post(ABSENT);
    }

    /// Whether to let an accept go by for a worker with clearly fewer connections.
    pub(crate) fn should_yield(&self) -> bool {
        self.board.is_some_and(|(board, slot)| {
            board.should_yield(slot, self.connections.load(Ordering::Acquire))
        })
    }

    /// Whether every slot for a request is taken (the accept loop then waits for room).
    pub(crate) fn is_full(&self) -> bool {
        self.max_in_flight
            .is_some_and(|max| self.in_flight.load(Ordering::Acquire) >= max)
    }

    /// Counts a request in; it is counted out when the returned guard drops.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestSlot {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if self.max_in_flight.is_some_and(|max| before + 1 >= max) {
            self.full.notify_waiters();
        }
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(limit) = self.recycle_after
            && served >= limit
            && !self.recycle_asked.swap(true, Ordering::AcqRel)
        {
            supervision::notify(&WorkerMessage::Recycle(format!(
                "served {served} requests (max_requests)"
            )));
        }
        RequestSlot(self.clone())
    }

    /// Returns once fewer than `max_concurrent_requests` requests are in flight.
    pub(crate) async fn room_to_accept(&self) {
        let Some(max) = self.max_in_flight else {
            return;
        };
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a request ending in between is not missed.
            notified.as_mut().enable();
            if self.in_flight.load(Ordering::Acquire) < max {
                return;
            }
            notified.await;
        }
    }

    /// Returns when `max_concurrent_requests` are in flight: the accept loop, waiting in
    /// `accept` since there was room, must stop taking connections (pending forever when
    /// there is no limit).
    pub(crate) async fn full(&self) {
        let Some(max) = self.max_in_flight else {
            return std::future::pending().await;
        };
        loop {
            let notified = self.full.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight.load(Ordering::Acquire) >= max {
                return;
            }
            notified.await;
        }
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// One open connection counted in [`ServerLoad`].
pub(crate) struct ConnectionSlot(Arc<ServerLoad>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let open = self.0.connections.fetch_sub(1, Ordering::AcqRel) - 1;
        self.0.post(open);
        crate::metrics::connection_closed();
    }
}

/// One request counted in [`ServerLoad`].
pub(crate) struct RequestSlot(Arc<ServerLoad>);

impl Drop for RequestSlot {
    fn drop(&mut self) {
        let load = &self.0;
        let before = load.in_flight.fetch_sub(1, Ordering::AcqRel);
        if load.max_in_flight.is_some_and(|max| before <= max) {
            load.room.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_accept_loop_waits_for_room_and_wakes_when_a_request_ends() {
        let load = ServerLoad::new(Some(2), None);
        let a = load.request_started();
        let b = load.request_started();
        assert_eq!(load.in_flight(), 2);
        let waiting = tokio::time::timeout(Duration::from_millis(50), load.room_to_accept());
        assert!(
            waiting.await.is_err(),
            "must wait while 2 of 2 are in flight"
        );
        let waiter = {
            let load = load.clone();
            tokio::spawn(async move { load.room_to_accept().await })
        };
        tokio::task::yield_now().await;
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken when a request ended")
            .unwrap();
        drop(b);
        assert_eq!(load.in_flight(), 0);
    }

    #[tokio::test]
    async fn taking_the_last_slot_interrupts_an_accept_in_progress() {
        let load = ServerLoad::new(Some(1), None);
        let accepting = {
            let load = load.clone();
            tokio::spawn(async move { load.full().await })
        };
        tokio::task::yield_now().await;
        let _slot = load.request_started();
        tokio::time::timeout(Duration::from_secs(5), accepting)
            .await
            .expect("told the slots are full")
            .unwrap();
    }

    #[tokio::test]
    async fn no_limit_never_waits() {
        let load = ServerLoad::new(None, None);
        let _held: Vec<_> = (0..100).map(|_| load.request_started()).collect();
        load.room_to_accept().await;
    }
}
