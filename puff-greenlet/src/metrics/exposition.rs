//! The arena in the Prometheus text format (OpenMetrics), encoded by `prometheus-client`:
//! a collector reads every ready entry, merges the entries of one series (each process
//! keeps its own gauges) and emits them as constant metrics.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::arena::{Arena, Kind, Snapshot};
use super::family::{HELP, LABEL, MAX_BUCKETS, SUM_SCALE, VALUE};

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

/// One series' values, summed over the entries that hold it.
#[derive(Debug)]
enum Value {
    Counter(u64),
    Gauge(i64),
    Histogram {
        count: u64,
        sum: u64,
        buckets: [u64; MAX_BUCKETS],
    },
}

#[derive(Debug, Default)]
struct Family {
    help: String,
    kind: Option<Kind>,
    bounds: Vec<f64>,
    series: BTreeMap<Labels, Value>,
}

/// What one scrape read from the arena.
#[derive(Debug, Default)]
struct Scrape {
    families: BTreeMap<String, Family>,
    dropped: u64,
}

impl Scrape {
    fn read(arena: &Arena) -> Scrape {
        let mut scrape = Scrape {
            dropped: arena.dropped(),
            ..Scrape::default()
        };
        for snapshot in arena.ready() {
            let Ok(key) = std::str::from_utf8(&snapshot.key) else {
                continue;
            };
            if snapshot.kind == Kind::Describe {
                scrape.describe(key, &snapshot);
            } else {
                scrape.add(key, &snapshot);
            }
        }
        scrape
    }

    fn describe(&mut self, key: &str, snapshot: &Snapshot<'_>) {
        let Some((name, help)) = key.split_once(char::from(HELP)) else {
            return;
        };
        let value = |i: usize| snapshot.entry.value(i).load(Ordering::Relaxed);
        let family = self.families.entry(name.to_owned()).or_default();
        family.help = help.to_owned();
        family.kind = [Kind::Counter, Kind::Gauge, Kind::Histogram]
            .into_iter()
            .find(|k| *k as u64 == value(0));
        let buckets = (value(1) as usize).min(MAX_BUCKETS);
        family.bounds = (0..buckets).map(|i| f64::from_bits(value(2 + i))).collect();
    }

    fn add(&mut self, key: &str, snapshot: &Snapshot<'_>) {
        let mut parts = key.split(char::from(LABEL));
        let Some(name) = parts.next() else { return };
        let labels: Labels = parts
            .filter_map(|part| part.split_once(char::from(VALUE)))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let value = |i: usize| snapshot.entry.value(i).load(Ordering::Relaxed);
        let family = self.families.entry(name.to_owned()).or_default();
        let series = family.series.entry(labels);
        match snapshot.kind {
            Kind::Counter => {
                let total = series.or_insert(Value::Counter(0));
                if let Value::Counter(n) = total {
                    *n += value(0);
                }
            }
            Kind::Gauge => {
                let total = series.or_insert(Value::Gauge(0));
                if let Value::Gauge(n) = total {
                    *n += value(0) as i64;
                }
            }
            Kind::Histogram => {
                let total = series.or_insert(Value::Histogram {
                    count: 0,
                    sum: 0,
                    buckets: [0; MAX_BUCKETS],
                });
                if let Value::Histogram {
                    count,
                    sum,
                    buckets,
                } = total
                {
                    *count += value(0);
                    *sum += value(1);
                    for (i, bucket) in buckets.iter_mut().enumerate() {
                        *bucket += value(2 + i);
                    }
                }
            }
            Kind::Describe => {}
        }
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, family) in &self.families {
            let Some(first) = family.series.values().next() else {
                continue;
            };
            let metric_type = match first {
                Value::Counter(_) => MetricType::Counter,
                Value::Gauge(_) => MetricType::Gauge,
                Value::Histogram { .. } => MetricType::Histogram,
            };
            // The encoder appends `_total` to a counter's samples itself.
            let shown = match metric_type {
                MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            let mut metric = encoder.encode_descriptor(shown, &family.help, None, metric_type)?;
            for (labels, value) in &family.series {
                if labels.is_empty() {
                    encode_value(&mut metric, value, &family.bounds)?;
                } else {
                    encode_value(&mut metric.encode_family(labels)?, value, &family.bounds)?;
                }
            }
        }
        encoder
            .encode_descriptor(
                "puff_metrics_dropped_series",
                "Series not recorded because the metrics arena was full or a label set too long.",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, _, u64>(&self.dropped, None)
    }
}

fn encode_value(
    series: &mut MetricEncoder<'_>,
    value: &Value,
    bounds: &[f64],
) -> Result<(), std::fmt::Error> {
    match value {
        Value::Counter(n) => series.encode_counter::<NoLabelSet, _, u64>(n, None),
        Value::Gauge(n) => series.encode_gauge(n),
        Value::Histogram {
            count,
            sum,
            buckets,
        } => {
            let mut pairs: Vec<(f64, u64)> = bounds.iter().copied().zip(*buckets).collect();
            let below: u64 = pairs.iter().map(|(_, n)| n).sum();
            pairs.push((f64::MAX, count.saturating_sub(below)));
            series.encode_histogram::<NoLabelSet>(*sum as f64 / SUM_SCALE, *count, &pairs, None)
        }
    }
}

/// The whole arena as Prometheus text.
pub fn render(arena: &Arena) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape::read(arena)));
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::family::DURATION_BUCKETS;

    #[test]
    fn series_of_one_label_set_are_summed_and_histograms_are_cumulative() {
        let (arena, _fd) = Arena::create().unwrap();
        let describe = |name: &str, kind: Kind, buckets: &[f64]| {
            let key = format!("{name}\x1dhelp of {name}");
            arena.entry_with(Kind::Describe, key.as_bytes(), 0, |e| {
                e.value(0).store(kind as u64, Ordering::Relaxed);
                e.value(1).store(buckets.len() as u64, Ordering::Relaxed);
                for (i, b) in buckets.iter().enumerate() {
                    e.value(2 + i).store(b.to_bits(), Ordering::Relaxed);
                }
            });
        };
        describe("jobs_total", Kind::Counter, &[]);
        describe("open", Kind::Gauge, &[]);
        describe("wait_seconds", Kind::Histogram, DURATION_BUCKETS);
        let add = |kind, key: &str, slot, i: usize, n: u64| {
            let entry = arena.entry(kind, key.as_bytes(), slot).unwrap();
            entry.value(i).fetch_add(n, Ordering::Relaxed);
        };
        add(
            Kind::Counter,
            "jobs_total\x1fkind\x1eA\x1fworker\x1e1",
            0,
            0,
            3,
        );
        add(
            Kind::Counter,
            "jobs_total\x1fkind\x1eA\x1fworker\x1e2",
            0,
            0,
            4,
        );
        add(Kind::Gauge, "open\x1fworker\x1e1", 1, 0, 2);
        add(Kind::Gauge, "open\x1fworker\x1e1", 5, 0, 5);
        add(Kind::Histogram, "wait_seconds", 0, 0, 3);
        add(Kind::Histogram, "wait_seconds", 0, 1, 1_500_000_000);
        add(Kind::Histogram, "wait_seconds", 0, 2, 1); // <= 0.5 ms
        add(Kind::Histogram, "wait_seconds", 0, 2 + 10, 1); // <= 1 s
        let text = render(&arena);
        for line in [
            "# HELP jobs help of jobs_total",
            "# TYPE jobs counter",
            "jobs_total{kind=\"A\",worker=\"1\"} 3",
            "jobs_total{kind=\"A\",worker=\"2\"} 4",
            "open{worker=\"1\"} 7",
            "wait_seconds_sum 1.5",
            "wait_seconds_count 3",
            "wait_seconds_bucket{le=\"0.0005\"} 1",
            "wait_seconds_bucket{le=\"0.5\"} 1",
            "wait_seconds_bucket{le=\"1.0\"} 2",
            "wait_seconds_bucket{le=\"+Inf\"} 3",
            "puff_metrics_dropped_series_total 0",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
    }
}
