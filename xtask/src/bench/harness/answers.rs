//! Checking a server's answers before and after it is measured: the 1 KB body of the hello
//! and wait apps, or a check script from bench/apps (GraphQL data, Django's view).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::process::peer_command;
use crate::command;
use crate::repo::Repo;

/// The body of the hello and wait apps (and of the Rust route): 1 KB of `x`.
pub const BODY_LEN: usize = 1024;

/// Runs the check script `args` (script first, from bench/apps, peers venv, on `cpu`);
/// an error with its last line unless it exits 0.
pub fn check_script(repo: &Repo, peers_venv: &Path, cpu: &str, args: &[String]) -> Result<()> {
    let mut cmd = peer_command(peers_venv, cpu, args);
    cmd.current_dir(repo.root.join("bench/apps"))
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .with_context(|| format!("cannot run bench/apps/{}", args[0]))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no output)");
    if !out.status.success() {
        bail!("{last} ({})", command::describe_status(out.status));
    }
    println!("    check: {last}");
    Ok(())
}

/// One plain HTTP/1.1 GET: status must be 200 and the body must be the 1 KB of `x`.
pub fn check_response(addr: SocketAddr, path: &str) -> Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        bail!("status line `{status}`, expected 200");
    }
    let Some((_, body)) = text.split_once("\r\n\r\n") else {
        bail!("no end of headers in the response");
    };
    let body = body.trim_end();
    let expected = "x".repeat(BODY_LEN);
    // Accept a plain body or a single chunk ("400\r\n<body>\r\n0").
    if body != expected && !body.contains(&format!("\r\n{expected}\r\n")) {
        bail!(
            "body of {} bytes is not {BODY_LEN} x's: {:?}",
            body.len(),
            &body[..body.len().min(80)]
        );
    }
    Ok(())
}
