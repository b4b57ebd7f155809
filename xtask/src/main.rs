//! `cargo xtask`: project automation for Puff (setup, build, serve, test, bench).
//! Only std + anyhow; arguments are parsed by hand.

mod bench;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use util::{Repo, UsageError, usage_err};

const USAGE: &str = "\
Usage: cargo xtask <COMMAND> [OPTIONS]

Commands:
  setup                               create .venv (python3 -m venv; $PUFF_PYTHON overrides the
                                      interpreter) and install python/requirements-dev.txt and
                                      the puff package (pip install -e python/); idempotent
  build [--features a,b] [--release]  setup, then cargo build -p puff-cli (named features
                                      replace the default ones)
  serve [--example NAME] [-- ARGS..]  setup, build, then run
                                      puff-cli --config examples/NAME/puff.toml runserver ARGS
                                      from examples/NAME (default NAME: hello)
  test                                setup, cargo fmt/clippy/build/test, ruff, pytest
                                      (integration and in-runtime); stops at the first failure
  bench [http] [OPTIONS]              HTTP benchmark vs granian, gunicorn+gevent and bare axum
  bench asgi [OPTIONS]                ASGI benchmark vs granian and uvicorn
  bench client [OPTIONS]              HTTP client benchmark (puff.http) vs httpx and aiohttp
  bench postgres [OPTIONS]            Postgres benchmark (puff.postgres) vs asyncpg and psycopg2
                                      on one private server (fetch, executemany, 50 callers)
  bench redis [OPTIONS]               Redis benchmark (puff.redis, puff.pubsub) vs redis-py
                                      asyncio on one private redis-server (GET/SET, pub/sub)
  bench tasks [OPTIONS]               Task queue benchmark (puff.task_queue) vs arq and Celery
                                      on one private redis-server (no-op tasks, one node)
  bench graphql [OPTIONS]             GraphQL benchmark (puff-cli [[graphql]]) vs Strawberry on
                                      uvicorn ({ hello }, 100 x 100 nested rows from Postgres)
  bench django [OPTIONS]              Django benchmark (the polls example's 3-query view) on
                                      puff-cli vs gunicorn+gevent and granian, one Postgres
                                      (`cargo xtask bench --help` for their options)
  bench bridge [CRITERION ARGS]       criterion benchmark of the greenlet <-> Tokio bridge
  help                                this text

Every cargo, puff-cli and python call gets PYO3_PYTHON=<repo>/.venv/bin/python,
VIRTUAL_ENV=<repo>/.venv and <repo>/.venv/bin first on PATH, so pyo3 is never rebuilt
because of a different environment.

Exit codes: 0 success, 1 a step failed, 2 bad usage.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match real_main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(usage) = err.downcast_ref::<UsageError>() {
                eprintln!("error: {usage}");
                eprintln!("(run `cargo xtask help` for usage)");
                ExitCode::from(2)
            } else {
                eprintln!("\nerror: {err:#}");
                ExitCode::from(1)
            }
        }
    }
}

fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "-h" || a == "--help")
}

fn real_main(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return usage_err("no command given");
    };
    match command.as_str() {
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        "setup" => {
            if wants_help(rest) {
                println!(
                    "Usage: cargo xtask setup\n\nCreates/updates .venv; see `cargo xtask help`."
                );
                return Ok(());
            }
            no_extra_args("setup", rest)?;
            setup::run(&Repo::locate()?)
        }
        "build" => {
            let Some(opts) = parse_build(rest)? else {
                println!("Usage: cargo xtask build [--features a,b] [--release]");
                return Ok(());
            };
            let repo = Repo::locate()?;
            setup::run(&repo)?;
            build(&repo, &opts)
        }
        "serve" => {
            let Some((example, extra)) = parse_serve(rest)? else {
                println!("Usage: cargo xtask serve [--example NAME] [-- EXTRA_ARGS...]");
                return Ok(());
            };
            serve(&Repo::locate()?, &example, &extra)
        }
        "test" => {
            if wants_help(rest) {
                println!(
                    "Usage: cargo xtask test\n\nRuns setup, cargo fmt --check, clippy, build, \
                     cargo test, ruff, pytest tests/integration and the in-runtime tests/runtime."
                );
                return Ok(());
            }
            no_extra_args("test", rest)?;
            test::run(&Repo::locate()?)
        }
        "bench" if rest.first().map(String::as_str) == Some("bridge") => {
            // Criterion benchmark of the greenlet <-> Tokio bridge (puff-greenlet/benches).
            let repo = Repo::locate()?;
            setup::run(&repo)?;
            println!("[bench] cargo bench -p puff-greenlet --bench bridge");
            util::run(
                repo.cargo()
                    .args(["bench", "-p", "puff-greenlet", "--bench", "bridge", "--"])
                    .args(&rest[1..]),
            )
        }
        "bench" => match bench::parse(rest)? {
            None => {
                println!("{}", bench::USAGE);
                Ok(())
            }
            Some(opts) => bench::run(&Repo::locate()?, &opts),
        },
        other => usage_err(format!("unknown command `{other}`")),
    }
}

fn no_extra_args(command: &str, rest: &[String]) -> Result<()> {
    match rest.first() {
        Some(arg) => usage_err(format!("`{command}` takes no arguments (got `{arg}`)")),
        None => Ok(()),
    }
}

#[derive(Debug, Default, PartialEq)]
struct BuildOpts {
    /// `None`: default features. `Some(list)`: exactly these (possibly none).
    features: Option<Vec<String>>,
    release: bool,
}

/// `None` means `--help` was asked for.
fn parse_build(args: &[String]) -> Result<Option<BuildOpts>> {
    let mut opts = BuildOpts::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--release" => opts.release = true,
            "--features" => {
                let v = it
                    .next()
                    .ok_or_else(|| UsageError("--features needs a value, e.g. http".into()))?;
                opts.features = Some(split_list(v));
            }
            a if a.starts_with("--features=") => {
                opts.features = Some(split_list(&a["--features=".len()..]));
            }
            other => return usage_err(format!("unknown build option `{other}`")),
        }
    }
    Ok(Some(opts))
}

fn split_list(v: &str) -> Vec<String> {
    v.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn build(repo: &Repo, opts: &BuildOpts) -> Result<()> {
    let mut cmd = repo.cargo();
    cmd.args(["build", "-p", "puff-cli"]);
    if let Some(features) = &opts.features {
        cmd.arg("--no-default-features");
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
    }
    if opts.release {
        cmd.arg("--release");
    }
    let profile = if opts.release { "release" } else { "debug" };
    println!("[build] building puff-cli ({profile})");
    util::run(&mut cmd).context("building puff-cli failed")?;
    println!("[build] done: target/{profile}/puff-cli");
    Ok(())
}

/// `None` means `--help` was asked for.
fn parse_serve(args: &[String]) -> Result<Option<(String, Vec<String>)>> {
    let mut example = "hello".to_string();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--" => return Ok(Some((example, it.cloned().collect()))),
            "--example" => {
                example = it
                    .next()
                    .ok_or_else(|| UsageError("--example needs a name, e.g. hello".into()))?
                    .clone();
            }
            a if a.starts_with("--example=") => example = a["--example=".len()..].to_string(),
            other => {
                return usage_err(format!(
                    "unknown serve option `{other}` (pass puff-cli arguments after `--`)"
                ));
            }
        }
    }
    Ok(Some((example, Vec::new())))
}

fn serve(repo: &Repo, example: &str, extra: &[String]) -> Result<()> {
    if example.is_empty() || example.contains(['/', '\\']) || example.starts_with('.') {
        return usage_err(format!("bad example name `{example}`"));
    }
    let dir = repo.root.join("examples").join(example);
    let config = dir.join("puff.toml");
    if !config.is_file() {
        let mut names: Vec<String> = std::fs::read_dir(repo.root.join("examples"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("puff.toml").is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        return usage_err(format!(
            "{} not found; examples with a puff.toml: {}",
            repo.rel(&config),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    setup::run(repo)?;
    build(repo, &BuildOpts::default())?;

    let binary = repo.root.join("target/debug/puff-cli");
    let mut cmd = repo.command(&binary);
    cmd.current_dir(&dir)
        .arg("--config")
        .arg(&config)
        .arg("runserver")
        .args(extra);
    println!(
        "[serve] (in {}) {}",
        repo.rel(&dir),
        util::display_cmd(&cmd)
    );
    // Replace this process with puff-cli (cargo run already exec'd us), so Ctrl-C reaches
    // puff-cli directly and its graceful shutdown and exit code are what the shell sees.
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    bail!("cannot run {}: {err}", binary.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn build_args() {
        assert_eq!(parse_build(&[]).unwrap(), Some(BuildOpts::default()));
        let o = parse_build(&s(&["--features", "a,b", "--release"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.features, Some(s(&["a", "b"])));
        assert!(o.release);
        assert_eq!(
            parse_build(&s(&["--features="])).unwrap().unwrap().features,
            Some(vec![])
        );
        assert!(parse_build(&s(&["--features"])).is_err());
        assert!(parse_build(&s(&["--bogus"])).is_err());
        assert_eq!(parse_build(&s(&["--help"])).unwrap(), None);
    }

    #[test]
    fn serve_args() {
        assert_eq!(
            parse_serve(&[]).unwrap(),
            Some(("hello".to_string(), vec![]))
        );
        assert_eq!(
            parse_serve(&s(&["--example", "x", "--", "--bind", "0:1"])).unwrap(),
            Some(("x".to_string(), s(&["--bind", "0:1"])))
        );
        assert!(parse_serve(&s(&["--bind"])).is_err());
    }

    #[test]
    fn usage_errors_are_typed() {
        let err = real_main(&s(&["frobnicate"])).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
    }
}
