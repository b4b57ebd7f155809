//! `puff-cli tasks`: operate a task queue on Redis from the shell — `list`, `show ID`,
//! `retry ID|--dead`, `cancel ID`, `purge --dead`, `stats` — as a table for people or
//! `--json` for scripts. It starts neither Python nor a task worker: it connects to the
//! queue's Redis from the config alone ([`QueueAdmin::connect`]).
//!
//! Exit codes: 0 done; 1 the task is unknown or the action does not apply to its state;
//! 2 usage or configuration error (unknown queue, queue in process); 3 Redis could not be
//! reached or failed.

mod render;
mod table;

use std::io::Write;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};
use puff_greenlet::{CommandContext, CommandFuture, RunnableCommand, Subsystems};
use puff_redis::{RedisConfig, RedisSettings};

use crate::admin::{AdminError, QueueAdmin, RetriedAll, TaskState};
use crate::config::TaskQueueConfig;
use crate::subsystem::{TaskQueueSettings, TasksSubsystem};
use crate::task::now_ms;

/// Tasks of each state `list` shows unless told otherwise.
const DEFAULT_LIMIT: &str = "50";

/// Why a `tasks` command did not do what it was asked, with its exit code.
enum Failure {
    /// Unknown task, or an action that does not apply to the task's state (1).
    Refused(String),
    /// Unknown queue, a queue in process, a bad config (2).
    Usage(String),
    /// Redis unreachable or failing (3).
    Backend(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Backend(_) => 3,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Refused(m) | Failure::Usage(m) | Failure::Backend(m) => m,
        }
    }
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Failure {
        match e {
            AdminError::Redis(e) => Failure::Backend(e.to_string()),
            other => Failure::Usage(other.to_string()),
        }
    }
}

impl From<puff_redis::RedisError> for Failure {
    fn from(e: puff_redis::RedisError) -> Failure {
        Failure::Backend(e.to_string())
    }
}

/// The `tasks` subcommand.
#[derive(Clone)]
pub struct TasksCommand {
    /// The `[[task_queue]]` entries, the implicit `default` included.
    queues: Vec<TaskQueueConfig>,
    /// The `[[redis]]` entries (their URL overrides are read when the command runs).
    redis: Vec<RedisConfig>,
}

impl TasksCommand {
    pub fn new(queues: &[TaskQueueConfig], redis: &[RedisConfig]) -> TasksCommand {
        TasksCommand {
            queues: TasksSubsystem::queues_with_default(queues),
            redis: redis.to_vec(),
        }
    }

    /// The queues and Redis pools of a program's configuration.
    pub fn from_config(config: &impl Subsystems) -> TasksCommand {
        TasksCommand::new(config.task_queue_configs(), config.redis_configs())
    }

    /// Run the parsed command; prints its output, returns its exit code.
    async fn execute(&self, args: &ArgMatches) -> ExitCode {
        let json = args.get_flag("json");
        let result = self.dispatch(args, json).await.and_then(|text| {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // The reader stopped early (`| head`): nothing left to tell it.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(|e| Failure::Usage(format!("cannot write the output: {e}"))),
            }
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {}", failure.message());
                ExitCode::from(failure.exit_code())
            }
        }
    }

    fn queue_config(&self, name: &str) -> Result<&TaskQueueConfig, Failure> {
        self.queues.iter().find(|q| q.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.queues.iter().map(|q| q.name.as_str()).collect();
            Failure::Usage(format!(
                "no task queue named `{name}` is configured; the configured queues: {}",
                names.join(", ")
            ))
        })
    }

    /// The text to print for `args`.
    async fn dispatch(&self, args: &ArgMatches, json: bool) -> Result<String, Failure> {
        let queue = args
            .get_one::<String>("queue")
            .map_or("default", String::as_str);
        let admin = QueueAdmin::connect(self.queue_config(queue)?, &self.redis)?;
        let unknown = |id: &str| {
            Failure::Refused(format!(
                "no task `{id}` in queue `{queue}` (never scheduled there, cancelled, or its \
                 result expired)"
            ))
        };
        let Some((sub, sub_args)) = args.subcommand() else {
            return Err(Failure::Usage("a subcommand is required".into()));
        };
        let id = || {
            sub_args
                .get_one::<String>("id")
                .map(String::as_str)
                .unwrap_or_default()
        };
        let url = admin.redacted_url().to_owned();
        Ok(match sub {
            "list" => {
                let states = list_states(sub_args);
                let limit = sub_args.get_one::<usize>("limit").copied().unwrap_or(50);
                let listing = admin.list(&states, limit).await?;
                if json {
                    render::list_json(queue, &listing)
                } else {
                    render::list_table(queue, &url, &listing, &states, now_ms())
                }
            }
            "show" => {
                let task = admin.show(id()).await?.ok_or_else(|| unknown(id()))?;
                if json {
                    render::show_json(queue, &task)
                } else {
                    render::show_table(queue, &task, now_ms())
                }
            }
            "retry" => {
                let retried = if sub_args.get_flag("dead") {
                    admin.retry_all_dead().await?
                } else {
                    match admin.retry(id()).await? {
                        Some(TaskState::Dead) => RetriedAll {
                            ids: vec![id().to_owned()],
                            kept: 0,
                        },
                        Some(state) => return Err(not_retryable(queue, id(), state)),
                        None => return Err(unknown(id())),
                    }
                };
                if json {
                    render::retried_json(queue, &retried)
                } else {
                    render::retried_text(queue, &retried)
                }
            }
            "cancel" => match admin.cancel(id()).await? {
                Some(was @ (TaskState::Queued | TaskState::Running)) if json => {
                    render::cancelled_json(queue, id(), was)
                }
                Some(was @ (TaskState::Queued | TaskState::Running)) => {
                    render::cancelled_text(queue, id(), was)
                }
                Some(state) => return Err(not_cancellable(queue, id(), state)),
                None => return Err(unknown(id())),
            },
            "purge" => {
                let purged = admin.purge_dead().await?;
                if json {
                    render::purged_json(queue, purged)
                } else {
                    render::purged_text(queue, purged)
                }
            }
            "stats" => {
                let stats = admin.stats().await?;
                if json {
                    render::stats_json(queue, &url, &stats)
                } else {
                    render::stats_table(queue, &url, &stats)
                }
            }
            other => return Err(Failure::Usage(format!("unknown subcommand `{other}`"))),
        })
    }
}

fn not_retryable(queue: &str, id: &str, state: TaskState) -> Failure {
    Failure::Refused(match state {
        TaskState::Finished => format!(
            "task `{id}` in queue `{queue}` finished; only dead-lettered tasks can be retried \
             (a finished task keeps only its result, not its function and payload: schedule \
             it again from your code)"
        ),
        _ => format!(
            "task `{id}` in queue `{queue}` is {state}; only dead-lettered tasks can be retried"
        ),
    })
}

fn not_cancellable(queue: &str, id: &str, state: TaskState) -> Failure {
    Failure::Refused(match state {
        TaskState::Dead => format!(
            "task `{id}` in queue `{queue}` is dead-lettered, not queued or running: `tasks \
             retry {id}` runs it again, `tasks purge --dead` drops the dead letters"
        ),
        _ => format!("task `{id}` in queue `{queue}` is {state}; nothing to cancel"),
    })
}

/// `--state` values (every listable state when none is given).
fn list_states(args: &ArgMatches) -> Vec<TaskState> {
    let asked: Vec<&String> = args
        .get_many::<String>("state")
        .map(|v| v.collect())
        .unwrap_or_default();
    [TaskState::Queued, TaskState::Running, TaskState::Dead]
        .into_iter()
        .filter(|s| asked.is_empty() || asked.iter().any(|a| a.as_str() == s.as_str()))
        .collect()
}

fn id_arg(help: &'static str) -> Arg {
    Arg::new("id").value_name("ID").help(help)
}

impl RunnableCommand for TasksCommand {
    fn cli(&self) -> Command {
        Command::new("tasks")
            .about("Inspect and operate a task queue on Redis (list, show, retry, cancel, purge, stats)")
            .subcommand_required(true)
            .arg_required_else_help(true)
            .arg(
                Arg::new("queue")
                    .long("queue")
                    .value_name("NAME")
                    .global(true)
                    .help("The [[task_queue]] to operate (default: `default`)"),
            )
            .arg(
                Arg::new("json")
                    .long("json")
                    .action(ArgAction::SetTrue)
                    .global(true)
                    .help("Print one JSON document (keys in docs/tasks.md) instead of text"),
            )
            .subcommand(
                Command::new("list")
                    .about("Queued, running and dead-lettered tasks")
                    .arg(
                        Arg::new("state")
                            .long("state")
                            .value_name("STATE")
                            .action(ArgAction::Append)
                            .value_delimiter(',')
                            .value_parser(["queued", "running", "dead"])
                            .help("Only these states (repeat or comma-separate; default: all)"),
                    )
                    .arg(
                        Arg::new("limit")
                            .long("limit")
                            .value_name("N")
                            .default_value(DEFAULT_LIMIT)
                            .value_parser(clap::value_parser!(usize))
                            .help("At most N tasks of each state"),
                    ),
            )
            .subcommand(
                Command::new("show")
                    .about("Everything known about one task")
                    .arg(id_arg("The task id").required(true)),
            )
            .subcommand(
                Command::new("retry")
                    .about("Put a dead-lettered task (or all, --dead) back in the queue")
                    .arg(id_arg("The dead-lettered task's id"))
                    .arg(
                        Arg::new("dead")
                            .long("dead")
                            .action(ArgAction::SetTrue)
                            .conflicts_with("id")
                            .help("Every dead letter"),
                    )
                    .group(
                        clap::ArgGroup::new("which")
                            .args(["id", "dead"])
                            .required(true),
                    ),
            )
            .subcommand(
                Command::new("cancel")
                    .about("Remove a queued or running task")
                    .arg(id_arg("The task id").required(true)),
            )
            .subcommand(
                Command::new("purge")
                    .about("Drop the dead-letter list")
                    .arg(
                        Arg::new("dead")
                            .long("dead")
                            .action(ArgAction::SetTrue)
                            .required(true)
                            .help("Drop every dead letter (required: says what is purged)"),
                    ),
            )
            .subcommand(Command::new("stats").about("Counts of tasks, live workers and results"))
    }

    fn needs_runtime(&self) -> bool {
        false
    }

    fn run_without_runtime(&self, args: &ArgMatches) -> ExitCode {
        let tokio = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(tokio) => tokio,
            Err(e) => {
                eprintln!("error: cannot start Tokio: {e}");
                return ExitCode::from(3);
            }
        };
        tokio.block_on(self.execute(args))
    }

    fn run(&self, _ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let command = self.clone();
        Box::pin(async move { Ok(command.execute(&args).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let command = TasksCommand::new(&[], &[]);
        command.cli().debug_assert();
        let parse = |args: &[&str]| command.cli().try_get_matches_from(args);
        let m = parse(&[
            "tasks",
            "list",
            "--state",
            "dead,queued",
            "--queue",
            "q",
            "--json",
        ])
        .unwrap();
        assert_eq!(m.get_one::<String>("queue").map(String::as_str), Some("q"));
        assert!(m.get_flag("json"));
        let (_, list) = m.subcommand().unwrap();
        assert_eq!(list_states(list), [TaskState::Queued, TaskState::Dead]);
        assert_eq!(list.get_one::<usize>("limit"), Some(&50));
        assert!(parse(&["tasks", "retry"]).is_err(), "an id or --dead");
        assert!(
            parse(&["tasks", "retry", "x", "--dead"]).is_err(),
            "not both"
        );
        assert!(parse(&["tasks", "purge"]).is_err(), "--dead is required");
        assert!(parse(&["tasks", "list", "--state", "finished"]).is_err());
        assert_eq!(
            command
                .queue_config("nope")
                .err()
                .map(|f| f.message().to_owned()),
            Some("no task queue named `nope` is configured; the configured queues: default".into())
        );
    }
}
