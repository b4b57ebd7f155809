//! # puff-pubsub
//!
//! Puff's pub/sub: named instances from `[[pubsub]]` (a `default` one always exists), each
//! either on Redis — one subscriber connection per process multiplexing every channel,
//! re-subscribing by itself after the server comes back, and fanning messages out to the
//! process's subscribers — or in process, when no Redis is configured. It owns the Rust
//! API ([`PubSubClient`], [`PubSubConnection`], [`PubSubMessage`]) that axum handlers use
//! and the native half of `puff.pubsub`.
//!
//! It does not own Redis pools (publishing uses a small `puff-redis` pool of its own) or
//! websockets. Messages carry the publishing connection's id, so subscribers can tell
//! their own messages apart; messages from non-Puff publishers arrive with an empty id.
//!
//! The manual below is `docs/pubsub.md` in the repository.
#![doc = include_str!("../../docs/pubsub.md")]

mod client;
pub mod config;
mod metrics;
mod python;
mod subsystem;

pub use client::{PubSubClient, PubSubConnection, PubSubMessage};
pub use config::{Backend, PubSubConfig};
pub use subsystem::{PubSubSettings, PubSubSubsystem};
