//! Identifiers that must not collide across processes (pub/sub connections, task queue
//! workers and tasks), without a random-number crate: std's `RandomState` is seeded from
//! the OS once per process and perturbed per instance.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// 64 unpredictable bits, different on every call.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(count);
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// A 32-hex-digit id unique across processes and machines.
pub fn unique_id() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_differ() {
        let a = super::unique_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, super::unique_id());
    }
}
