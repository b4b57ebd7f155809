//! `metrics_bind`, where the Prometheus endpoint listens: `--metrics-bind`, else
//! `PUFF_METRICS_BIND`, else `metrics_bind` in puff.toml; off when none is set. A process
//! that runs alone records and serves its own metrics; under a supervisor the supervisor
//! serves them (`crate::supervisor`) and the workers record into its arena.

use clap::{Arg, ArgMatches};
use puff_greenlet::PuffError;

use crate::config::RuntimeConfig;

const FLAG: &str = "metrics-bind";
const ENV: &str = "PUFF_METRICS_BIND";

/// `--metrics-bind` for the commands that run in workers.
pub(super) fn metrics_arg() -> Arg {
    Arg::new(FLAG).long(FLAG).value_name("HOST:PORT").help(
        "Serve Prometheus metrics at http://HOST:PORT/metrics (default: $PUFF_METRICS_BIND, \
         else `metrics_bind` in the config, else off)",
    )
}

/// The address to serve metrics on, if any; a bad address is an error naming its source.
pub(super) fn metrics_bind(
    config: &RuntimeConfig,
    matches: &ArgMatches,
) -> Result<Option<String>, String> {
    let chosen = match matches.try_get_one::<String>(FLAG).ok().flatten() {
        Some(addr) => Some((addr.clone(), "--metrics-bind")),
        None => match std::env::var(ENV).ok().filter(|v| !v.is_empty()) {
            Some(addr) => Some((addr, ENV)),
            None => config.metrics_bind.clone().map(|a| (a, "metrics_bind")),
        },
    };
    match chosen {
        Some((addr, source)) if addr.parse::<std::net::SocketAddr>().is_err() => Err(format!(
            "{source}: `{addr}` is not an address like 127.0.0.1:9090"
        )),
        chosen => Ok(chosen.map(|(addr, _)| addr)),
    }
}

/// Records this process's metrics and serves them on `bind` (no supervisor).
pub(super) fn serve_in_process(
    bind: &str,
    tokio: &tokio::runtime::Handle,
) -> Result<(), PuffError> {
    let arena = puff_greenlet::metrics::enable_in_process().map_err(PuffError::Io)?;
    puff_greenlet::metrics::serve(bind, arena, tokio)
        .map(|_| ())
        .map_err(PuffError::Config)
}
