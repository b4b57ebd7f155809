//! The machine a report was made on: CPU, load, kernel, Python, the versions of the tools and
//! peers, the git commit; in the Markdown's first lines and the JSON's `machine` object.

use std::path::Path;
use std::process::Command;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::peers::venv_versions;
use super::process::first_line;
use crate::command;
use crate::repo::Repo;
use crate::setup;

pub struct Machine {
    pub cpu: String,
    /// /proc/loadavg when the runs were over: other work on the machine skews the figures.
    pub loadavg: String,
    pub cpus: usize,
    pub kernel: String,
    pub python: String,
    pub tools: Vec<(String, String)>,
    /// The commit (`git rev-parse --short HEAD`): a field of the report, not of `machine`.
    pub git: String,
}

impl Machine {
    /// The `- machine:` and `- tools:` lines every report starts with.
    pub fn markdown_lines(&self) -> String {
        let tools: Vec<String> = self
            .tools
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!(
            "- machine: {} x {}, {}; {}; load average after the runs: {}\n- tools: {}; git {}\n",
            self.cpus,
            self.cpu,
            self.kernel,
            self.python,
            self.loadavg,
            tools.join(", "),
            self.git
        )
    }
}

/// The `machine` object of every JSON report (`tools` maps each tool to its version).
impl Serialize for Machine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Tools<'a>(&'a [(String, String)]);
        impl Serialize for Tools<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let mut m = s.serialize_struct("Machine", 6)?;
        m.serialize_field("cpu", &self.cpu)?;
        m.serialize_field("cpus", &self.cpus)?;
        m.serialize_field("loadavg", &self.loadavg)?;
        m.serialize_field("kernel", &self.kernel)?;
        m.serialize_field("python", &self.python)?;
        m.serialize_field("tools", &Tools(&self.tools))?;
        m.end()
    }
}

/// The machine, wrk's version (`with_wrk`) and the versions of `packages` in the peers venv.
pub fn machine_info(repo: &Repo, peers_venv: &Path, with_wrk: bool, packages: &[&str]) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = command::capture(Command::new("uname").arg("-sr"))
        .map(|s| first_line(&s))
        .unwrap_or_default();
    let python = command::capture(Command::new(repo.venv_python()).arg("--version"))
        .or_else(|_| command::capture(Command::new(setup::base_python()).arg("--version")))
        .map(|s| first_line(&s))
        .unwrap_or_default();
    let mut tools = Vec::new();
    // wrk -v prints its version and exits 1, so read the output whatever the status.
    if with_wrk && let Ok(out) = Command::new("wrk").arg("-v").output() {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let v = first_line(&text);
        tools.push(("wrk".into(), v.split(" [").next().unwrap_or(&v).to_string()));
    }
    tools.extend(venv_versions(peers_venv, packages));
    let git = command::capture(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(&repo.root),
    )
    .map(|s| first_line(&s))
    .unwrap_or_else(|_| "unknown".into());
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Machine {
        cpu,
        loadavg,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel,
        python,
        tools,
        git,
    }
}
