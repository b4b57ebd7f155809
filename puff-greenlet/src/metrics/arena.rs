//! The metrics arena: fixed-size entries in one memfd, shared by the supervisor and every
//! worker, so that counts add up across processes and outlive the worker that made them.
//!
//! Each entry is a series (one label set of a family) or a family's description. An entry
//! is claimed by compare-and-swap on its state word (empty -> writing -> ready), written
//! once, and then only its values change (atomic adds and stores). Lookups hash the key and
//! probe linearly, so finding a series takes no lock in any process.
//!
//! Entry 0 is the arena's own: it counts the series that found no room.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::shared_memory;

/// Entries in an arena (a power of two), each [`ENTRY_BYTES`].
pub const CAPACITY: usize = 4096;
/// Bytes of key an entry holds (family name, labels, or a description).
pub const KEY_BYTES: usize = KEY_WORDS * 8;
/// Values an entry holds: a histogram's count, sum and buckets, or one number.
pub const VALUES: usize = 16;

const KEY_WORDS: usize = 30;
const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();
const BYTES: usize = CAPACITY * ENTRY_BYTES;

const EMPTY: u32 = 0;
const WRITING: u32 = 1;
const READY: u32 = 2;
/// Times a lookup waits for an entry another thread or process is writing before it
/// probes on (the writer may have been killed mid-write; the key then lands further on).
const WRITING_SPINS: u32 = 10_000;
/// Entries a lookup probes before it gives up: in a nearly full arena a miss then costs a
/// bounded scan, not the whole arena, on every call.
const MAX_PROBES: usize = 512;

/// What an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A family's help text and type; for histograms, values hold the bucket bounds.
    Describe = 1,
    Counter = 2,
    /// Signed (i64 bits), one per process slot: see [`Arena::reset_gauges`].
    Gauge = 3,
    /// values[0] = count, values[1] = sum in billionths, values[2..] = per-bucket counts.
    Histogram = 4,
}

impl Kind {
    fn from_u8(n: u8) -> Option<Kind> {
        [Kind::Describe, Kind::Counter, Kind::Gauge, Kind::Histogram]
            .into_iter()
            .find(|k| *k as u8 == n)
    }
}

/// One entry. Only atomics, so every process may read and write it through a shared
/// reference; the key and header are written before the state turns ready (release) and
/// read after it is seen ready (acquire).
#[repr(C)]
pub struct Entry {
    state: AtomicU32,
    hash: AtomicU32,
    /// kind (8 bits), key length (16 bits) << 8, slot (16 bits) << 24.
    meta: AtomicU64,
    key: [AtomicU64; KEY_WORDS],
    values: [AtomicU64; VALUES],
}

impl Entry {
    pub fn value(&self, i: usize) -> &AtomicU64 {
        &self.values[i]
    }

    fn unpack(&self) -> (Option<Kind>, usize, u16) {
        let meta = self.meta.load(Ordering::Relaxed);
        (
            Kind::from_u8(meta as u8),
            ((meta >> 8) & 0xffff) as usize,
            (meta >> 24) as u16,
        )
    }

    fn key_bytes(&self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        for word in &self.key {
            out.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        out
    }

    fn key_equals(&self, key: &[u8]) -> bool {
        key.chunks(8)
            .zip(&self.key)
            .all(|(chunk, word)| word.load(Ordering::Relaxed) == pack_word(chunk))
    }
}

fn pack_word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..chunk.len()].copy_from_slice(chunk);
    u64::from_le_bytes(bytes)
}

/// A ready entry as the exposition reads it.
pub struct Snapshot<'a> {
    pub kind: Kind,
    pub key: Vec<u8>,
    pub slot: u16,
    pub entry: &'a Entry,
}

/// A mapping of the arena.
pub struct Arena {
    entries: &'static [Entry; CAPACITY],
}

impl Arena {
    /// A new, empty arena and its descriptor (close-on-exec here; the supervisor places a
    /// copy in each worker).
    pub fn create() -> std::io::Result<(Arena, OwnedFd)> {
        // A memfd reads as zeros: every entry empty.
        let fd = shared_memory::create(c"puff-metrics", BYTES)?;
        Ok((Arena::map(fd.as_fd())?, fd))
    }

    /// Maps the arena behind `fd` (a worker's inherited copy, or the creator's).
    pub fn map(fd: BorrowedFd<'_>) -> std::io::Result<Arena> {
        // SAFETY: an Entry is only atomics, valid for every bit pattern; the arena is
        // BYTES long.
        #[allow(unsafe_code)]
        let entries = unsafe { shared_memory::map(fd, BYTES)? };
        Ok(Arena { entries })
    }

    /// The entry for `key` of `kind` in process slot `slot` (0 except for gauges), claimed
    /// if it does not exist yet; `None` when the arena is full or the key too long (the
    /// miss is counted, see [`Arena::dropped`]).
    pub fn entry(&self, kind: Kind, key: &[u8], slot: u16) -> Option<&'static Entry> {
        self.entry_with(kind, key, slot, |_| {})
    }

    /// [`Arena::entry`], running `init` on a new entry before others can see it.
    pub fn entry_with(
        &self,
        kind: Kind,
        key: &[u8],
        slot: u16,
        init: impl FnOnce(&Entry),
    ) -> Option<&'static Entry> {
        if key.len() > KEY_BYTES {
            self.drop_one();
            return None;
        }
        let hash = fnv1a(key, slot);
        let meta = kind as u64 | (key.len() as u64) << 8 | u64::from(slot) << 24;
        let entries: &'static [Entry; CAPACITY] = self.entries;
        let start = hash as usize & (CAPACITY - 1);
        for probe in 0..MAX_PROBES {
            // Entry 0 is the arena's own.
            let index = 1 + (start + probe) % (CAPACITY - 1);
            let entry = &entries[index];
            let mut state = entry.state.load(Ordering::Acquire);
            if state == EMPTY {
                match entry.state.compare_exchange(
                    EMPTY,
                    WRITING,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        entry.hash.store(hash as u32, Ordering::Relaxed);
                        entry.meta.store(meta, Ordering::Relaxed);
                        for (word, chunk) in entry.key.iter().zip(key.chunks(8)) {
                            word.store(pack_word(chunk), Ordering::Relaxed);
                        }
                        init(entry);
                        entry.state.store(READY, Ordering::Release);
                        return Some(entry);
                    }
                    Err(now) => state = now,
                }
            }
            let mut spins = 0;
            while state == WRITING && spins < WRITING_SPINS {
                std::hint::spin_loop();
                spins += 1;
                state = entry.state.load(Ordering::Acquire);
            }
            if state == READY
                && entry.hash.load(Ordering::Relaxed) == hash as u32
                && entry.meta.load(Ordering::Relaxed) == meta
                && entry.key_equals(key)
            {
                return Some(entry);
            }
        }
        self.drop_one();
        None
    }

    fn drop_one(&self) {
        self.entries[0].values[0].fetch_add(1, Ordering::Relaxed);
    }

    /// Series that found no room (arena full, or key too long).
    pub fn dropped(&self) -> u64 {
        self.entries[0].values[0].load(Ordering::Relaxed)
    }

    /// Sets every gauge of process slot `slot` to 0: its process is gone (the supervisor
    /// calls this when a worker exits), or a new process takes the slot.
    pub fn reset_gauges(&self, slot: u16) {
        for snapshot in self.ready() {
            if snapshot.kind == Kind::Gauge && snapshot.slot == slot {
                snapshot.entry.values[0].store(0, Ordering::Relaxed);
            }
        }
    }

    /// Every ready entry, in arena order.
    pub fn ready(&self) -> impl Iterator<Item = Snapshot<'static>> {
        let entries: &'static [Entry; CAPACITY] = self.entries;
        entries[1..].iter().filter_map(|entry| {
            if entry.state.load(Ordering::Acquire) != READY {
                return None;
            }
            let (kind, len, slot) = entry.unpack();
            Some(Snapshot {
                kind: kind?,
                key: entry.key_bytes(len),
                slot,
                entry,
            })
        })
    }
}

/// FNV-1a over the key, then the slot: cheap for keys of a few dozen bytes.
fn fnv1a(key: &[u8], slot: u16) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.iter().chain(&slot.to_le_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_entry_is_found_again_and_shared_by_two_mappings() {
        let (arena, fd) = Arena::create().unwrap();
        let other = Arena::map(fd.as_fd()).unwrap();
        let a = arena
            .entry(Kind::Counter, b"requests\x1fworker\x1e1", 0)
            .unwrap();
        a.value(0).fetch_add(3, Ordering::Relaxed);
        let b = other
            .entry(Kind::Counter, b"requests\x1fworker\x1e1", 0)
            .unwrap();
        b.value(0).fetch_add(2, Ordering::Relaxed);
        assert_eq!(a.value(0).load(Ordering::Relaxed), 5, "same memory");
        let c = arena
            .entry(Kind::Counter, b"requests\x1fworker\x1e2", 0)
            .unwrap();
        assert_eq!(c.value(0).load(Ordering::Relaxed), 0, "another key");
        let gauge = arena
            .entry(Kind::Counter, b"requests\x1fworker\x1e1", 3)
            .unwrap();
        assert_eq!(gauge.value(0).load(Ordering::Relaxed), 0, "another slot");
        assert_eq!(arena.ready().count(), 3);
        let keys: Vec<Vec<u8>> = other.ready().map(|s| s.key).collect();
        assert!(
            keys.contains(&b"requests\x1fworker\x1e2".to_vec()),
            "{keys:?}"
        );
    }

    #[test]
    fn gauges_of_a_slot_are_reset() {
        let (arena, _fd) = Arena::create().unwrap();
        let mine = arena.entry(Kind::Gauge, b"open", 1).unwrap();
        let theirs = arena.entry(Kind::Gauge, b"open", 2).unwrap();
        let counter = arena.entry(Kind::Counter, b"served", 1).unwrap();
        for entry in [mine, theirs, counter] {
            entry.value(0).store(7, Ordering::Relaxed);
        }
        arena.reset_gauges(1);
        assert_eq!(mine.value(0).load(Ordering::Relaxed), 0);
        assert_eq!(theirs.value(0).load(Ordering::Relaxed), 7);
        assert_eq!(counter.value(0).load(Ordering::Relaxed), 7, "counters stay");
    }

    #[test]
    fn a_full_arena_counts_what_it_drops_and_keeps_the_rest() {
        let (arena, _fd) = Arena::create().unwrap();
        let mut stored = 0;
        while arena
            .entry(Kind::Counter, format!("c{stored}").as_bytes(), 0)
            .is_some()
        {
            stored += 1;
        }
        assert!(stored > CAPACITY / 2, "{stored}");
        assert_eq!(arena.dropped(), 1);
        assert!(
            arena.entry(Kind::Counter, b"c17", 0).is_some(),
            "old keys still found"
        );
        assert!(
            arena
                .entry(Kind::Counter, &[b'x'; KEY_BYTES + 1], 0)
                .is_none()
        );
        assert_eq!(arena.dropped(), 2);
    }
}
