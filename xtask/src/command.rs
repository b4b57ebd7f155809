//! Running commands: echoed, with inherited output or captured, failing with the command
//! line and how it ended; and finding programs on `PATH`.

use std::process::{Command, ExitStatus};

use anyhow::{Context, Result, bail};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_spaces() {
        let mut cmd = Command::new("echo");
        cmd.args(["a b", "c"]);
        assert_eq!(display_cmd(&cmd), "echo 'a b' c");
    }
}
