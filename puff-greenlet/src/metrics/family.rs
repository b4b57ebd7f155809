//! Metric families (declared as statics by the crates that record them) and the series
//! handles they hand out, and how a family and a label set become an arena key.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::time::{Duration, Instant};

use super::arena::{Entry, KEY_BYTES, Kind, VALUES};
use super::{Recorder, note_dropped, recorder};

/// Key separators: before a label's name, before its value, and before a family's help.
pub(super) const LABEL: u8 = 0x1f;
pub(super) const VALUE: u8 = 0x1e;
pub(super) const HELP: u8 = 0x1d;

/// The most buckets a histogram has (the rest of an entry holds its count and sum).
pub const MAX_BUCKETS: usize = VALUES - 2;

/// Bucket bounds for durations in seconds, 0.5 ms to 10 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Histogram sums are kept as whole billionths, so that adding is one atomic add.
pub(super) const SUM_SCALE: f64 = 1e9;

/// A key built on the stack.
struct Key {
    bytes: [u8; KEY_BYTES],
    len: usize,
    too_long: bool,
}

impl Key {
    fn new() -> Key {
        Key {
            bytes: [0; KEY_BYTES],
            len: 0,
            too_long: false,
        }
    }

    fn push(&mut self, text: &[u8]) {
        let end = self.len + text.len();
        if end > KEY_BYTES {
            self.too_long = true;
            return;
        }
        self.bytes[self.len..end].copy_from_slice(text);
        self.len = end;
    }

    /// A label value, with the bytes the key and the text format reserve replaced.
    fn push_value(&mut self, text: &str) {
        let start = self.len;
        self.push(text.as_bytes());
        if !self.too_long {
            for b in &mut self.bytes[start..self.len] {
                if matches!(*b, b'"' | b'\\' | b'\n' | HELP | VALUE | LABEL) {
                    *b = b'_';
                }
            }
        }
    }

    fn label(&mut self, name: &str, value: &str) {
        self.push(&[LABEL]);
        self.push(name.as_bytes());
        self.push(&[VALUE]);
        self.push_value(value);
    }

    fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What every family has; finds its series in the arena.
struct Family {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    kind: Kind,
    buckets: &'static [f64],
    described: AtomicBool,
    /// The series of a family without labels, once found (this process's).
    unlabelled: AtomicPtr<Entry>,
}

impl Family {
    const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        kind: Kind,
        buckets: &'static [f64],
    ) -> Family {
        Family {
            name,
            help,
            labels,
            kind,
            buckets,
            described: AtomicBool::new(false),
            unlabelled: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The series for `values` (one per label, in order), `None` when metrics are off or
    /// the arena has no room.
    fn series(&self, values: &[&str]) -> Option<&'static Entry> {
        let recorder = recorder()?;
        if self.labels.is_empty() {
            let cached = self.unlabelled.load(Ordering::Acquire);
            if !cached.is_null() {
                // SAFETY: only ever set from an arena entry, which lives for the process.
                #[allow(unsafe_code)]
                return Some(unsafe { &*cached });
            }
        }
        if !self.described.load(Ordering::Relaxed) {
            self.describe(recorder);
        }
        let mut key = Key::new();
        key.push(self.name.as_bytes());
        for (i, label) in self.labels.iter().enumerate() {
            key.label(label, values.get(i).copied().unwrap_or(""));
        }
        if let Some(worker) = &recorder.worker {
            key.label("worker", worker);
        }
        let slot = if self.kind == Kind::Gauge {
            recorder.slot
        } else {
            0
        };
        let entry = (!key.too_long)
            .then(|| recorder.arena.entry(self.kind, key.get(), slot))
            .flatten();
        match entry {
            Some(entry) if self.labels.is_empty() => {
                self.unlabelled
                    .store(std::ptr::from_ref(entry).cast_mut(), Ordering::Release);
            }
            Some(_) => {}
            None => note_dropped(key.get()),
        }
        entry
    }

    /// Writes the family's help, type and buckets into the arena for the exposition.
    fn describe(&self, recorder: &Recorder) {
        self.described.store(true, Ordering::Relaxed);
        let mut key = Key::new();
        key.push(self.name.as_bytes());
        key.push(&[HELP]);
        key.push(self.help.as_bytes());
        let buckets = &self.buckets[..self.buckets.len().min(MAX_BUCKETS)];
        let described = recorder
            .arena
            .entry_with(Kind::Describe, key.get(), 0, |entry| {
                entry.value(0).store(self.kind as u64, Ordering::Relaxed);
                entry
                    .value(1)
                    .store(buckets.len() as u64, Ordering::Relaxed);
                for (i, bound) in buckets.iter().enumerate() {
                    entry.value(2 + i).store(bound.to_bits(), Ordering::Relaxed);
                }
            });
        if described.is_none() {
            note_dropped(key.get());
        }
    }
}

/// A family of counters: `name` should end in `_total`.
pub struct CounterFamily(Family);

impl CounterFamily {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        CounterFamily(Family::new(name, help, labels, Kind::Counter, &[]))
    }

    /// The counter for one value per label, in the family's label order.
    pub fn with(&self, values: &[&str]) -> Counter {
        Counter(self.0.series(values))
    }
}

/// One counter series (does nothing when metrics are off).
#[derive(Clone, Copy)]
pub struct Counter(Option<&'static Entry>);

impl Counter {
    pub fn inc(self) {
        self.inc_by(1);
    }

    pub fn inc_by(self, n: u64) {
        if let Some(entry) = self.0 {
            entry.value(0).fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// A family of gauges. Each process keeps its own value (summed in the exposition, and
/// reset when the process is gone), so a killed worker leaves nothing behind.
pub struct GaugeFamily(Family);

impl GaugeFamily {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        GaugeFamily(Family::new(name, help, labels, Kind::Gauge, &[]))
    }

    pub fn with(&self, values: &[&str]) -> Gauge {
        Gauge(self.0.series(values))
    }
}

/// One gauge series (does nothing when metrics are off).
#[derive(Clone, Copy)]
pub struct Gauge(Option<&'static Entry>);

impl Gauge {
    pub fn inc(self) {
        self.add(1);
    }

    pub fn dec(self) {
        self.add(-1);
    }

    pub fn add(self, n: i64) {
        if let Some(entry) = self.0 {
            // Two's complement: adding the bits of a negative number subtracts.
            entry.value(0).fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    pub fn set(self, n: i64) {
        if let Some(entry) = self.0 {
            entry.value(0).store(n as u64, Ordering::Relaxed);
        }
    }
}

/// A family of histograms with fixed bucket bounds (at most [`MAX_BUCKETS`], ascending).
pub struct HistogramFamily(Family);

impl HistogramFamily {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        buckets: &'static [f64],
    ) -> Self {
        HistogramFamily(Family::new(name, help, labels, Kind::Histogram, buckets))
    }

    pub fn with(&self, values: &[&str]) -> Histogram {
        Histogram(self.0.series(values).map(|entry| (entry, self.0.buckets)))
    }
}

/// One histogram series (does nothing when metrics are off).
#[derive(Clone, Copy)]
pub struct Histogram(Option<(&'static Entry, &'static [f64])>);

impl Histogram {
    pub fn observe(self, value: f64) {
        let Some((entry, buckets)) = self.0 else {
            return;
        };
        entry.value(0).fetch_add(1, Ordering::Relaxed);
        let scaled = (value * SUM_SCALE).round();
        if scaled > 0.0 {
            entry.value(1).fetch_add(scaled as u64, Ordering::Relaxed);
        }
        // Past the last bound it counts in +Inf only, which is the count.
        if let Some(i) = buckets
            .iter()
            .take(MAX_BUCKETS)
            .position(|bound| value <= *bound)
        {
            entry.value(2 + i).fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn observe_duration(self, took: Duration) {
        self.observe(took.as_secs_f64());
    }

    /// Observes the time since `start` (from [`super::start_timer`]; `None`: nothing).
    pub fn observe_since(self, start: Option<Instant>) {
        if let Some(start) = start {
            self.observe_duration(start.elapsed());
        }
    }
}
