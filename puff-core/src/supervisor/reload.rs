//! `--reload`: watch the `.py` files under the `python_path` folders and puff.toml, and
//! report changes (a burst of saves is one change).
//!
//! Folders are walked and watched one by one (not recursively by the kernel) so that
//! virtualenvs, caches, build output and hidden folders under a project's root, often
//! tens of thousands of folders, are never watched.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// Saves that arrive within this window after the first are one change.
const SETTLE: Duration = Duration::from_millis(150);
/// More folders than this under the watched paths is a sign of watching the wrong place.
const MAX_FOLDERS: usize = 20_000;

/// Changes under the watched paths; never fires when nothing is watched.
pub(crate) struct Changes {
    /// Kept alive: dropping it stops the watch.
    watcher: Option<notify::RecommendedWatcher>,
    events: mpsc::UnboundedReceiver<PathBuf>,
    /// Paths seen in the current burst, and when it is over. Kept here, not in `recv`'s
    /// future, which the supervisor's loop drops whenever another event comes first.
    pending: Vec<PathBuf>,
    settled_at: Option<tokio::time::Instant>,
}

impl Changes {
    /// The next change: the paths that changed, once saves have settled. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<Vec<PathBuf>> {
        self.watcher.as_ref()?;
        loop {
            match self.settled_at {
                None => {
                    let path = self.events.recv().await?;
                    self.pending.push(path);
                    self.settled_at = Some(tokio::time::Instant::now() + SETTLE);
                }
                Some(at) => tokio::select! {
                    Some(path) = self.events.recv() => self.pending.push(path),
                    _ = tokio::time::sleep_until(at) => {
                        self.settled_at = None;
                        let mut paths = std::mem::take(&mut self.pending);
                        paths.sort();
                        paths.dedup();
                        return Some(paths);
                    }
                },
            }
        }
    }
}

/// Starts watching `paths` (folders, watched with their subfolders, and files).
pub(crate) fn watch(paths: &[PathBuf]) -> Result<Changes, String> {
    let (tx, events) = mpsc::unbounded_channel();
    if paths.is_empty() {
        return Ok(Changes {
            watcher: None,
            events,
            pending: Vec::new(),
            settled_at: None,
        });
    }
    let mut folders = Vec::new();
    let mut files = HashSet::new();
    for path in paths {
        if path.is_dir() {
            collect_folders(path, &mut folders);
        } else if let Some(parent) = path.parent() {
            // Editors save by renaming a new file over the old one, which ends a watch on
            // the file itself; the folder's watch sees it.
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            folders.push(parent.to_path_buf());
            files.insert(path.clone());
        }
    }
    if folders.len() > MAX_FOLDERS {
        return Err(format!(
            "{} folders under {}: watch a smaller `python_path`",
            folders.len(),
            describe(paths)
        ));
    }
    let whole: HashSet<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
    let whole_folders: HashSet<PathBuf> = folders
        .iter()
        .filter(|f| whole.iter().any(|w| f.starts_with(w)))
        .cloned()
        .collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        ) {
            return;
        }
        for path in event.paths {
            let wanted = files.contains(&path)
                || (relevant(&path) && path.parent().is_some_and(|p| whole_folders.contains(p)));
            if wanted {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    let mut seen = HashSet::new();
    for folder in folders {
        if seen.insert(folder.clone()) {
            watcher
                .watch(&folder, RecursiveMode::NonRecursive)
                .map_err(|e| format!("cannot watch {}: {e}", folder.display()))?;
        }
    }
    tracing::info!(
        target: "puff::supervisor",
        "--reload: watching {} folders under {}",
        seen.len(),
        describe(paths)
    );
    Ok(Changes {
        watcher: Some(watcher),
        events,
        pending: Vec::new(),
        settled_at: None,
    })
}

/// `root` and its subfolders, except those that never hold the app's own code.
fn collect_folders(root: &Path, out: &mut Vec<PathBuf>) {
    out.push(root.to_path_buf());
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !skipped_folder(&path) {
            collect_folders(&path, out);
        }
    }
}

fn skipped_folder(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with('.')
        || matches!(
            name,
            "__pycache__" | "node_modules" | "target" | "site-packages" | "dist" | "build"
        )
        // A virtualenv, whatever its name.
        || path.join("pyvenv.cfg").exists()
}

/// Whether a change to this file changes the app: Python source only (plus the config
/// file, watched by name). Anything else, above all a log file written into the project
/// folder, would restart the workers in a loop.
fn relevant(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.') && name.ends_with(".py")
}

/// Up to three paths for a log line.
pub(crate) fn describe(paths: &[PathBuf]) -> String {
    let mut shown: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 3 {
        shown.push(format!("and {} more", paths.len() - 3));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_and_editor_files_are_not_changes() {
        assert!(relevant(Path::new("/app/views.py")));
        for name in [
            "views.cpython-311.pyc",
            ".views.py.swp",
            "views.py~",
            ".#x.py",
            "server.log",
        ] {
            assert!(!relevant(&Path::new("/app").join(name)), "{name}");
        }
    }

    #[tokio::test]
    async fn a_saved_file_is_reported_and_a_venv_is_not_watched() {
        let root = std::env::temp_dir().join(format!("puff-reload-{}", std::process::id()));
        let venv = root.join("venv");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::create_dir_all(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "").unwrap();
        let mut folders = Vec::new();
        collect_folders(&root, &mut folders);
        assert!(folders.contains(&root.join("pkg")));
        assert!(!folders.contains(&venv), "{folders:?}");

        let mut changes = watch(std::slice::from_ref(&root)).unwrap();
        let app = root.join("pkg").join("app.py");
        std::fs::write(&app, "x = 1\n").unwrap();
        let paths = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .expect("a change within 5 s")
            .unwrap();
        assert_eq!(paths, vec![app.clone()]);
        // Saved as editors do: a new file renamed over the old one.
        let staged = root.join("pkg").join("app.py.new");
        std::fs::write(&staged, "x = 2\n").unwrap();
        std::fs::rename(&staged, &app).unwrap();
        let paths = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .expect("a rename within 5 s")
            .unwrap();
        assert_eq!(paths, vec![app.clone()]);
        // A change survives the caller giving up on `recv` mid-burst, as the supervisor's
        // loop does whenever another event comes first.
        std::fs::write(&app, "x = 3\n").unwrap();
        let interrupted = tokio::time::timeout(Duration::from_millis(20), changes.recv()).await;
        assert!(interrupted.is_err(), "settled too early: {interrupted:?}");
        let paths = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .expect("the interrupted change")
            .unwrap();
        assert_eq!(paths, vec![app]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn nothing_watched_never_fires() {
        let mut changes = watch(&[]).unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(50), changes.recv()).await;
        assert!(matches!(waited, Ok(None) | Err(_)));
    }
}
