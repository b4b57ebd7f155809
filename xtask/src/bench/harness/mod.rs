//! The machinery the benchmarks share, one job per module. Nothing here knows a particular
//! benchmark: each one (`bench/http.rs`, ...) implements [`server_bench::ServerBench`] or
//! [`service_bench::ServiceBench`], or drives these modules itself (`bench client`).
//!
//! - command line: `list` (lists of names, clamped numbers)
//! - machine and tools: `process` (pinning, ports, servers, logs), `tools` (apt-get, the
//!   release puff-cli), `peers` (the peers' venvs), `helper` (database servers)
//! - server benchmarks: `server` (the server programs), `answers` (answer checks), `wrk` (the
//!   load), `server_bench` (what a benchmark is), `server_runs`, `server_report`
//! - client-program benchmarks: `programs` (a program's run and result line),
//!   `service_bench`, `service_runs`, `service_report`
//! - reports: `machine`, `report` (targets, formats, the JSON frame, saving)

pub mod answers;
pub mod helper;
pub mod list;
pub mod machine;
pub mod peers;
pub mod process;
pub mod programs;
pub mod report;
pub mod server;
pub mod server_bench;
pub mod server_report;
pub mod server_runs;
pub mod service_bench;
pub mod service_report;
pub mod service_runs;
pub mod tools;
pub mod wrk;
