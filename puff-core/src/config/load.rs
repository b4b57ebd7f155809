//! Reading `puff.toml`: the core keys here, every other key handed to the subsystem that
//! owns it, which parses its section once; errors name the file and the key.

use std::fmt;
use std::path::Path;

use super::{CommandEntry, RuntimeConfig, WorkersConfig};
use crate::subsystems;

/// A `puff.toml` problem, naming the file and the key.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: key `{}`: {}", self.file, key, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Core keys read by [`RuntimeConfig::from_toml_str`]; subsystems own the rest.
const CORE_KEYS: &[&str] = &[
    "wsgi",
    "asgi",
    "python_path",
    "env",
    "pytest",
    "asyncio",
    "commands",
    "gc_threshold",
    "tokio_batch_scheduling",
    "metrics_bind",
    "block_warn_ms",
];

/// A complete, commented `puff.toml` (printed by `puff-cli example-config`).
pub const EXAMPLE_CONFIG: &str = include_str!("../../puff.example.toml");

impl RuntimeConfig {
    /// Read `puff.toml`. Relative `python_path` entries are relative to the file's folder,
    /// which is also the default `python_path`.
    pub fn from_toml_file(path: &Path) -> Result<RuntimeConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: shown.clone(),
            key: None,
            message: format!("cannot read the file: {e}"),
        })?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        let mut config = Self::from_toml_str(&text, &shown, &base)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parse `puff.toml` text; `file` names it in errors, `base` anchors relative paths.
    pub fn from_toml_str(
        text: &str,
        file: &str,
        base: &Path,
    ) -> Result<RuntimeConfig, ConfigError> {
        let err = |key: Option<&str>, message: String| ConfigError {
            file: file.to_owned(),
            key: key.map(str::to_owned),
            message,
        };
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| err(None, format!("not valid TOML: {}", e.to_string().trim())))?;
        let mut config = RuntimeConfig {
            python_paths: vec![base.to_path_buf()],
            ..RuntimeConfig::default()
        };
        // Each subsystem's keys, in the order of `config.subsystems`.
        let mut sections: Vec<toml::Table> = vec![toml::Table::new(); config.subsystems.len()];
        let mut workers = toml::Table::new();
        for (key, value) in &table {
            let type_err = |expected: &str| {
                err(
                    Some(key),
                    format!("expected {expected}, got {}", value.type_str()),
                )
            };
            match key.as_str() {
                "wsgi" | "asgi" => {
                    let app = value
                        .as_str()
                        .ok_or_else(|| type_err("a string like \"module.app\""))?;
                    if !app.contains('.') && !app.contains(':') {
                        return Err(err(
                            Some(key),
                            format!("`{app}` is not a `module.attribute` path"),
                        ));
                    }
                    if key == "wsgi" {
                        config.wsgi = Some(app.to_owned());
                    } else {
                        config.asgi = Some(app.to_owned());
                        // ASGI apps run on the event loop.
                        config.asyncio = true;
                    }
                }
                "python_path" => {
                    let paths = value
                        .as_array()
                        .ok_or_else(|| type_err("a list of folder paths"))?;
                    config.python_paths = paths
                        .iter()
                        .map(|p| {
                            p.as_str()
                                .map(|p| base.join(p))
                                .ok_or_else(|| type_err("a list of strings"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "env" => {
                    let vars = value
                        .as_table()
                        .ok_or_else(|| type_err("a table of NAME = \"value\""))?;
                    for (name, v) in vars {
                        let v = v.as_str().ok_or_else(|| {
                            err(
                                Some(&format!("env.{name}")),
                                format!("expected a string, got {}", v.type_str()),
                            )
                        })?;
                        config.env.push((name.clone(), v.to_owned()));
                    }
                }
                "asyncio" => {
                    config.asyncio = value.as_bool().ok_or_else(|| type_err("true or false"))?;
                }
                "gc_threshold" => {
                    let n = value
                        .as_integer()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| {
                            type_err("a whole number >= 0 (0 keeps Python's default)")
                        })?;
                    config.gc_threshold = Some(n);
                }
                "tokio_batch_scheduling" => {
                    config.tokio_batch_scheduling =
                        Some(value.as_bool().ok_or_else(|| type_err("true or false"))?);
                }
                "metrics_bind" => {
                    let addr = value
                        .as_str()
                        .ok_or_else(|| type_err("a string like \"127.0.0.1:9090\""))?;
                    if addr.parse::<std::net::SocketAddr>().is_err() {
                        return Err(err(
                            Some(key),
                            format!("`{addr}` is not an address like 127.0.0.1:9090"),
                        ));
                    }
                    config.metrics_bind = Some(addr.to_owned());
                }
                "block_warn_ms" => {
                    let ms = value
                        .as_integer()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| {
                            type_err("a whole number of milliseconds >= 0 (0 turns it off)")
                        })?;
                    config.block_warn_ms = Some(ms);
                }
                "pytest" => {
                    value.as_bool().ok_or_else(|| type_err("true or false"))?;
                }
                "commands" => {
                    let entries = value
                        .as_array()
                        .ok_or_else(|| type_err("an array of tables ([[commands]])"))?;
                    for (i, entry) in entries.iter().enumerate() {
                        let key = format!("commands[{i}]");
                        let entry: CommandEntry = entry
                            .as_table()
                            .ok_or_else(|| err(Some(&key), "expected a table".into()))
                            .and_then(|t| {
                                puff_greenlet::deserialize_keys(t)
                                    .map_err(|e| err(Some(&key), e.to_string()))
                            })?;
                        if entry.command_name.is_empty()
                            || !entry
                                .command_name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        {
                            return Err(err(
                                Some(&key),
                                format!(
                                    "command_name `{}` must be letters, digits, `_` or `-`",
                                    entry.command_name
                                ),
                            ));
                        }
                        config.commands.push(entry);
                    }
                }
                other if WorkersConfig::KEYS.contains(&other) => {
                    workers.insert(key.clone(), value.clone());
                }
                other => {
                    if let Some(i) = config
                        .subsystems
                        .iter()
                        .position(|s| s.config_keys().contains(&other))
                    {
                        sections[i].insert(key.clone(), value.clone());
                    } else if let Some(feature) = subsystems::feature_of_key(other) {
                        return Err(err(
                            Some(key),
                            format!(
                                "needs the `{feature}` feature, which this build of Puff does not include"
                            ),
                        ));
                    } else {
                        let mut known: Vec<&str> = CORE_KEYS.to_vec();
                        known.extend_from_slice(WorkersConfig::KEYS);
                        for s in &config.subsystems {
                            known.extend_from_slice(s.config_keys());
                        }
                        known.sort_unstable();
                        return Err(err(
                            Some(key),
                            format!("unknown key (known keys: {})", known.join(", ")),
                        ));
                    }
                }
            }
        }
        config.workers = puff_greenlet::deserialize_keys(&workers)
            .and_then(|w: WorkersConfig| w.validate().map(|()| w))
            .map_err(|e| err(e.key.as_deref(), e.message))?;
        for (subsystem, section) in config.subsystems.iter_mut().zip(&sections) {
            subsystem
                .configure(section, base)
                .map_err(|e| match e.key {
                    Some(key) => err(Some(&key), e.message),
                    None => err(None, format!("[{}] {}", subsystem.name(), e.message)),
                })?;
        }
        if config.wsgi.is_some() && config.asgi.is_some() {
            return Err(err(
                Some("asgi"),
                "set either `wsgi` or `asgi`, not both (one app serves the fallback routes)".into(),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    //! Feature-independent tests; the subsystems' keys are tested in `tests/config.rs`.

    use std::path::PathBuf;

    use super::*;
    use crate::config::DEFAULT_GC_THRESHOLD;

    fn parse(text: &str) -> Result<RuntimeConfig, ConfigError> {
        RuntimeConfig::from_toml_str(text, "puff.toml", Path::new("/base"))
    }

    #[test]
    fn example_config_parses() {
        let config = parse(EXAMPLE_CONFIG).unwrap();
        assert_eq!(config.wsgi(), Some("app.app"));
        assert_eq!(config.commands()[0].command_name, "hello_world");
        assert_eq!(config.python_paths, vec![PathBuf::from("/base/.")]);
    }

    #[test]
    fn unknown_keys_name_file_and_key() {
        let e = parse("wsgi = \"a.b\"\nwsgii = 1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("wsgii"));
        assert!(e.to_string().starts_with("puff.toml: key `wsgii`"), "{e}");
        let e =
            parse("[[commands]]\ncommand_name = \"x\"\nfunction = \"a.b\"\nextra = 1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("commands[0]"));
        assert!(e.message.contains("extra"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = parse("wsgi = 5").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("wsgi"));
        // With or without the http subsystem, the key is named.
        for text in ["bind = 5", "bind = \"nope\""] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("bind"), "{e}");
        }
        let e = parse("[cors]\nallow_originz = []").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("cors"), "{e}");
        let e = parse("django = \"yes\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("django"), "{e}");
    }

    #[test]
    fn worker_keys_are_read_and_bad_values_name_the_key() {
        let config = parse("workers = 4\nmax_requests = 500\nmax_requests_jitter = 50").unwrap();
        assert_eq!(config.workers.workers, 4);
        assert_eq!(config.workers.max_requests, Some(500));
        assert_eq!(config.workers.max_requests_jitter, 50);
        for (text, key) in [
            ("workers = \"four\"", "workers"),
            ("workers = -1", "workers"),
            ("max_requests = 0", "max_requests"),
            ("worker_max_rss_mb = 0", "worker_max_rss_mb"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        }
    }

    #[test]
    fn asgi_implies_asyncio_and_excludes_wsgi() {
        let config = parse("asgi = \"main:app\"").unwrap();
        assert_eq!(config.asgi(), Some("main:app"));
        assert!(config.asyncio);
        assert!(!parse("wsgi = \"a.b\"").unwrap().asyncio);
        let e = parse("wsgi = \"a.b\"\nasgi = \"c.d\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("asgi"), "{e}");
        let e = parse("asgi = \"nodot\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("asgi"), "{e}");
        let e = parse("asyncio = \"yes\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("asyncio"), "{e}");
    }

    #[test]
    fn keys_of_missing_subsystems_say_which_feature() {
        let compiled: Vec<&str> = RuntimeConfig::default()
            .subsystems
            .iter()
            .flat_map(|s| s.config_keys().iter().copied())
            .collect();
        for (key, feature) in subsystems::FEATURE_KEYS {
            if !compiled.contains(key) {
                let e = parse(&format!("{key} = 1")).unwrap_err();
                assert_eq!(e.key.as_deref(), Some(*key), "{e}");
                assert!(e.message.contains(&format!("`{feature}` feature")), "{e}");
            }
        }
    }

    #[test]
    fn gc_threshold_key() {
        assert_eq!(
            parse("").unwrap().gc_threshold(),
            Some(DEFAULT_GC_THRESHOLD)
        );
        assert_eq!(
            parse("gc_threshold = 5000").unwrap().gc_threshold(),
            Some(5000)
        );
        assert_eq!(parse("gc_threshold = 0").unwrap().gc_threshold(), None);
        let e = parse("gc_threshold = -1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("gc_threshold"), "{e}");
    }

    #[test]
    fn metrics_bind_key() {
        assert_eq!(parse("").unwrap().metrics_bind(), None, "off by default");
        assert_eq!(
            parse("metrics_bind = \"127.0.0.1:9090\"")
                .unwrap()
                .metrics_bind(),
            Some("127.0.0.1:9090")
        );
        for text in ["metrics_bind = 9090", "metrics_bind = \"localhost\""] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("metrics_bind"), "{e}");
        }
    }

    #[test]
    fn block_warn_ms_key() {
        use std::time::Duration;
        assert_eq!(
            parse("").unwrap().block_warn(),
            Some(Duration::from_millis(crate::config::DEFAULT_BLOCK_WARN_MS))
        );
        assert_eq!(
            parse("block_warn_ms = 250").unwrap().block_warn(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse("block_warn_ms = 0").unwrap().block_warn(), None);
        for text in [
            "block_warn_ms = -1",
            "block_warn_ms = \"100ms\"",
            "block_warn_ms = 0.5",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("block_warn_ms"), "{text}: {e}");
        }
    }

    #[test]
    fn tokio_batch_scheduling_key() {
        assert!(parse("").unwrap().tokio_batch_scheduling());
        assert!(
            !parse("tokio_batch_scheduling = false")
                .unwrap()
                .tokio_batch_scheduling()
        );
        let e = parse("tokio_batch_scheduling = 1").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tokio_batch_scheduling"), "{e}");
    }
}
