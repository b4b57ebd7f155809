//! The supervisor of `--workers N`: a small Rust parent that never starts Python. It
//! binds the listening socket once, starts N worker processes that inherit it (one
//! shared accept queue, so a worker's exit strands no queued connection), and keeps N
//! serving: it replaces workers that die, reloads them on SIGHUP or a file change
//! (`--reload`), recycles them (max requests, lifetime, memory) and changes their number
//! on SIGTTIN/SIGTTOU. Every replacement overlaps: the old worker keeps accepting until
//! its successor reports that it accepts too. With `metrics_bind` it serves the metrics
//! of every worker from the arena they share, so the endpoint outlives any one of them.
//!
//! The worker's side of the contract (inherited descriptors, messages) is
//! `puff_greenlet::supervision`.

mod process;
mod reload;

use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use puff_greenlet::load_board::{self, LoadBoard};
use puff_greenlet::metrics::{self, arena::Arena};
use puff_greenlet::supervision::WorkerMessage;
use puff_greenlet::{ListenSpec, WorkerSpec};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::WorkersConfig;
use process::{Launcher, WorkerEvent};

const TARGET: &str = "puff::supervisor";
/// How often lifetimes, memory and start-up deadlines are checked.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// After a worker that never became ready, the next start waits this long, doubled per
/// failure in a row up to the cap, so broken code does not spin the CPU.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Beyond the command's own stop timeout, before a stopping worker is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// How the supervisor runs: what the command and the config say.
pub struct SupervisorSettings {
    pub workers: WorkersConfig,
    pub spec: WorkerSpec,
    /// Folders and files whose changes restart the workers (`--reload`); empty: off.
    pub watch: Vec<PathBuf>,
    /// The program and the arguments each worker is started with.
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The config file, read again on each reload for the worker settings (a bad file
    /// abandons the reload); `None` when the config was built in code.
    pub config_file: Option<PathBuf>,
    /// Whether the worker count came from the config file (not `--workers` or
    /// `PUFF_WORKERS`), so a reload takes a changed `workers` from it.
    pub count_from_file: bool,
    /// Where the supervisor serves the workers' metrics (`metrics_bind`); `None`: off.
    pub metrics_bind: Option<String>,
}

/// Runs the supervisor until SIGTERM/SIGINT; returns the exit code for `main`.
pub fn run(settings: SupervisorSettings) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(target: TARGET, "cannot start the supervisor: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(supervise(settings))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Started, not accepting yet.
    Starting,
    Serving,
    /// Still serving, until a successor serves (recycling, or an older generation).
    Replaced,
    /// Told to stop (SIGTERM): finishing its requests.
    Stopping,
}

struct Worker {
    id: u32,
    /// Its slot on the load board.
    slot: usize,
    pid: u32,
    generation: u64,
    started: Instant,
    state: State,
    stop_sent: Option<Instant>,
    lifetime: Option<Duration>,
}

struct Supervisor {
    workers: Vec<Worker>,
    target: usize,
    generation: u64,
    /// The generation being started by a reload, with the one it replaces.
    reloading: Option<u64>,
    config: WorkersConfig,
    stop_timeout: Duration,
    launcher: Launcher,
    board: Option<LoadBoard>,
    metrics: Option<&'static Arena>,
    failures_in_a_row: u32,
    next_start: Instant,
    stopping: bool,
    /// Whether any worker has served yet: until one has, a worker that cannot start
    /// stops the supervisor with its exit code (the app cannot start), unless `--reload`
    /// waits for the code to be fixed.
    any_served: bool,
    retry_until_fixed: bool,
    exit_code: u8,
    config_file: Option<PathBuf>,
    count_from_file: bool,
}

async fn supervise(settings: SupervisorSettings) -> ExitCode {
    let listener = match settings.spec.listen.as_ref().map(bind).transpose() {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(target: TARGET, "{e}");
            return ExitCode::FAILURE;
        }
    };
    // Workers that share a socket balance their connections on the board.
    let board = match listener.is_some().then(LoadBoard::create).transpose() {
        Ok(board) => board,
        Err(e) => {
            tracing::error!(target: TARGET, "cannot create the workers' load board: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (board, board_fd) = board.unzip();
    let (metrics, metrics_fd) = match settings.metrics_bind.as_deref().map(serve_metrics) {
        Some(Ok((arena, fd))) => (Some(arena), Some(fd)),
        Some(Err(e)) => {
            tracing::error!(target: TARGET, "{e}");
            return ExitCode::FAILURE;
        }
        None => (None, None),
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let target = settings.workers.worker_count();
    let mut supervisor = Supervisor {
        workers: Vec::new(),
        target,
        generation: 1,
        reloading: None,
        stop_timeout: settings.spec.stop_timeout,
        config: settings.workers,
        launcher: Launcher {
            program: settings.program,
            args: settings.args,
            listener,
            board: board_fd,
            metrics: metrics_fd,
            events: events_tx,
        },
        board,
        metrics,
        failures_in_a_row: 0,
        next_start: Instant::now(),
        stopping: false,
        any_served: false,
        retry_until_fixed: !settings.watch.is_empty(),
        exit_code: 0,
        config_file: settings.config_file,
        count_from_file: settings.count_from_file,
    };
    let (Ok(mut hup), Ok(mut ttin), Ok(mut ttou), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::from_raw(libc::SIGTTIN)),
        signal(SignalKind::from_raw(libc::SIGTTOU)),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!(target: TARGET, "cannot install the supervisor's signal handlers");
        return ExitCode::FAILURE;
    };
    let mut changes = match reload::watch(&settings.watch) {
        Ok(changes) => changes,
        Err(e) => {
            tracing::error!(target: TARGET, "--reload: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        target: TARGET,
        "supervisor (pid {}) starting {target} worker{}{}",
        std::process::id(),
        if target == 1 { "" } else { "s" },
        settings
            .spec
            .listen
            .as_ref()
            .map(|l| format!(" on {}", l.addr))
            .unwrap_or_default(),
    );
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        supervisor.maintain();
        if supervisor.stopping && supervisor.workers.is_empty() {
            tracing::info!(target: TARGET, "all workers stopped");
            return ExitCode::from(supervisor.exit_code);
        }
        tokio::select! {
            Some(event) = events.recv() => supervisor.on_event(event),
            _ = tick.tick() => supervisor.check_limits(),
            _ = hup.recv() => supervisor.reload("SIGHUP"),
            Some(paths) = changes.recv() => {
                supervisor.reload(&format!("change in {}", reload::describe(&paths)));
            }
            _ = ttin.recv() => supervisor.resize(supervisor.target + 1, "SIGTTIN"),
            _ = ttou.recv() => supervisor.resize(supervisor.target.saturating_sub(1).max(1), "SIGTTOU"),
            _ = term.recv() => supervisor.stop_all("SIGTERM"),
            _ = int.recv() => supervisor.stop_all("SIGINT"),
        }
    }
}

/// The workers' metrics arena, served on `bind` from this process.
fn serve_metrics(bind: &str) -> Result<(&'static Arena, OwnedFd), String> {
    let (arena, fd) =
        Arena::create().map_err(|e| format!("cannot create the metrics arena: {e}"))?;
    let arena: &'static Arena = Box::leak(Box::new(arena));
    metrics::serve(bind, arena, &tokio::runtime::Handle::current())?;
    Ok((arena, fd))
}

/// The shared listening socket (close-on-exec here; each worker gets its own copy).
fn bind(spec: &ListenSpec) -> Result<OwnedFd, String> {
    let socket = match spec.addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(|e| format!("cannot create a socket for {}: {e}", spec.addr))?;
    let listener = socket
        .set_reuseaddr(true)
        .and_then(|()| socket.bind(spec.addr))
        .and_then(|()| socket.listen(spec.backlog))
        .and_then(|l| l.into_std())
        .map_err(|e| format!("cannot listen on {}: {e}", spec.addr))?;
    Ok(OwnedFd::from(listener))
}

impl Supervisor {
    fn find(&mut self, pid: u32) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.pid == pid)
    }

    /// Workers of the current generation that will serve on: the count kept at `target`.
    fn current(&self) -> impl Iterator<Item = &Worker> {
        self.workers.iter().filter(|w| {
            w.generation == self.generation && matches!(w.state, State::Starting | State::Serving)
        })
    }

    /// Starts missing workers, retires surplus ones, and stops replaced workers as their
    /// successors start serving.
    fn maintain(&mut self) {
        if self.stopping {
            return;
        }
        let current = self.current().count();
        if current < self.target && Instant::now() >= self.next_start {
            for _ in current..self.target {
                self.start_worker();
            }
        }
        if current > self.target {
            // The newest surplus first: they have the least warm state.
            let mut surplus: Vec<(Instant, u32)> =
                self.current().map(|w| (w.started, w.pid)).collect();
            surplus.sort_by_key(|&(started, _)| std::cmp::Reverse(started));
            for (_, pid) in surplus.into_iter().take(current - self.target) {
                self.stop(pid, "the worker count went down");
            }
        }
        // Replaced workers keep serving until as many successors serve.
        let serving = self.current().filter(|w| w.state == State::Serving).count();
        let keep = self.target.saturating_sub(serving);
        let mut replaced: Vec<(Instant, u32)> = self
            .workers
            .iter()
            .filter(|w| {
                w.state == State::Replaced
                    || (w.generation != self.generation && w.state == State::Serving)
            })
            .map(|w| (w.started, w.pid))
            .collect();
        replaced.sort();
        let surplus = replaced.len().saturating_sub(keep);
        for (_, pid) in replaced.into_iter().take(surplus) {
            self.stop(pid, "its successor is serving");
        }
        if let Some(generation) = self.reloading
            && self.current().all(|w| w.state == State::Serving)
            && !self
                .workers
                .iter()
                .any(|w| w.generation < generation && w.state != State::Stopping)
        {
            self.reloading = None;
            tracing::info!(target: TARGET, "reload complete: {} workers serve the new code", serving);
        }
    }

    /// The lowest id no live worker of this generation uses, so ids stay small and a
    /// replacement takes its predecessor's number.
    fn free_id(&self) -> u32 {
        (1..)
            .find(|id| !self.current().any(|w| w.id == *id))
            .unwrap_or(1)
    }

    fn start_worker(&mut self) {
        let id = self.free_id();
        let slot = (0..)
            .find(|slot| !self.workers.iter().any(|w| w.slot == *slot))
            .unwrap_or_default();
        let max_requests = self
            .config
            .max_requests
            .map(|n| n + jitter(self.config.max_requests_jitter));
        match self.launcher.spawn(id, slot, self.target, max_requests) {
            Ok(pid) => {
                tracing::info!(target: TARGET, "started worker {id} (pid {pid})");
                self.workers.push(Worker {
                    id,
                    slot,
                    pid,
                    generation: self.generation,
                    started: Instant::now(),
                    state: State::Starting,
                    stop_sent: None,
                    lifetime: self.config.worker_lifetime_s.map(Duration::from_secs),
                });
            }
            Err(e) => {
                tracing::error!(target: TARGET, "cannot start worker {id}: {e}");
                self.failed_start();
            }
        }
    }

    fn failed_start(&mut self) {
        self.failures_in_a_row += 1;
        let backoff = backoff(self.failures_in_a_row);
        self.next_start = Instant::now() + backoff;
        if self.failures_in_a_row >= 2 {
            tracing::warn!(
                target: TARGET,
                "{} worker starts failed in a row; next attempt in {:.1} s",
                self.failures_in_a_row,
                backoff.as_secs_f64()
            );
        }
    }

    fn stop(&mut self, pid: u32, why: &str) {
        let Some(worker) = self.find(pid) else { return };
        if worker.state == State::Stopping {
            return;
        }
        tracing::info!(target: TARGET, "stopping worker {} (pid {pid}): {why}", worker.id);
        worker.state = State::Stopping;
        worker.stop_sent = Some(Instant::now());
        process::signal(pid, libc::SIGTERM);
    }

    /// Marks a serving worker for replacement: a successor starts, then it stops.
    fn replace(&mut self, pid: u32, why: &str) {
        let Some(worker) = self.find(pid) else { return };
        if !matches!(worker.state, State::Serving) {
            return;
        }
        tracing::info!(target: TARGET, "recycling worker {} (pid {pid}): {why}", worker.id);
        worker.state = State::Replaced;
    }

    fn on_event(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Message { pid, message } => match message {
                WorkerMessage::Ready => {
                    let Some(worker) = self.find(pid) else { return };
                    if worker.state == State::Starting {
                        worker.state = State::Serving;
                        let id = worker.id;
                        let took = worker.started.elapsed();
                        self.failures_in_a_row = 0;
                        self.any_served = true;
                        tracing::info!(
                            target: TARGET,
                            "worker {id} (pid {pid}) serving after {:.2} s",
                            took.as_secs_f64()
                        );
                    }
                }
                WorkerMessage::Recycle(why) => self.replace(pid, &why),
            },
            WorkerEvent::Exited { pid, status } => self.exited(pid, status),
        }
    }

    fn exited(&mut self, pid: u32, status: ExitStatus) {
        let Some(index) = self.workers.iter().position(|w| w.pid == pid) else {
            return;
        };
        let worker = self.workers.remove(index);
        if let Some(board) = &self.board {
            // Killed workers cannot withdraw themselves.
            board.post(worker.slot, load_board::ABSENT);
        }
        if let (Some(arena), Ok(slot)) = (self.metrics, u16::try_from(worker.slot)) {
            // Its in-flight requests and open connections are gone with it.
            arena.reset_gauges(slot);
        }
        let how = describe_exit(status);
        match worker.state {
            State::Stopping => {
                tracing::info!(target: TARGET, "worker {} (pid {pid}) stopped ({how})", worker.id);
            }
            State::Starting => {
                tracing::error!(
                    target: TARGET,
                    "worker {} (pid {pid}) {how} before it could serve; its output above says why",
                    worker.id
                );
                self.failed_start();
                if self.reloading == Some(worker.generation) {
                    self.abandon_reload();
                } else if !self.any_served && !self.retry_until_fixed {
                    self.exit_code = status
                        .code()
                        .and_then(|c| u8::try_from(c).ok())
                        .filter(|c| *c != 0)
                        .unwrap_or(1);
                    self.stop_all("the app cannot start");
                }
            }
            State::Serving | State::Replaced => {
                tracing::warn!(
                    target: TARGET,
                    "worker {} (pid {pid}) {how} unexpectedly; starting a replacement",
                    worker.id
                );
            }
        }
    }

    /// New code that cannot start: the workers of the new generation that are still
    /// starting are stopped, and every worker that serves (old code or new) serves on.
    fn abandon_reload(&mut self) {
        self.reloading = None;
        tracing::error!(
            target: TARGET,
            "reload failed: the new workers could not start; the running workers keep serving"
        );
        let starting: Vec<u32> = self
            .workers
            .iter()
            .filter(|w| w.generation == self.generation && w.state == State::Starting)
            .map(|w| w.pid)
            .collect();
        for pid in starting {
            self.stop(pid, "the reload was abandoned");
        }
        for worker in &mut self.workers {
            if worker.state != State::Stopping {
                worker.generation = self.generation;
                if worker.state == State::Replaced {
                    worker.state = State::Serving;
                }
            }
        }
        // Serving workers from both generations may now exceed the target; `maintain`
        // retires the surplus.
    }

    fn reload(&mut self, why: &str) {
        if self.stopping {
            return;
        }
        if let Some(path) = &self.config_file {
            // The workers read the file themselves; reading it here first keeps a broken
            // file from reaching them, and picks up the supervisor's own settings.
            match crate::RuntimeConfig::from_toml_file(path) {
                Ok(config) => {
                    if self.count_from_file {
                        self.target = config.workers.worker_count();
                    }
                    self.config = config.workers;
                }
                Err(e) => {
                    tracing::error!(
                        target: TARGET,
                        "reload ({why}) abandoned: {e}; the running workers keep serving"
                    );
                    return;
                }
            }
        }
        tracing::info!(target: TARGET, "reloading ({why}): starting {} new workers", self.target);
        // Workers still starting from an earlier reload are superseded.
        let starting: Vec<u32> = self
            .current()
            .filter(|w| w.state == State::Starting)
            .map(|w| w.pid)
            .collect();
        for pid in starting {
            self.stop(pid, "superseded by a newer reload");
        }
        self.generation += 1;
        self.reloading = Some(self.generation);
        self.failures_in_a_row = 0;
        self.next_start = Instant::now();
    }

    fn resize(&mut self, target: usize, why: &str) {
        if self.stopping || target == self.target {
            return;
        }
        tracing::info!(target: TARGET, "{why}: {} -> {target} workers", self.target);
        self.target = target;
    }

    fn stop_all(&mut self, why: &str) {
        if self.stopping {
            // A second signal: do not wait any longer.
            tracing::warn!(target: TARGET, "{why} again: killing the workers now");
            for worker in &self.workers {
                process::signal(worker.pid, libc::SIGKILL);
            }
            return;
        }
        tracing::info!(
            target: TARGET,
            "{why}: stopping {} workers (up to {} ms for their requests)",
            self.workers.len(),
            self.stop_timeout.as_millis()
        );
        self.stopping = true;
        let pids: Vec<u32> = self.workers.iter().map(|w| w.pid).collect();
        for pid in pids {
            self.stop(pid, why);
        }
    }

    /// Lifetime, memory, start-up and stop deadlines.
    fn check_limits(&mut self) {
        let now = Instant::now();
        let start_timeout = Duration::from_secs(self.config.worker_start_timeout_s);
        let mut to_replace = Vec::new();
        let mut to_kill = Vec::new();
        for worker in &self.workers {
            match worker.state {
                State::Starting if now - worker.started > start_timeout => {
                    tracing::error!(
                        target: TARGET,
                        "worker {} (pid {}) did not start serving within {} s \
                         (worker_start_timeout_s); killing it",
                        worker.id,
                        worker.pid,
                        start_timeout.as_secs()
                    );
                    to_kill.push(worker.pid);
                }
                State::Stopping
                    if worker
                        .stop_sent
                        .is_some_and(|t| now - t > self.stop_timeout + STOP_GRACE) =>
                {
                    tracing::warn!(
                        target: TARGET,
                        "worker {} (pid {}) did not stop in time; killing it",
                        worker.id,
                        worker.pid
                    );
                    to_kill.push(worker.pid);
                }
                State::Serving if worker.generation == self.generation => {
                    if worker.lifetime.is_some_and(|l| now - worker.started > l) {
                        to_replace.push((worker.pid, "reached worker_lifetime_s".to_owned()));
                    } else if let Some(limit) = self.config.worker_max_rss_mb
                        && let Some(rss) = process::resident_mib(worker.pid)
                        && rss > limit
                    {
                        to_replace.push((
                            worker.pid,
                            format!(
                                "resident memory {rss} MiB is over worker_max_rss_mb = {limit}"
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        for pid in to_kill {
            process::signal(pid, libc::SIGKILL);
        }
        for (pid, why) in to_replace {
            self.replace(pid, &why);
        }
    }
}

/// The pause before the next start after `failures` starts in a row failed.
fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// 0..=max, different in each call.
fn jitter(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    random % (max + 1)
}

fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "exited".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_starts_back_off_doubling_to_the_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(4), FIRST_BACKOFF * 8);
        assert_eq!(backoff(8), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn jitter_stays_in_range() {
        assert_eq!(jitter(0), 0);
        for _ in 0..100 {
            assert!(jitter(5) <= 5);
        }
    }
}
