//! Stamp files: a tiny, stable content hash (FNV-1a) of what an install step depends on, so
//! the step is skipped while nothing changed.

/// 64-bit FNV-1a: a tiny, stable content hash for stamp files (not for security).
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv64 {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(Fnv64::new().hex(), "cbf29ce484222325");
        assert_eq!(Fnv64::new().update(b"a").hex(), "af63dc4c8601ec8c");
    }
}
