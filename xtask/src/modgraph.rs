//! The module graph inside each workspace crate, read from the source: which module names
//! which (`crate::a::b`, `super::c`, `use crate::{a, b}`), so a test can check that no crate
//! has a module cycle. Code only: comments and doc links do not count. A module's use of
//! its own ancestors is left out (a parent declares and re-exports its children).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`wsgi::handler`, `""` for the crate root) -> the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph of the crate whose sources are under `src`.
pub fn crate_graph(src: &Path) -> std::io::Result<Graph> {
    let mut files = Vec::new();
    collect_rs(src, &mut files)?;
    let modules: BTreeMap<String, PathBuf> = files
        .into_iter()
        .map(|file| (module_of(src, &file), file))
        .collect();
    let mut graph = Graph::new();
    for (module, file) in &modules {
        let code = strip_comments(&std::fs::read_to_string(file)?);
        let mut deps = BTreeSet::new();
        for path in named_paths(&code, "crate::") {
            if let Some(dep) = longest_module(&path, &modules) {
                deps.insert(dep);
            }
        }
        let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        for path in named_paths(&code, "super::") {
            let full: Vec<String> = parent.iter().map(|s| s.to_string()).chain(path).collect();
            if let Some(dep) = longest_module(&full, &modules) {
                deps.insert(dep);
            }
        }
        deps.retain(|dep| {
            !dep.is_empty() && dep != module && !module.starts_with(&format!("{dep}::"))
        });
        graph.insert(module.clone(), deps);
    }
    Ok(graph)
}

/// The first cycle found, as the modules along it (the first repeated at the end).
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, graph, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(node, graph, &mut state, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// Source without `//` comments (doc comments included); string contents are kept but a
/// `//` inside a string (a URL) does not start a comment.
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let mut in_string = false;
        let mut previous = '\0';
        let mut cut = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' && previous != '\\' {
                in_string = !in_string;
            }
            if !in_string && c == '/' && previous == '/' {
                cut = i - 1;
                break;
            }
            previous = c;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// Every path after `prefix` (`crate::a::b::Item` gives `[a, b, Item]`); a braced group
/// (`crate::{a, b::c}`) gives one path per member.
fn named_paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mycrate::` or `self::super::` mid-identifier
        }
        let (path, tail) = take_path(rest);
        if tail.starts_with('{') {
            let group = &tail[1..tail.find('}').unwrap_or(tail.len())];
            for member in group.split(',') {
                let (inner, _) = take_path(member.trim_start());
                let mut full = path.clone();
                full.extend(inner);
                if !full.is_empty() {
                    paths.push(full);
                }
            }
        } else if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

/// `a::b::c` at the start of `text`, and what follows it (after a trailing `::`).
fn take_path(text: &str) -> (Vec<String>, &str) {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            return (segments, rest);
        }
        segments.push(rest[..end].to_owned());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return (segments, rest),
        }
    }
}

fn longest_module<T: AsRef<str>>(
    path: &[T],
    modules: &BTreeMap<String, PathBuf>,
) -> Option<String> {
    (1..=path.len()).rev().find_map(|k| {
        let candidate = path[..k]
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join("::");
        modules.contains_key(&candidate).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect()))
            .collect()
    }

    #[test]
    fn cycles_are_found_and_one_way_graphs_pass() {
        let one_way = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])]);
        assert_eq!(find_cycle(&one_way), None);
        let cyclic = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(
            find_cycle(&cyclic),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }

    #[test]
    fn paths_groups_and_comments() {
        let code = strip_comments(
            "use crate::{body, wsgi::input::Input};\n\
             let x = crate::conn::serve(); // crate::not_this\n\
             //! [`crate::doc_link`]\n\
             let url = \"http://crate::in_string\";\n",
        );
        let paths = named_paths(&code, "crate::");
        let firsts: Vec<&str> = paths.iter().map(|p| p[0].as_str()).collect();
        assert_eq!(firsts, ["body", "wsgi", "conn", "in_string"]);
        assert_eq!(paths[1], ["wsgi", "input", "Input"]);
    }

    /// Every crate of the workspace has a one-way module graph (issue 19's contract).
    #[test]
    fn no_workspace_crate_has_a_module_cycle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut checked = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            let src = dir.join("src");
            if !dir.join("Cargo.toml").is_file() || !src.is_dir() {
                continue;
            }
            let graph = crate_graph(&src).unwrap();
            if let Some(cycle) = find_cycle(&graph) {
                panic!(
                    "{} has a module cycle: {}",
                    dir.display(),
                    cycle.join(" -> ")
                );
            }
            checked += 1;
        }
        assert!(
            checked >= 10,
            "only {checked} crates found under {}",
            root.display()
        );
    }
}
