//! The worker's side of `--workers N`: what a worker process started by `puff-core`'s
//! supervisor inherits (its id, the shared listening socket, a pipe back to the
//! supervisor) and the messages it sends up that pipe. It lives here, beside the command
//! contract, so that puff-http's accept loop can take the inherited socket and report
//! readiness without depending on `puff-core`.
//!
//! A process started any other way sees none of the variables, and every function here
//! is then a no-op: a single process binds its own socket as before.

use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};

use crate::load_board::LoadBoard;
use crate::metrics::arena::Arena;
use std::sync::{Mutex, OnceLock};

/// The worker's number (1, 2, ...; a replacement takes the number of the worker it
/// replaces) in the supervisor's logs.
pub const ENV_WORKER_ID: &str = "PUFF_WORKER_ID";
/// How many workers the supervisor runs (when this worker started).
pub const ENV_WORKER_COUNT: &str = "PUFF_WORKER_COUNT";
/// The inherited listening socket's descriptor.
pub const ENV_LISTEN_FD: &str = "PUFF_LISTEN_FD";
/// The descriptor of the pipe the worker writes [`WorkerMessage`]s to.
pub const ENV_SUPERVISOR_FD: &str = "PUFF_SUPERVISOR_FD";
/// The number of requests after which the worker asks to be recycled (jitter applied).
pub const ENV_MAX_REQUESTS: &str = "PUFF_WORKER_MAX_REQUESTS";

/// The descriptor of the shared [`LoadBoard`].
pub const ENV_LOAD_FD: &str = "PUFF_LOAD_FD";
/// This worker's slot: unique among the live workers (a replacement that overlaps its
/// predecessor gets another), reused once its worker has exited. The load board and the
/// metrics arena's gauges are indexed by it.
pub const ENV_WORKER_SLOT: &str = "PUFF_WORKER_SLOT";
/// The descriptor of the shared metrics [`Arena`] (when `metrics_bind` is set).
pub const ENV_METRICS_FD: &str = "PUFF_METRICS_FD";

/// Descriptor numbers the supervisor gives the inherited socket, pipe, load board and
/// metrics arena in the worker.
pub const LISTEN_FD: RawFd = 3;
pub const SUPERVISOR_FD: RawFd = 4;
pub const LOAD_FD: RawFd = 5;
pub const METRICS_FD: RawFd = 6;

/// What a worker tells its supervisor, one line each on the pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerMessage {
    /// Serving (accepting on the shared socket, or running background work): from now
    /// on the supervisor may stop the workers this one replaces.
    Ready,
    /// The worker reached a recycling limit it counts itself (`max_requests`): start a
    /// replacement, then stop this one gracefully.
    Recycle(String),
}

impl WorkerMessage {
    pub fn to_line(&self) -> String {
        match self {
            WorkerMessage::Ready => "ready\n".into(),
            WorkerMessage::Recycle(why) => format!("recycle {}\n", why.replace('\n', " ")),
        }
    }

    /// Parses one line (without its newline); `None` for anything else.
    pub fn parse(line: &str) -> Option<WorkerMessage> {
        match line.split_once(' ') {
            _ if line == "ready" => Some(WorkerMessage::Ready),
            Some(("recycle", why)) => Some(WorkerMessage::Recycle(why.to_owned())),
            None if line == "recycle" => Some(WorkerMessage::Recycle(String::new())),
            _ => None,
        }
    }
}

/// What this process inherited from its supervisor, read once.
struct Inherited {
    worker_id: Option<u32>,
    worker_count: usize,
    max_requests: Option<u64>,
    listener: Mutex<Option<std::net::TcpListener>>,
    pipe: Mutex<Option<std::fs::File>>,
    board: Option<(LoadBoard, usize)>,
    slot: Option<usize>,
    metrics: Option<&'static Arena>,
}

static INHERITED: OnceLock<Inherited> = OnceLock::new();

fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.parse().ok()
}

/// Takes the inherited socket or pipe at `name`'s descriptor, re-opened close-on-exec
/// (the inherited copy is not), so that a process the app starts inherits neither.
fn descriptor<T: From<OwnedFd>>(name: &str) -> Option<T> {
    let fd: RawFd = var(name)?;
    // SAFETY: the supervisor placed this descriptor in this process for it alone (see the
    // module doc), and this runs once (`INHERITED`).
    #[allow(unsafe_code)]
    let inherited = unsafe { OwnedFd::from_raw_fd(fd) };
    // `try_clone` duplicates with close-on-exec; the original closes on drop.
    inherited.try_clone().ok().map(T::from)
}

fn inherited() -> &'static Inherited {
    INHERITED.get_or_init(|| Inherited {
        worker_id: var(ENV_WORKER_ID),
        worker_count: var(ENV_WORKER_COUNT).filter(|n| *n >= 1).unwrap_or(1),
        max_requests: var(ENV_MAX_REQUESTS),
        listener: Mutex::new(descriptor(ENV_LISTEN_FD)),
        pipe: Mutex::new(descriptor(ENV_SUPERVISOR_FD)),
        board: descriptor::<OwnedFd>(ENV_LOAD_FD)
            .and_then(|fd| LoadBoard::map(fd.as_fd()).ok())
            .zip(var(ENV_WORKER_SLOT)),
        slot: var(ENV_WORKER_SLOT),
        metrics: descriptor::<OwnedFd>(ENV_METRICS_FD)
            .and_then(|fd| Arena::map(fd.as_fd()).ok())
            .map(|arena| &*Box::leak(Box::new(arena))),
    })
}

/// Reads what the supervisor passed this worker and removes it from the environment, so
/// that a `puff-cli` the app starts is not taken for a worker (it would use descriptors it
/// does not own), and records metrics into the supervisor's arena if it passed one. Call
/// at start-up, before other threads exist.
pub fn adopt_from_environment() {
    let inherited = inherited();
    if let Some(arena) = inherited.metrics {
        let slot = inherited.slot.and_then(|s| u16::try_from(s).ok());
        crate::metrics::enable(arena, inherited.worker_id, slot.unwrap_or_default());
    }
    for name in [
        ENV_WORKER_ID,
        ENV_WORKER_COUNT,
        ENV_LISTEN_FD,
        ENV_SUPERVISOR_FD,
        ENV_MAX_REQUESTS,
        ENV_LOAD_FD,
        ENV_WORKER_SLOT,
        ENV_METRICS_FD,
    ] {
        // SAFETY: called before other threads start (see above).
        #[allow(unsafe_code)]
        unsafe {
            std::env::remove_var(name)
        };
    }
}

/// This process's worker id when a supervisor started it.
pub fn worker_id() -> Option<u32> {
    inherited().worker_id
}

/// How many worker processes share this one's work (1 when not supervised): state kept
/// in one process (in-process pub/sub, task queues) is then split that many ways.
pub fn worker_count() -> usize {
    inherited().worker_count
}

/// Whether a supervisor started this process.
pub fn is_worker() -> bool {
    worker_id().is_some()
}

/// The requests this worker serves before asking to be recycled, if limited.
pub fn max_requests() -> Option<u64> {
    inherited().max_requests
}

/// The supervisor's load board and this worker's slot on it (with more than one worker).
pub fn load_board() -> Option<(&'static LoadBoard, usize)> {
    inherited()
        .board
        .as_ref()
        .map(|(board, slot)| (board, *slot))
}

/// The listening socket the supervisor bound, once per process (later calls: `None`).
pub fn take_inherited_listener() -> Option<std::net::TcpListener> {
    inherited()
        .listener
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
}

/// Sends `message` to the supervisor; nothing when there is none. A supervisor that has
/// gone away is not an error the worker can act on, so write errors are logged only.
pub fn notify(message: &WorkerMessage) {
    let mut pipe = inherited().pipe.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(file) = pipe.as_mut()
        && let Err(e) = file.write_all(message.to_line().as_bytes())
    {
        tracing::debug!("cannot tell the supervisor {message:?}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            WorkerMessage::Ready,
            WorkerMessage::Recycle("served 200 requests".into()),
        ] {
            let line = m.to_line();
            assert!(line.ends_with('\n'));
            assert_eq!(WorkerMessage::parse(line.trim_end_matches('\n')), Some(m));
        }
        assert_eq!(WorkerMessage::parse("hello"), None);
        assert_eq!(
            WorkerMessage::parse(WorkerMessage::Recycle("a\nb".into()).to_line().trim_end()),
            Some(WorkerMessage::Recycle("a b".into()))
        );
    }
}
