//! `cargo xtask setup`: the project virtualenv `.venv` with the dev requirements and the
//! editable `puff` Python package. Idempotent; pip work is skipped while the stamp matches.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::repo::Repo;
use crate::stamp::Fnv64;
use crate::{command, system};

const STAMP: &str = ".puff-setup-stamp";
const REQUIREMENTS: &str = "python/requirements-dev.txt";
const PYPROJECT: &str = "python/pyproject.toml";
const MIN_PYTHON: (u32, u32) = (3, 10);

/// What we learn about an interpreter before trusting it.
pub struct PythonInfo {
    pub version: (u32, u32, u32),
    pub shared: bool,
    pub executable: String,
}

impl PythonInfo {
    pub fn version_str(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

const PROBE: &str = "import sys, sysconfig; \
v = sys.version_info; \
shared = bool(sysconfig.get_config_var('Py_ENABLE_SHARED') or sysconfig.get_config_var('PYTHONFRAMEWORK')); \
print(v[0], v[1], v[2], int(shared), sys.executable)";

/// Runs `cmd` (a Python interpreter) with a probe script.
pub fn probe_python(mut cmd: Command, shown: &str) -> Result<PythonInfo> {
    cmd.args(["-c", PROBE]);
    let out = command::capture(&mut cmd)
        .with_context(|| format!("cannot run the Python interpreter `{shown}`"))?;
    let mut it = out.split_whitespace();
    let mut num = || -> Result<u32> {
        it.next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("unexpected output from `{shown}`: {out:?}"))
    };
    let version = (num()?, num()?, num()?);
    let shared = num()? == 1;
    let executable = out.split_whitespace().skip(4).collect::<Vec<_>>().join(" ");
    Ok(PythonInfo {
        version,
        shared,
        executable,
    })
}

/// Fails with a clear message unless the interpreter is new enough and has a shared libpython.
pub fn require_usable(info: &PythonInfo, shown: &str) -> Result<()> {
    let (major, minor, _) = info.version;
    if (major, minor) < MIN_PYTHON {
        bail!(
            "`{shown}` is Python {}, but Puff needs Python >= {}.{}; \
             point PUFF_PYTHON at a newer interpreter",
            info.version_str(),
            MIN_PYTHON.0,
            MIN_PYTHON.1
        );
    }
    if !info.shared {
        bail!(
            "`{shown}` (Python {}, {}) was built without a shared libpython \
             (sysconfig Py_ENABLE_SHARED is 0), so Puff cannot embed it; install a Python built \
             with --enable-shared (e.g. Debian's python3, or pyenv with \
             PYTHON_CONFIGURE_OPTS=--enable-shared) and point PUFF_PYTHON at it",
            info.version_str(),
            info.executable
        );
    }
    Ok(())
}

/// The base interpreter used to create virtualenvs: `$PUFF_PYTHON`, else `python3`.
pub fn base_python() -> String {
    std::env::var("PUFF_PYTHON")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// Creates a virtualenv at `venv` from the base interpreter unless it already exists, and
/// checks that its interpreter is usable. `label` prefixes progress lines.
pub fn ensure_venv(repo: &Repo, venv: &Path, label: &str) -> Result<PythonInfo> {
    let python = venv.join("bin/python");
    let shown_venv = repo.rel(venv).into_owned();
    if python.exists() {
        let info = probe_python(Command::new(&python), &python.to_string_lossy())?;
        require_usable(&info, &python.to_string_lossy())
            .with_context(|| format!("remove {shown_venv} and run again"))?;
        println!(
            "{label} virtualenv {shown_venv} exists (Python {}) -- skipped creating it",
            info.version_str()
        );
        return Ok(info);
    }
    if venv.exists() {
        bail!(
            "{} exists but has no bin/python; it is not a usable virtualenv. \
             Remove it and run again.",
            venv.display()
        );
    }
    let base = base_python();
    println!("{label} creating virtualenv {shown_venv} with `{base}`");
    let info = probe_python(Command::new(&base), &base)?;
    require_usable(&info, &base)?;
    println!(
        "    using Python {} at {} (shared libpython)",
        info.version_str(),
        info.executable
    );
    let mut cmd = Command::new(&base);
    cmd.arg("-m").arg("venv").arg(venv).current_dir(&repo.root);
    command::run(&mut cmd).with_context(|| {
        format!(
            "creating the virtualenv failed; on Debian/Ubuntu `apt-get install python3-venv` \
             provides the venv module ({shown_venv} may need removing first)"
        )
    })?;
    let info = probe_python(Command::new(&python), &python.to_string_lossy())?;
    require_usable(&info, &python.to_string_lossy())?;
    Ok(info)
}

/// Flags that keep pip quiet about itself.
pub fn pip_flags() -> Vec<&'static str> {
    let mut flags = vec!["--disable-pip-version-check"];
    if std::env::var_os("CI").is_some() || !std::io::stdout().is_terminal() {
        flags.extend(["--progress-bar", "off"]);
    }
    flags
}

/// Hash of everything the pip steps depend on.
pub fn stamp_hash(files: &[&Path], info: &PythonInfo) -> Result<String> {
    let mut hash = Fnv64::new();
    hash.update(b"puff-setup-v1\0");
    hash.update(info.version_str().as_bytes());
    for file in files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        hash.update(b"\0").update(file.to_string_lossy().as_bytes());
        hash.update(b"\0").update(&bytes);
    }
    Ok(hash.hex())
}

/// `cargo xtask setup`.
pub fn run(repo: &Repo) -> Result<()> {
    system::ensure_postgres_binaries()?;
    system::ensure_redis_binaries()?;
    let info = ensure_venv(repo, &repo.venv, "[setup 1/3]")?;

    let requirements = repo.root.join(REQUIREMENTS);
    let pyproject = repo.root.join(PYPROJECT);
    let stamp_path = repo.venv.join(STAMP);
    let hash = stamp_hash(&[&requirements, &pyproject], &info)?;
    let stamp = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    if stamp.trim() == hash {
        println!("[setup 2/3] {REQUIREMENTS} unchanged (stamp matches) -- skipped pip install");
        println!(
            "[setup 3/3] {PYPROJECT} unchanged (stamp matches) -- skipped pip install -e python/"
        );
        return Ok(());
    }
    // Invalidate first so an interrupted run is redone next time.
    let _ = std::fs::remove_file(&stamp_path);

    println!("[setup 2/3] installing {REQUIREMENTS} into .venv");
    let mut cmd = repo.command(repo.venv_python());
    cmd.args(["-m", "pip", "install"])
        .args(pip_flags())
        .args(["-r", REQUIREMENTS]);
    command::run(&mut cmd).context("installing the dev requirements failed")?;

    println!("[setup 3/3] installing the puff Python package (pip install -e python/)");
    let mut cmd = repo.command(repo.venv_python());
    cmd.args(["-m", "pip", "install"])
        .args(pip_flags())
        .args(["-e", "python/"]);
    command::run(&mut cmd).context("installing the puff Python package failed")?;

    std::fs::write(&stamp_path, format!("{hash}\n"))
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    println!(
        "[setup] done: .venv is ready (Python {})",
        info.version_str()
    );
    Ok(())
}
