//! Metrics of a named connection pool (Postgres, Redis): connections in use and idle
//! (sampled each second), callers waiting for a connection, and how long a checkout
//! waited. The `service` label says whose pool it is.

use std::future::Future;
use std::time::Duration;

use super::family::{DURATION_BUCKETS, Gauge, GaugeFamily, Histogram, HistogramFamily};
use super::{enabled, start_timer};
use crate::instance::PoolStatus;

static IN_USE: GaugeFamily = GaugeFamily::new(
    "puff_pool_connections_in_use",
    "Connections of a pool checked out, sampled each second.",
    &["service", "pool"],
);
static IDLE: GaugeFamily = GaugeFamily::new(
    "puff_pool_connections_idle",
    "Idle connections of a pool, sampled each second.",
    &["service", "pool"],
);
static WAITERS: GaugeFamily = GaugeFamily::new(
    "puff_pool_waiters",
    "Callers waiting to check a connection out of a pool.",
    &["service", "pool"],
);
static CHECKOUT_WAIT: HistogramFamily = HistogramFamily::new(
    "puff_pool_checkout_wait_seconds",
    "How long checking a connection out of a pool took (waiting, and connecting if needed).",
    &["service", "pool"],
    DURATION_BUCKETS,
);

/// Counts a waiter out when the checkout ends, even if the caller gave up on it.
struct Waiting(Gauge);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Runs `checkout` (a pool's `get`) as a waiter of pool `pool` of `service`, timing it.
pub async fn checkout<T>(service: &str, pool: &str, checkout: impl Future<Output = T>) -> T {
    let Some(started) = start_timer() else {
        return checkout.await;
    };
    let waiters = WAITERS.with(&[service, pool]);
    waiters.inc();
    let _waiting = Waiting(waiters);
    let got = checkout.await;
    let wait: Histogram = CHECKOUT_WAIT.with(&[service, pool]);
    wait.observe_duration(started.elapsed());
    got
}

/// Samples `status` of pool `pool` each second on `tokio` while the runtime runs (nothing
/// when metrics are off).
pub fn sample<F, Fut>(
    tokio: &tokio::runtime::Handle,
    service: &'static str,
    pool: String,
    status: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = PoolStatus> + Send,
{
    if !enabled() {
        return;
    }
    tokio.spawn(async move {
        let in_use = IN_USE.with(&[service, &pool]);
        let idle = IDLE.with(&[service, &pool]);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = status().await;
            in_use.set(i64::try_from(now.in_use).unwrap_or(i64::MAX));
            idle.set(i64::try_from(now.idle).unwrap_or(i64::MAX));
        }
    });
}
