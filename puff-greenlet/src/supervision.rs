//! The worker's side of `--workers N`: what a worker process started by `puff-core`'s
//! supervisor inherits (its id, the shared listening socket, a pipe back to the
//! supervisor) and the messages it sends up that pipe. It lives here, beside the command
//! contract, so that puff-http's accept loop can take the inherited socket and report
//! readiness without depending on `puff-core`.
//!
//! A process started any other way sees none of the variables, and every function here
//! is then a no-op: a single process binds its own socket as before.

use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::Mutex;

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

/// Descriptor numbers the supervisor gives the inherited socket and pipe in the worker.
pub const LISTEN_FD: RawFd = 3;
pub const SUPERVISOR_FD: RawFd = 4;

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

/// This process's worker id when a supervisor started it.
pub fn worker_id() -> Option<u32> {
    std::env::var(ENV_WORKER_ID).ok()?.parse().ok()
}

/// How many worker processes share this one's work (1 when not supervised): state kept
/// in one process (in-process pub/sub, task queues) is then split that many ways.
pub fn worker_count() -> usize {
    std::env::var(ENV_WORKER_COUNT)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// Whether a supervisor started this process.
pub fn is_worker() -> bool {
    worker_id().is_some()
}

/// The requests this worker serves before asking to be recycled, if limited.
pub fn max_requests() -> Option<u64> {
    std::env::var(ENV_MAX_REQUESTS).ok()?.parse().ok()
}

static LISTENER_TAKEN: Mutex<bool> = Mutex::new(false);

/// The listening socket the supervisor bound, once per process (later calls: `None`).
pub fn take_inherited_listener() -> Option<std::net::TcpListener> {
    let fd: RawFd = std::env::var(ENV_LISTEN_FD).ok()?.parse().ok()?;
    let mut taken = LISTENER_TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    if *taken {
        return None;
    }
    *taken = true;
    // SAFETY: the supervisor placed a listening socket at this descriptor for this
    // process (see the module doc), and `taken` makes sure it is owned only once.
    #[allow(unsafe_code)]
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    Some(listener)
}

static PIPE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Sends `message` to the supervisor; nothing when there is none. A supervisor that has
/// gone away is not an error the worker can act on, so write errors are logged only.
pub fn notify(message: &WorkerMessage) {
    let Some(fd) = std::env::var(ENV_SUPERVISOR_FD)
        .ok()
        .and_then(|v| v.parse::<RawFd>().ok())
    else {
        return;
    };
    let mut pipe = PIPE.lock().unwrap_or_else(|e| e.into_inner());
    if pipe.is_none() {
        // SAFETY: the supervisor placed this pipe's write end at `fd` for this process,
        // and it is wrapped only once (kept in `PIPE` for the life of the process).
        #[allow(unsafe_code)]
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        *pipe = Some(file);
    }
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
