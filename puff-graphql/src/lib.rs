//! # puff-graphql
//!
//! Puff's GraphQL subsystem. It owns the schemas configured by `[[graphql]]`: a juniper
//! schema built at start-up from Python `@dataclass` classes (`puff.graphql`), executed
//! layer by layer (each resolver runs once per depth with every parent, and SQL it
//! returns runs on the `puff-postgres` pool with rows mapped to fields in Rust, so a
//! nested query costs one statement per layer), the axum handlers for the endpoint and
//! the playground, and `puff._native.graphql` for in-process queries.
//!
//! It does not own HTTP serving (see `puff-http`, which mounts its routes), Postgres
//! pools (`puff-postgres`) or the Python runtime (`puff-greenlet`).
//!
//! The manual below is `docs/graphql.md` in the repository.
#![doc = include_str!("../../docs/graphql.md")]

pub mod auth;
pub mod config;
mod context;
pub mod convert;
mod engine;
mod error;
pub mod exec;
pub mod handlers;
pub mod layer;
mod metrics;
pub mod plan;
mod python;
mod raw;
pub mod schema;
pub mod subscriptions;
mod subsystem;
pub mod types;

pub use config::GraphqlConfig;
pub use engine::{Ctx, Engine, EngineHandle, Response};
pub use error::GraphqlError;
pub use handlers::{handle_graphql, playground};
pub use subscriptions::handle_subscriptions;
pub use subsystem::{GraphqlSettings, GraphqlSubsystem};
