//! # puff-redis
//!
//! Puff's Redis subsystem: it owns the named connection pools configured by `[[redis]]`
//! (mobc pools of redis-rs multiplexed connections, opened by our own small mobc manager
//! rather than `mobc-redis`, whose default redis features would pull a second `socket2`),
//! a Rust command API usable without Python ([`RedisPool::query`],
//! [`RedisPool::pipeline`], and any `redis::AsyncCommands` on a [`PooledConnection`]), and
//! the native half of the redis-py-style module `puff.redis` (`puff._native.redis`).
//!
//! It does not own pub/sub fan-out (see `puff-pubsub`) or greenlet scheduling (see
//! `puff-greenlet`). A connection that fails with an I/O error is dropped, and connections
//! idle for over a second are PINGed before reuse, so a restarted server is picked up by
//! itself. Passwords in URLs never reach logs or error messages.
//!
//! The manual below is `docs/redis.md` in the repository.
#![doc = include_str!("../../docs/redis.md")]

mod command_span;
pub mod config;
pub mod error;
pub mod pool;
pub mod python;
mod subsystem;

pub use config::RedisConfig;
pub use error::RedisError;
pub use pool::{PooledConnection, RedisConnection, RedisPool};
pub use puff_greenlet::PoolStatus;
pub use subsystem::{RedisSettings, RedisSubsystem};

pub use redis;
