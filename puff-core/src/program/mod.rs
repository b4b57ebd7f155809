//! [`Program`]: parse the command line, start Tokio, the subsystems and Python, run the
//! chosen command, shut down.

pub mod commands;
mod metrics;
mod workers;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::ArgMatches;
use puff_greenlet::{
    InterpreterConfig, PuffError, PythonRuntime, Resources, RuntimeStart, SetupFn, StartContext,
    Subsystem, UrlFlag,
};

use crate::config::RuntimeConfig;
use commands::{CommandContext, RunnableCommand};
use puff_greenlet::supervision;
use workers::with_worker_args;

/// A Puff program: a runtime configuration plus subcommands.
pub struct Program {
    name: String,
    about: String,
    config: RuntimeConfig,
    commands: Vec<Box<dyn RunnableCommand>>,
    extra_args: Vec<clap::Arg>,
}

impl Program {
    pub fn new(name: impl Into<String>) -> Self {
        Program {
            name: name.into(),
            about: String::new(),
            config: RuntimeConfig::default(),
            commands: Vec::new(),
            extra_args: Vec::new(),
        }
    }

    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = about.into();
        self
    }

    pub fn runtime_config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// Add a subcommand.
    pub fn command(mut self, command: impl RunnableCommand + 'static) -> Self {
        self.commands.push(Box::new(command));
        self
    }

    /// Add a global command-line argument (documented in `--help`, otherwise ignored).
    pub fn global_arg(mut self, arg: clap::Arg) -> Self {
        self.extra_args.push(arg.global(true));
        self
    }

    /// Run with the process arguments; returns the exit code for `main`.
    pub fn run(self) -> ExitCode {
        self.run_with_args(std::env::args_os())
    }

    /// Run with explicit arguments (the first one is the program name).
    pub fn run_with_args<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        supervision::adopt_from_environment();
        let mut cli = clap::Command::new(self.name.clone())
            .version(env!("CARGO_PKG_VERSION"))
            .subcommand_required(true)
            .arg_required_else_help(true);
        if !self.about.is_empty() {
            cli = cli.about(self.about.clone());
        }
        for arg in &self.extra_args {
            cli = cli.arg(arg.clone());
        }
        for arg in subsystem_args(&self.config) {
            cli = cli.arg(arg);
        }
        for command in &self.commands {
            let mut sub = command.cli();
            if command.runs_in_workers() {
                sub = with_worker_args(sub);
            }
            cli = cli.subcommand(sub);
        }
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = match cli.try_get_matches_from(&args) {
            Ok(m) => m,
            Err(e) => {
                let _ = e.print();
                return match e.kind() {
                    clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                    _ => ExitCode::from(2),
                };
            }
        };
        let Some((sub_name, sub_matches)) = matches.subcommand() else {
            return ExitCode::from(2);
        };
        let Some(command) = self
            .commands
            .iter()
            .find(|c| c.cli().get_name() == sub_name)
        else {
            return ExitCode::from(2);
        };
        if !command.needs_runtime() {
            // Such a command may still connect somewhere (`tasks`): the URLs of `[env]`
            // and the flags apply to it too.
            set_environment(&self.config, &matches, sub_matches);
            return command.run_without_runtime(sub_matches);
        }
        let metrics_bind = match command
            .runs_in_workers()
            .then(|| metrics::metrics_bind(&self.config, sub_matches))
            .transpose()
        {
            Ok(bind) => bind.flatten(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        if command.runs_in_workers() && !supervision::is_worker() {
            match workers::supervised(
                &self.config,
                command.as_ref(),
                &args,
                sub_matches,
                metrics_bind.clone(),
            ) {
                Ok(Some(settings)) => {
                    init_tracing();
                    return crate::supervisor::run(settings);
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        set_environment(&self.config, &matches, sub_matches);
        init_tracing();
        if let Some(id) = supervision::worker_id() {
            tracing::info!("worker {id} (pid {}) starting", std::process::id());
        }
        // A worker records into its supervisor's arena, which the supervisor serves.
        let serve_metrics = metrics_bind.filter(|_| !supervision::is_worker());
        match run_in_runtime(
            &self.config,
            command.as_ref(),
            sub_matches.clone(),
            serve_metrics.as_deref(),
        ) {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("{e}");
                match e {
                    PuffError::Config(_) => ExitCode::from(2),
                    _ => ExitCode::FAILURE,
                }
            }
        }
    }
}

/// Set the config's `[env]`, then the variables the subsystem flags given stand for. Call
/// it before any thread starts (Tokio, Python).
fn set_environment(config: &RuntimeConfig, matches: &ArgMatches, sub_matches: &ArgMatches) {
    for (key, value) in &config.env {
        // SAFETY: no other threads exist yet (Tokio and Python start later).
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(key, value)
        };
    }
    for (key, value) in subsystem_arg_env(config, matches, sub_matches) {
        // SAFETY: as above; flags win over `[env]` and the inherited environment.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(key, value)
        };
    }
}

/// One `--{name}-{kind}-url` flag per configured instance, as each subsystem offers them.
fn url_flags(config: &RuntimeConfig) -> Vec<UrlFlag> {
    config
        .subsystems
        .iter()
        .flat_map(|s| s.url_flags())
        .collect()
}

/// Global flags of configured subsystem instances (`--{name}-postgres-url`, ...).
fn subsystem_args(config: &RuntimeConfig) -> Vec<clap::Arg> {
    url_flags(config)
        .into_iter()
        .map(|f| {
            clap::Arg::new(f.flag.clone())
                .long(f.flag)
                .value_name("URL")
                .global(true)
                .help(f.help)
        })
        .collect()
}

/// Environment variables the subsystem flags given on the command line stand for.
fn subsystem_arg_env(
    config: &RuntimeConfig,
    matches: &ArgMatches,
    sub_matches: &ArgMatches,
) -> Vec<(String, String)> {
    url_flags(config)
        .into_iter()
        .filter_map(|f| {
            sub_matches
                .get_one::<String>(&f.flag)
                .or_else(|| matches.get_one::<String>(&f.flag))
                .map(|url| (f.env_var, url.clone()))
        })
        .collect()
}

/// Log to stderr; filter from `PUFF_LOG` or `RUST_LOG` (default `info`).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("PUFF_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}

/// Puts the calling thread under `SCHED_BATCH` (see
/// [`RuntimeConfig::set_tokio_batch_scheduling`]); any thread may lower its own policy so.
#[allow(unsafe_code)]
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread and `param` is a valid sched_param.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
            tracing::debug!(
                "SCHED_BATCH for a Tokio thread: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// With N worker processes, each one's Tokio threads: the CPUs divided among the workers
/// (at least one), so that N runtimes do not each start a thread per CPU and contend for
/// the same cores; `None` (Tokio's default, one per CPU) for a single process.
fn shared_cpus() -> Option<usize> {
    let workers = supervision::worker_count();
    if workers <= 1 {
        return None;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some((cpus / workers).max(1))
}

fn run_in_runtime(
    config: &RuntimeConfig,
    command: &dyn RunnableCommand,
    args: ArgMatches,
    metrics_bind: Option<&str>,
) -> Result<ExitCode, PuffError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("puff-tokio");
    if let Some(threads) = config.tokio_worker_threads.or_else(shared_cpus) {
        builder.worker_threads(threads);
    }
    if config.tokio_batch_scheduling() {
        builder.on_thread_start(batch_scheduling);
    }
    let tokio = builder.build().map_err(PuffError::Io)?;
    if let Some(bind) = metrics_bind {
        metrics::serve_in_process(bind, tokio.handle())?;
    }
    let resources = Resources::new();
    let subsystems: Vec<Arc<dyn Subsystem>> = config
        .subsystems
        .iter()
        .map(|s| Arc::from(s.clone()))
        .collect();
    {
        let ctx = StartContext {
            resources: &resources,
            tokio: tokio.handle(),
        };
        for subsystem in &subsystems {
            subsystem.start(&ctx)?;
        }
    }
    let setup: Vec<SetupFn> = subsystems
        .iter()
        .map(|s| {
            let s = s.clone();
            Box::new(
                move |py: puff_greenlet::pyo3::Python<'_>,
                      native: &puff_greenlet::pyo3::Bound<
                    '_,
                    puff_greenlet::pyo3::types::PyModule,
                >| { s.python_module(py, native) },
            ) as SetupFn
        })
        .collect();
    let python = PythonRuntime::start(RuntimeStart {
        interpreter: InterpreterConfig {
            virtualenv: config.virtualenv.clone(),
            python_paths: config.python_paths.clone(),
            program_name: std::env::args().next().unwrap_or_else(|| "puff".into()),
        },
        tokio: tokio.handle().clone(),
        setup,
        global_state: config.global_state_fn.clone(),
        resources: resources.clone(),
        asyncio: config.asyncio,
    })?;
    if let Some(threshold) = config.gc_threshold() {
        tokio.block_on(python.run(move |py| {
            use puff_greenlet::pyo3::prelude::PyAnyMethods;
            py.import("gc")?
                .call_method1("set_threshold", (threshold, 10, 10))
                .map(|_| ())
        }))?;
    }
    if puff_greenlet::metrics::enabled() {
        tokio.block_on(python.run(puff_greenlet::metrics::watch_gc))?;
    }
    {
        let ctx = StartContext {
            resources: &resources,
            tokio: tokio.handle(),
        };
        for subsystem in &subsystems {
            subsystem.python_started(&ctx, &python)?;
        }
    }
    // Commands find the program's configuration in the registry.
    resources.insert("default", Arc::new(config.clone()));
    let ctx = CommandContext {
        python: python.clone(),
        resources: resources.clone(),
        gc_threshold: config.gc_threshold(),
    };
    // Servers and background workers are watched for blocks (from when they serve, see
    // `watchdog::arm`); one-off commands such as pytest own the thread by design.
    let watchdog = match config.block_warn() {
        Some(threshold) if command.runs_in_workers() => {
            puff_greenlet::watchdog::Watchdog::start(&python, threshold)
                .inspect_err(|e| tracing::warn!("no blocked-thread detector: {e}"))
                .ok()
        }
        _ => None,
    };
    let result = tokio.block_on(command.run(ctx, args));
    drop(watchdog);
    for subsystem in subsystems.iter().rev() {
        subsystem.shutdown(&resources);
    }
    if !python.shutdown_and_wait(Duration::from_secs(5)) {
        tracing::warn!("the Python thread did not stop within 5 s; exiting anyway");
    }
    tokio.shutdown_timeout(Duration::from_secs(1));
    result
}
