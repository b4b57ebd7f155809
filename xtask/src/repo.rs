//! The repository xtask works on: its root, the project virtualenv, and the uniform
//! environment (`PYO3_PYTHON`, `VIRTUAL_ENV`, `PATH`) every cargo, puff-cli and python call
//! gets.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The repository and the paths xtask works with. All paths are absolute.
pub struct Repo {
    pub root: PathBuf,
    pub venv: PathBuf,
}

impl Repo {
    /// Finds the repository root: the parent of xtask's `CARGO_MANIFEST_DIR`.
    pub fn locate() -> Result<Self> {
        // Prefer the value cargo passes at run time; fall back to the one baked in at build time.
        let runtime = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let manifest_dir = match runtime {
            Some(dir) if dir.join("src/main.rs").is_file() && dir.ends_with("xtask") => dir,
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        };
        let root = manifest_dir
            .parent()
            .context("xtask's manifest dir has no parent")?
            .canonicalize()
            .context("cannot resolve the repository root")?;
        if !root.join("Cargo.toml").is_file() {
            bail!(
                "{} does not look like the Puff repository (no Cargo.toml)",
                root.display()
            );
        }
        let venv = root.join(".venv");
        Ok(Self { root, venv })
    }

    pub fn venv_bin(&self) -> PathBuf {
        self.venv.join("bin")
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv_bin().join("python")
    }

    /// `path` relative to the repository root, for messages.
    pub fn rel<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        match path.strip_prefix(&self.root) {
            Ok(p) if p.as_os_str().is_empty() => ".".into(),
            Ok(p) => p.to_string_lossy(),
            Err(_) => path.to_string_lossy(),
        }
    }

    /// A command with the uniform Puff environment (`PYO3_PYTHON`, `VIRTUAL_ENV`, `PATH`),
    /// run from the repository root. Every cargo / puff-cli / python call goes through this
    /// so pyo3 never sees a different environment and never rebuilds because of it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root);
        cmd.env("PYO3_PYTHON", self.venv_python());
        apply_venv_env(&mut cmd, &self.venv);
        cmd
    }

    /// `cargo` (the one running us, if known) with the uniform environment.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        self.command(cargo)
    }
}

/// Sets `VIRTUAL_ENV=<venv>` and prepends `<venv>/bin` to `PATH` (removing any other copy of
/// it first, so the result is the same whether or not the venv is already activated).
pub fn apply_venv_env(cmd: &mut Command, venv: &Path) {
    let bin = venv.join("bin");
    let mut parts = vec![bin.clone()];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path).filter(|p| *p != bin));
    }
    let path = std::env::join_paths(parts).unwrap_or_else(|_| bin.clone().into_os_string());
    cmd.env("VIRTUAL_ENV", venv);
    cmd.env("PATH", path);
}
