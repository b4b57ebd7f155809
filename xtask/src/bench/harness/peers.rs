//! The peers' virtualenvs: bench/.venv-peers with the pinned peer servers and clients
//! (bench/requirements-peers.txt), side venvs for peers whose pins conflict with it, and the
//! versions of what is installed in them.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::command;
use crate::repo::{self, Repo};
use crate::setup;
use crate::stamp::Fnv64;

pub const PEERS_VENV: &str = "bench/.venv-peers";
pub const PEERS_REQUIREMENTS: &str = "bench/requirements-peers.txt";
const PEERS_STAMP: &str = ".peers-stamp";

/// Creates bench/.venv-peers and installs the pinned peer servers (skipped while the stamp
/// matches bench/requirements-peers.txt).
pub fn ensure_peers(repo: &Repo, venv: &Path) -> Result<()> {
    let info = setup::ensure_venv(repo, venv, "   ")?;
    let requirements = repo.root.join(PEERS_REQUIREMENTS);
    let stamp_path = venv.join(PEERS_STAMP);
    let mut hash = Fnv64::new();
    hash.update(b"puff-peers-v1\0")
        .update(info.version_str().as_bytes());
    hash.update(
        &std::fs::read(&requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?,
    );
    let hash = hash.hex();
    if std::fs::read_to_string(&stamp_path)
        .unwrap_or_default()
        .trim()
        == hash
    {
        println!("    {PEERS_REQUIREMENTS} unchanged (stamp matches) -- skipped pip install");
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp_path);
    println!("    installing {PEERS_REQUIREMENTS} into {PEERS_VENV}");
    let mut cmd = Command::new(venv.join("bin/python"));
    repo::apply_venv_env(&mut cmd, venv);
    cmd.current_dir(&repo.root)
        .args(["-m", "pip", "install"])
        .args(setup::pip_flags())
        .args(["-r", PEERS_REQUIREMENTS]);
    command::run(&mut cmd).context("installing the peer servers failed")?;
    std::fs::write(&stamp_path, format!("{hash}\n"))
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}

/// A peer that cannot share bench/.venv-peers (its declared dependencies conflict with
/// the pins there) and gets a venv of its own, pinned in its own requirements file.
pub struct SideVenv {
    /// The venv, inside the (git-ignored) peers venv.
    pub dir: &'static str,
    pub requirements: &'static str,
    /// The packages whose versions the report gives, shown as `NAME (label)`.
    pub packages: &'static [&'static str],
    pub label: &'static str,
}

/// Creates `side`'s venv and installs its requirements (skipped while its stamp matches).
pub fn ensure_side_venv(repo: &Repo, side: &SideVenv) -> Result<()> {
    let venv = repo.root.join(side.dir);
    let info = setup::ensure_venv(repo, &venv, "   ")?;
    let requirements = repo.root.join(side.requirements);
    let text = std::fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp_path = venv.join(PEERS_STAMP);
    let mut hash = Fnv64::new();
    hash.update(b"puff-side-peers-v2\0")
        .update(info.version_str().as_bytes())
        .update(text.as_bytes());
    let hash = hash.hex();
    if std::fs::read_to_string(&stamp_path)
        .unwrap_or_default()
        .trim()
        == hash
    {
        println!(
            "    {} unchanged (stamp matches) -- skipped pip install",
            side.requirements
        );
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp_path);
    println!("    installing {} into {}", side.requirements, side.dir);
    let mut cmd = Command::new(venv.join("bin/python"));
    repo::apply_venv_env(&mut cmd, &venv);
    cmd.current_dir(&repo.root)
        .args(["-m", "pip", "install"])
        .args(setup::pip_flags())
        .args(["-r", side.requirements]);
    command::run(&mut cmd).with_context(|| format!("installing {} failed", side.dir))?;
    std::fs::write(&stamp_path, format!("{hash}\n"))
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}

/// The versions of `packages` installed in `venv` (those that are).
pub fn venv_versions(venv: &Path, packages: &[&str]) -> Vec<(String, String)> {
    let script = format!(
        "import importlib.metadata as m\nfor n in {:?}:\n    try:\n        print(n, m.version(n))\n    except Exception:\n        pass\n",
        packages
    );
    let mut out = Vec::new();
    if !packages.is_empty()
        && let Ok(text) =
            command::capture(Command::new(venv.join("bin/python")).args(["-c", &script]))
    {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(' ') {
                out.push((k.to_string(), v.trim().to_string()));
            }
        }
    }
    out
}
