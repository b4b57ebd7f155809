//! The HTTP servers the server benchmarks start: their names on the command line, the release
//! package each Rust one comes from, and the command line of each program ([`Launch`]); which
//! app or config a server runs in a case is the benchmark's choice.

use std::path::{Path, PathBuf};

use crate::repo::Repo;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Server {
    Puff,
    Granian,
    Gevent,
    PuffRust,
    Axum,
    Uvicorn,
    Strawberry,
    /// gunicorn's threaded worker (`-k gthread`).
    Gthread,
    /// gunicorn running uvicorn's worker class (`-k uvicorn.workers.UvicornWorker`).
    GunicornUvicorn,
    /// Puff with one worker whatever `--workers` says: the reference of a case that
    /// compares Puff's worker counts.
    PuffOneWorker,
    /// Puff with `access_log = "text"` (its reference: [`Server::Puff`], the log off).
    PuffLogText,
    /// Puff with `access_log = "json"`.
    PuffLogJson,
    /// Puff with the access log off and metrics on (`metrics_bind`).
    PuffMetrics,
}

impl Server {
    /// The name in `--servers`, log files and JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            Server::Puff => "puff",
            Server::Granian => "granian",
            Server::Gevent => "gevent",
            Server::PuffRust => "puff-rust",
            Server::Axum => "axum",
            Server::Uvicorn => "uvicorn",
            Server::Strawberry => "strawberry",
            Server::Gthread => "gthread",
            Server::GunicornUvicorn => "gunicorn-uvicorn",
            Server::PuffOneWorker => "puff-1w",
            Server::PuffLogText => "puff-log-text",
            Server::PuffLogJson => "puff-log-json",
            Server::PuffMetrics => "puff-metrics",
        }
    }

    /// For lists of servers on the command line.
    pub fn list_name(&self) -> String {
        self.name().to_string()
    }

    /// The release package of a server built from this workspace.
    pub fn package(self) -> Option<&'static str> {
        match self {
            Server::Puff
            | Server::PuffOneWorker
            | Server::PuffLogText
            | Server::PuffLogJson
            | Server::PuffMetrics => Some("puff-cli"),
            Server::PuffRust => Some("puff-example-rust-app"),
            Server::Axum => Some("axum-hello"),
            Server::Granian
            | Server::Gevent
            | Server::Uvicorn
            | Server::Strawberry
            | Server::Gthread
            | Server::GunicornUvicorn => None,
        }
    }

    /// The worker processes this server runs with in a run of `workers` per server.
    pub fn workers(self, workers: u32) -> u32 {
        if self == Server::PuffOneWorker || !self.takes_workers() {
            1
        } else {
            workers
        }
    }

    /// Its logging as the [`Launch`] constructors and the bench configs set it.
    pub fn logging(self) -> &'static str {
        match self {
            Server::Puff | Server::PuffOneWorker => {
                "access log off (`access_log = false`), log filter `info` (the default)"
            }
            Server::PuffLogText => {
                "access log `text` to the run's log file (`access_log = \"text\"`), log filter `info`"
            }
            Server::PuffLogJson => {
                "access log `json` to the run's log file (`access_log = \"json\"`), log filter `info`"
            }
            Server::PuffMetrics => {
                "access log off, metrics on (`metrics_bind`, not scraped), log filter `info`"
            }
            Server::PuffRust => "access log off (`PUFF_LOG=info,puff::access=off`)",
            Server::Axum => "none",
            Server::Uvicorn | Server::Strawberry => "access log off, `--log-level warning`",
            Server::Granian | Server::Gevent | Server::Gthread | Server::GunicornUvicorn => {
                "no access log (the default), `--log-level warning`"
            }
        }
    }

    /// Whether the bench can run this server with `--workers N` processes (the Rust example
    /// and bare axum are one process; Strawberry is only served one way).
    pub fn takes_workers(self) -> bool {
        !matches!(self, Server::PuffRust | Server::Axum | Server::Strawberry)
    }

    /// Puff itself, run from this workspace's `puff-cli` with one config or another.
    pub fn is_puff_cli(self) -> bool {
        self.package() == Some("puff-cli")
    }

    /// A peer server, run from the peers venv.
    pub fn is_peer(self) -> bool {
        self.package().is_none()
    }
}

/// The command line of a server: program, arguments and working folder.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: PathBuf,
}

/// gunicorn's `--worker-connections` where a benchmark sets no limit of its own: far above
/// any case's connection count.
pub const GEVENT_WORKER_CONNECTIONS: u32 = 2000;

/// bench/apps: the apps, configs and scripts of the benchmarks.
pub fn apps_dir(repo: &Repo) -> PathBuf {
    repo.root.join("bench/apps")
}

impl Launch {
    /// `puff-cli --config bench/apps/CONFIG [--default-postgres-url URL] runserver --bind BIND
    /// --workers N`.
    pub fn puff_cli(
        repo: &Repo,
        config: &str,
        pg_url: Option<&str>,
        bind: String,
        workers: u32,
    ) -> Launch {
        let apps = apps_dir(repo);
        let mut args: Vec<String> = vec![
            "--config".into(),
            apps.join(config).to_string_lossy().into_owned(),
        ];
        if let Some(url) = pg_url {
            // The `default` pool of puff_graphql.toml / puff_django.toml.
            args.extend(["--default-postgres-url".into(), url.to_string()]);
        }
        // Always given, so a PUFF_WORKERS in the caller's environment cannot change the run.
        args.extend([
            "runserver".into(),
            "--bind".into(),
            bind,
            "--workers".into(),
            workers.to_string(),
        ]);
        Launch {
            program: repo.root.join("target/release/puff-cli"),
            args,
            dir: apps,
        }
    }

    /// The Rust example app (`examples/rust_app`), `runserver --bind BIND`.
    pub fn puff_rust_app(repo: &Repo, bind: String) -> Launch {
        Launch {
            program: repo.root.join("target/release/puff-example-rust-app"),
            args: vec!["runserver".into(), "--bind".into(), bind],
            dir: repo.root.join("examples/rust_app"),
        }
    }

    /// Bare axum (`bench/axum-hello`).
    /// `axum-hello --bind BIND`; with `wait_ms` (the wait cases) every path but
    /// `/rust/hello` waits that long on Tokio's timer, on `threads` Tokio worker threads.
    pub fn axum(repo: &Repo, bind: String, wait_ms: Option<u64>, threads: u32) -> Launch {
        let mut args = vec!["--bind".into(), bind];
        if let Some(ms) = wait_ms {
            args.extend(["--wait-ms".into(), ms.to_string()]);
            args.extend(["--threads".into(), threads.to_string()]);
        }
        Launch {
            program: repo.root.join("target/release/axum-hello"),
            args,
            dir: repo.root.clone(),
        }
    }

    /// granian, `workers` worker processes, serving `app` through `interface` (`wsgi`, `asgi`)
    /// with `--blocking-threads` when given.
    pub fn granian(
        repo: &Repo,
        peers_venv: &Path,
        interface: &str,
        port: u16,
        workers: u32,
        blocking_threads: Option<u32>,
        app: &str,
    ) -> Launch {
        let mut args: Vec<String> = vec![
            "--interface".into(),
            interface.into(),
            "--workers".into(),
            workers.to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--log-level".into(),
            "warning".into(),
        ];
        if let Some(threads) = blocking_threads {
            args.extend(["--blocking-threads".into(), threads.to_string()]);
        }
        args.push(app.into());
        Launch {
            program: peers_venv.join("bin/granian"),
            args,
            dir: apps_dir(repo),
        }
    }

    /// uvicorn with httptools and uvloop, `workers` worker processes, no access log.
    pub fn uvicorn(repo: &Repo, peers_venv: &Path, port: u16, workers: u32, app: &str) -> Launch {
        Launch {
            program: peers_venv.join("bin/uvicorn"),
            args: vec![
                "--http".into(),
                "httptools".into(),
                "--loop".into(),
                "uvloop".into(),
                "--workers".into(),
                workers.to_string(),
                "--no-access-log".into(),
                "--backlog".into(),
                "4096".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
                "--log-level".into(),
                "warning".into(),
                app.into(),
            ],
            dir: apps_dir(repo),
        }
    }

    /// gunicorn with `workers` workers of `worker_class` and its `options`; no access log
    /// (gunicorn writes none unless `--access-logfile` is given).
    pub fn gunicorn(
        repo: &Repo,
        peers_venv: &Path,
        bind: String,
        (worker_class, workers): (&str, u32),
        options: &[String],
        app: &str,
    ) -> Launch {
        let mut args: Vec<String> = vec![
            "-k".into(),
            worker_class.into(),
            "-w".into(),
            workers.to_string(),
        ];
        args.extend_from_slice(options);
        args.extend([
            "--backlog".into(),
            "4096".into(),
            "-b".into(),
            bind,
            "--log-level".into(),
            "warning".into(),
            app.into(),
        ]);
        Launch {
            program: peers_venv.join("bin/gunicorn"),
            args,
            dir: apps_dir(repo),
        }
    }

    /// gunicorn with `workers` gevent workers of `worker_connections` connections each.
    pub fn gunicorn_gevent(
        repo: &Repo,
        peers_venv: &Path,
        bind: String,
        (workers, worker_connections): (u32, u32),
        app: &str,
    ) -> Launch {
        let options = [
            "--worker-connections".into(),
            worker_connections.to_string(),
        ];
        Launch::gunicorn(repo, peers_venv, bind, ("gevent", workers), &options, app)
    }
}
