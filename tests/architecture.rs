//! Arrows one way: no module of `src/` may depend, directly or through others, on a module that
//! depends on it. A module depends on another when its code names it (`use crate::http::head`,
//! `super::Status`, `crate::sys::read(...)`); declaring a child (`mod conn;`) is not a
//! dependency, nor is re-exporting a child's items (`pub use socket::read`: the parent's facade),
//! so a parent may use its children, and a child its siblings, but a child that reaches up into
//! its parent's items while the parent's code uses the child makes a cycle. Unit tests (`mod
//! tests`, `tests.rs`) are left out: they may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// A module's path from the crate root: `["server", "conn"]`; the root is `[]`.
type Module = Vec<String>;

/// Every `.rs` file under `dir`.
fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module a file holds, or `None` for what is not part of the library (the binary's
/// `main.rs`, unit tests in `tests.rs`).
fn module_of(path: &Path) -> Option<Module> {
    let relative = path.strip_prefix(SRC).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap();
    match file.as_str() {
        "lib.rs" if parts.is_empty() => Some(parts),
        "main.rs" if parts.is_empty() => None,
        "tests.rs" => None,
        "mod.rs" => Some(parts),
        _ => {
            parts.push(file.trim_end_matches(".rs").to_string());
            Some(parts)
        }
    }
}

/// The code of a file without its comments and its inline unit tests.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a `use` tree names, `crate::http::{head, query::param}` giving
/// `crate::http::head` and `crate::http::query::param`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            let path = tree.split(" as ").next().unwrap().trim();
            let path = path.trim_end_matches("::self").trim_end_matches("::*");
            let full = if prefix.is_empty() {
                path.to_string()
            } else if path.is_empty() || path == "self" || path == "*" {
                prefix.to_string()
            } else {
                format!("{prefix}::{path}")
            };
            out.push(full);
        }
        Some(open) => {
            let head = tree[..open].trim().trim_end_matches("::");
            let prefix = match (prefix.is_empty(), head.is_empty()) {
                (true, _) => head.to_string(),
                (false, true) => prefix.to_string(),
                (false, false) => format!("{prefix}::{head}"),
            };
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            // Split at the commas outside nested braces.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&prefix, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if !inner[start..].trim().is_empty() {
                expand(&prefix, &inner[start..], out);
            }
        }
    }
}

/// Every path a file's code names that starts at `crate`, `super` or `self`, or at one of the
/// module's `children` (`use worker::Worker` in `server/mod.rs`), which is given as `self::...`.
fn named_paths(code: &str, children: &[String]) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = String::new();
    // `use` items first (they may span lines and hold braces), then paths anywhere else.
    let mut text = code;
    let roots: Vec<String> = ["crate", "super", "self"]
        .iter()
        .map(|root| root.to_string())
        .chain(children.iter().cloned())
        .collect();
    while let Some(at) = text.find("use ") {
        let before_ok = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric();
        let end = text[at..].find(';').map_or(text.len(), |e| at + e);
        let tree = &text[at + 4..end];
        let tree_start = tree.trim_start();
        let root = roots
            .iter()
            .find(|root| tree_start.starts_with(&format!("{root}::")));
        // `pub use child::Item` is the module's facade, not a use of the child by its code.
        let before = text[..at].trim_end();
        let reexport = ["pub", "pub(crate)", "pub(super)"]
            .iter()
            .any(|visibility| before.ends_with(visibility));
        if before_ok && reexport && root.is_some() {
            rest.push_str(&text[..at]);
            text = &text[end..];
        } else if before_ok && let Some(root) = root {
            rest.push_str(&text[..at]);
            if children.contains(root) {
                expand("self", tree, &mut paths);
            } else {
                expand("", tree, &mut paths);
            }
            text = &text[end..];
        } else {
            rest.push_str(&text[..at + 4]);
            text = &text[at + 4..];
        }
    }
    rest.push_str(text);
    let bytes = rest.as_bytes();
    for root in &roots {
        let root_path = format!("{root}::");
        for (at, _) in rest.match_indices(&root_path) {
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b':'))
            {
                continue;
            }
            let end = rest[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(rest.len(), |e| at + e);
            let path = rest[at..end].trim_end_matches(':');
            if children.contains(root) {
                paths.push(format!("self::{path}"));
            } else {
                paths.push(path.to_string());
            }
        }
    }
    paths
}

/// The module `path` (as named from `from`) leads into: its longest prefix that is a module.
fn resolve(from: &Module, path: &str, modules: &BTreeSet<Module>) -> Module {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut at: Module = match segments.first() {
        Some(&"crate") => Vec::new(),
        _ => from.clone(),
    };
    if segments.first() == Some(&"crate") || segments.first() == Some(&"self") {
        segments.remove(0);
    }
    while segments.first() == Some(&"super") {
        segments.remove(0);
        at.pop();
    }
    for segment in segments {
        let mut deeper = at.clone();
        deeper.push(segment.to_string());
        if !modules.contains(&deeper) {
            break;
        }
        at = deeper;
    }
    at
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// Every module's dependencies.
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let mut found = Vec::new();
    files(Path::new(SRC), &mut found);
    let sources: Vec<(Module, String)> = found
        .iter()
        .filter_map(|path| Some((module_of(path)?, std::fs::read_to_string(path).unwrap())))
        .collect();
    let modules: BTreeSet<Module> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &sources {
        let children: Vec<String> = modules
            .iter()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m.last().unwrap().clone())
            .collect();
        let uses: BTreeSet<Module> = named_paths(&code(text), &children)
            .iter()
            .map(|path| resolve(module, path, &modules))
            .filter(|target| target != module)
            .collect();
        graph.insert(module.clone(), uses);
    }
    graph
}

/// A cycle through `module`, if there is one: the modules along it.
fn cycle_from(graph: &BTreeMap<Module, BTreeSet<Module>>, module: &Module) -> Option<Vec<Module>> {
    // Depth first, remembering the path, until `module` is reached again.
    let mut stack = vec![(module.clone(), vec![module.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == module {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    assert!(graph.len() > 20, "the modules were not found: {graph:?}");
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| cycle.iter().map(name).collect::<Vec<_>>().join(" -> "))
        .collect();
    assert!(
        cycles.is_empty(),
        "cycles between modules:\n{}",
        cycles.join("\n")
    );
}

/// The checker itself: it sees the paths a file names, and finds a cycle when there is one.
#[test]
fn the_checker_reads_use_trees_and_finds_a_cycle() {
    let mut paths = Vec::new();
    expand(
        "",
        "crate::http::{head, query::{self, param}, response as r}",
        &mut paths,
    );
    assert_eq!(
        paths,
        [
            "crate::http::head",
            "crate::http::query",
            "crate::http::query::param",
            "crate::http::response"
        ]
    );
    let named = named_paths(
        "use super::state::{Lifecycle, ServerState};\nuse worker::Worker;\n\
         fn f() { crate::sys::read(x); let y = super::Lifecycle::Serving; conn::Next::Wait; }\n",
        &["worker".to_string(), "conn".to_string()],
    );
    assert!(
        named_paths(
            "pub use socket::{read, write};\npub(crate) use self::x::Y;\n",
            &["socket".to_string(), "x".to_string()]
        )
        .is_empty(),
        "a re-export is not a use"
    );
    assert_eq!(
        named,
        [
            "super::state::Lifecycle",
            "super::state::ServerState",
            "self::worker::Worker",
            "crate::sys::read",
            "super::Lifecycle::Serving",
            "self::conn::Next::Wait"
        ]
    );
    let modules: BTreeSet<Module> = [
        vec![],
        vec!["server".to_string()],
        vec!["server".to_string(), "state".to_string()],
    ]
    .into_iter()
    .collect();
    let worker = vec!["server".to_string(), "worker".to_string()];
    assert_eq!(
        resolve(&worker, "super::state::Lifecycle", &modules),
        modules.iter().nth(2).unwrap().clone()
    );
    assert_eq!(
        resolve(&worker, "super::Lifecycle", &modules),
        vec!["server".to_string()]
    );
    assert_eq!(
        resolve(&worker, "crate::Thing", &modules),
        Vec::<String>::new()
    );
    assert!(
        code("use crate::a;\n#[cfg(test)]\nmod tests {\nuse crate::b;\n}\n").contains("crate::a")
    );
    assert!(!code("use crate::a; // see crate::b\n").contains("crate::b"));

    let a = vec!["a".to_string()];
    let b = vec!["a".to_string(), "b".to_string()];
    let mut graph = BTreeMap::new();
    graph.insert(a.clone(), BTreeSet::from([b.clone()]));
    graph.insert(b.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(
        cycle_from(&graph, &a),
        Some(vec![a.clone(), b.clone(), a.clone()])
    );
    graph.insert(b.clone(), BTreeSet::new());
    assert_eq!(cycle_from(&graph, &a), None);
}
