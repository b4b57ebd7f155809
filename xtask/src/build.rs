//! `cargo xtask build`: `cargo build -p puff-cli` with the uniform environment, optionally
//! with named features instead of the default ones and in release mode.

use anyhow::{Context, Result};

use crate::command;
use crate::repo::Repo;

/// `cargo xtask build [--features a,b] [--release]`.
#[derive(clap::Args, Debug, Default, PartialEq)]
pub struct Args {
    /// Build with exactly these puff-cli features (comma-separated) instead of the default
    /// ones; `--features ""` builds with none
    #[arg(long, value_name = "A,B")]
    pub features: Option<String>,
    /// Build the release profile (target/release/puff-cli)
    #[arg(long)]
    pub release: bool,
}

impl Args {
    /// `None`: default features. `Some(list)`: exactly these (possibly none).
    pub fn feature_list(&self) -> Option<Vec<String>> {
        self.features.as_deref().map(split_list)
    }
}

/// The items of a comma- or space-separated list, trimmed, empty ones dropped.
fn split_list(v: &str) -> Vec<String> {
    v.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Builds puff-cli as `args` says.
pub fn run(repo: &Repo, args: &Args) -> Result<()> {
    let mut cmd = repo.cargo();
    cmd.args(["build", "-p", "puff-cli"]);
    if let Some(features) = args.feature_list() {
        cmd.arg("--no-default-features");
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
    }
    if args.release {
        cmd.arg("--release");
    }
    let profile = if args.release { "release" } else { "debug" };
    println!("[build] building puff-cli ({profile})");
    command::run(&mut cmd).context("building puff-cli failed")?;
    println!("[build] done: target/{profile}/puff-cli");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_a_list_or_none() {
        let args = |f: Option<&str>| Args {
            features: f.map(String::from),
            release: false,
        };
        assert_eq!(args(None).feature_list(), None);
        assert_eq!(
            args(Some("a,b")).feature_list(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            args(Some(" a , b c")).feature_list(),
            Some(vec!["a".to_string(), "b".to_string(), "c".to_string()])
        );
        assert_eq!(args(Some("")).feature_list(), Some(vec![]));
    }
}
