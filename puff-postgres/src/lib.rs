//! # puff-postgres
//!
//! Puff's Postgres subsystem: it owns the named connection pools configured by
//! `[[postgres]]` (mobc pools of tokio-postgres clients, with a per-connection prepared
//! statement cache), a Rust query API usable without Python ([`PostgresPool::query`],
//! [`PostgresPool::execute`], [`PostgresPool::transaction`]), the conversion between
//! Postgres values and [`Value`] / Python objects, and the native half of the DB-API 2.0
//! module `puff.postgres` (`puff._native.postgres`). Python parameters are bound typed as
//! psycopg2's SQL literals for them would be ([`to_param`]), so results match psycopg2's
//! without values ever entering the SQL text; the manual's *Parameters* says why. Equal
//! values share one `$n` (`puff.postgres` numbers them): psycopg2 writes them as equal
//! literals, and Postgres matches an expression in GROUP BY (or in ORDER BY under
//! DISTINCT) to the SELECT list's by its text, in which `$1` and `$2` differ.
//! Statements without parameters run as one simple Query (as psycopg2 sends them, so no
//! extended-protocol portal shows in `pg_cursors`), their values read from text
//! (`value::text`); `executemany` of `INSERT ... VALUES` sends whole-item ints and floats
//! in their `int8`/`float8` column's type (`insert_types`). The manual says why.
//!
//! It does not own the Python runtime or greenlet scheduling (see `puff-greenlet`); queries
//! made from Python wait on Tokio through `puff_greenlet::wait_for`, so other greenlets keep
//! running. Passwords in connection URLs never reach logs or error messages
//! ([`redact_url`]).
//!
//! The manual below is `docs/postgres.md` in the repository.
#![doc = include_str!("../../docs/postgres.md")]

mod batch;
pub mod config;
mod connect;
mod copy;
mod cursor;
mod description;
pub mod error;
mod insert_types;
mod notify;
mod plain_rows;
pub mod pool;
mod python;
mod session;
mod sql_scan;
mod statement_span;
mod streams;
mod subsystem;
pub mod value;

pub use config::PostgresConfig;
pub use error::PgError;
pub use pool::{Column, PooledClient, PostgresPool, QueryResult};
pub use puff_greenlet::redact_url;
pub use python::{SharedConnection, to_param, to_python, to_value};
pub use subsystem::{PostgresSettings, PostgresSubsystem};
pub use value::Value;

pub use tokio_postgres;
