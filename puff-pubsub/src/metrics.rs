//! The pub/sub metrics, per instance: subscriptions held in this process, messages
//! published from it, and messages handed to (or dropped for) its subscribers.

use puff_greenlet::metrics::{CounterFamily, GaugeFamily};

static SUBSCRIPTIONS: GaugeFamily = GaugeFamily::new(
    "puff_pubsub_subscriptions",
    "Subscriptions (one connection, one channel) held in this process, by pubsub instance.",
    &["pubsub"],
);
static PUBLISHED: CounterFamily = CounterFamily::new(
    "puff_pubsub_published_total",
    "Messages this process published, by pubsub instance.",
    &["pubsub"],
);
static DELIVERED: CounterFamily = CounterFamily::new(
    "puff_pubsub_delivered_total",
    "Messages queued for a subscriber of this process (one per subscribed connection), by \
     pubsub instance.",
    &["pubsub"],
);
static DROPPED: CounterFamily = CounterFamily::new(
    "puff_pubsub_dropped_total",
    "Messages dropped because a subscriber's queue was full, by pubsub instance.",
    &["pubsub"],
);

pub(crate) fn subscribed(pubsub: &str) {
    SUBSCRIPTIONS.with(&[pubsub]).inc();
}

pub(crate) fn unsubscribed(pubsub: &str) {
    SUBSCRIPTIONS.with(&[pubsub]).dec();
}

pub(crate) fn published(pubsub: &str) {
    PUBLISHED.with(&[pubsub]).inc();
}

/// One message's fan-out: `delivered` subscribers got it, `dropped` had no room.
pub(crate) fn fanned_out(pubsub: &str, delivered: u64, dropped: u64) {
    if delivered > 0 {
        DELIVERED.with(&[pubsub]).inc_by(delivered);
    }
    if dropped > 0 {
        DROPPED.with(&[pubsub]).inc_by(dropped);
    }
}
