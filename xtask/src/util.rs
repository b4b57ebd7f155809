//! Shared helpers: repository paths, the uniform build environment, running commands.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// A usage error: bad flags or arguments. `main` maps it to exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for returning a [`UsageError`].
pub fn usage_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(UsageError(msg.into()).into())
}

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

/// Renders a command line for progress messages.
pub fn display_cmd(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        out.push(' ');
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            out.push('\'');
            out.push_str(&arg.replace('\'', "'\\''"));
            out.push('\'');
        } else {
            out.push_str(&arg);
        }
    }
    out
}

/// Describes how a finished process ended, e.g. "exit code 1" or "signal 9".
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown status".to_string(),
    }
}

/// Runs `cmd` with inherited stdio, echoing it first; fails if it does not exit 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = run_status(cmd)?;
    if !status.success() {
        bail!(
            "`{}` failed ({})",
            display_cmd(cmd),
            describe_status(status)
        );
    }
    Ok(())
}

/// Runs `cmd` with inherited stdio, echoing it first, and returns its exit status.
pub fn run_status(cmd: &mut Command) -> Result<ExitStatus> {
    println!("    $ {}", display_cmd(cmd));
    cmd.status()
        .with_context(|| format!("cannot start `{}`", cmd.get_program().to_string_lossy()))
}

/// Runs `cmd` capturing stdout; fails with its stderr if it does not exit 0.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", cmd.get_program().to_string_lossy()))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            display_cmd(cmd),
            describe_status(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `name` is an executable found on `PATH`.
pub fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(name))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// 64-bit FNV-1a: a tiny, stable content hash for stamp files (not for security).
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv64 {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// Current UTC time as (year, month, day, hour, minute, second).
pub fn utc_now() -> (i64, u32, u32, u32, u32, u32) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rem = rem as u32;
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(Fnv64::new().hex(), "cbf29ce484222325");
        assert_eq!(Fnv64::new().update(b"a").hex(), "af63dc4c8601ec8c");
    }

    #[test]
    fn display_quotes_spaces() {
        let mut cmd = Command::new("echo");
        cmd.args(["a b", "c"]);
        assert_eq!(display_cmd(&cmd), "echo 'a b' c");
    }

    #[test]
    fn utc_now_is_sane() {
        let (y, mo, d, h, mi, s) = utc_now();
        assert!(y >= 2024);
        assert!((1..=12).contains(&mo) && (1..=31).contains(&d));
        assert!(h < 24 && mi < 60 && s < 60);
    }
}
