//! The load board: one page of shared memory where each worker of a supervisor posts how
//! many connections it has open, so that the workers sharing one accept queue can balance.
//!
//! Why: when a burst of connections arrives, every worker is woken, and the first one to
//! run drains the whole queue in microseconds; with keep-alive clients (wrk, a load
//! balancer's pool) one worker then serves everything while the others idle. With the
//! board, a worker holding clearly more connections than the least loaded accepting
//! worker lets a few accepts go by, so the queue drains to that one instead.
//!
//! The supervisor creates the board (a memfd), gives each worker a slot, and clears a
//! slot when its worker exits. A worker posts its count only while it accepts, and
//! withdraws (posts [`ABSENT`]) when it stops, so that nobody waits on a worker that is
//! starting, paused or gone.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::shared_memory;

/// Slots on the board; more workers than this are not balanced (they still serve).
pub const SLOTS: usize = 256;
/// A slot whose worker is not accepting.
pub const ABSENT: u32 = u32::MAX;
const BYTES: usize = SLOTS * std::mem::size_of::<AtomicU32>();

/// A mapping of the board.
pub struct LoadBoard {
    slots: &'static [AtomicU32; SLOTS],
}

impl LoadBoard {
    /// A new board, every slot absent, and its descriptor for the workers (close-on-exec
    /// here; the supervisor places a copy in each worker).
    pub fn create() -> std::io::Result<(LoadBoard, OwnedFd)> {
        let fd = shared_memory::create(c"puff-load-board", BYTES)?;
        let board = LoadBoard::map(fd.as_fd())?;
        for slot in board.slots {
            slot.store(ABSENT, Ordering::Relaxed);
        }
        Ok((board, fd))
    }

    /// Maps the board behind `fd` (the worker's inherited copy, or the supervisor's).
    pub fn map(fd: BorrowedFd<'_>) -> std::io::Result<LoadBoard> {
        // SAFETY: AtomicU32 has no invalid bit patterns, and the board is BYTES long.
        #[allow(unsafe_code)]
        let slots = unsafe { shared_memory::map(fd, BYTES)? };
        Ok(LoadBoard { slots })
    }

    /// Posts `open` connections for `slot` (or [`ABSENT`]).
    pub fn post(&self, slot: usize, open: u32) {
        if let Some(s) = self.slots.get(slot) {
            s.store(open, Ordering::Relaxed);
        }
    }

    /// Whether the worker in `slot`, with `open` connections, should let an accept go by:
    /// another accepting worker has clearly fewer (fewer by more than an eighth, and by
    /// more than 2, so that the usual jitter between equally loaded workers never
    /// delays an accept).
    pub fn should_yield(&self, slot: usize, open: u32) -> bool {
        let least = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != slot)
            .map(|(_, s)| s.load(Ordering::Relaxed))
            .filter(|n| *n != ABSENT)
            .min();
        least.is_some_and(|least| open > least + 2 + least / 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_with_clearly_more_connections_yields_to_the_least_loaded() {
        let (board, fd) = LoadBoard::create().unwrap();
        // A second mapping, as a worker has: the same memory.
        let other = LoadBoard::map(fd.as_fd()).unwrap();
        assert!(!board.should_yield(0, 100), "nobody else accepts");
        other.post(1, 10);
        assert!(board.should_yield(0, 20));
        assert!(!board.should_yield(0, 12), "within the slack");
        assert!(!board.should_yield(1, 10), "its own slot does not count");
        other.post(1, ABSENT);
        assert!(
            !board.should_yield(0, 20),
            "an absent worker is not waited for"
        );
    }
}
