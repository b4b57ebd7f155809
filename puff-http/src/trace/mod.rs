//! Tracing's HTTP half: reading `traceparent` from requests and recording their spans
//! ([`middleware`]), the `[tracing]` settings ([`config`]), and exporting the spans every
//! service crate records over OTLP/HTTP ([`otlp`] encodes them, [`exporter`] batches and
//! sends them, [`subsystem`] starts it).
//!
//! The span and context types live in `puff_greenlet::trace`, which every service crate
//! can reach; the exporter is here because it needs an HTTP client and this crate has
//! one (reqwest). The protobuf messages are written by hand (a few dozen lines in
//! [`otlp`]) rather than with an OTLP or protobuf crate, which would add crates (and
//! second versions of some) to the build.

pub mod config;
mod exporter;
pub mod middleware;
pub mod otlp;
mod subsystem;

pub use config::TracingConfig;
pub use middleware::RequestTrace;
pub use subsystem::TracingSubsystem;
