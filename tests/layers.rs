//! The library's imports point down only: no cycle between files or between top-level modules,
//! the format layer finds no keys, and nothing below the command line imports it. Read from the
//! `crate::…` and `super::…` paths of each file under `src/` (test modules and comments left
//! out), so a new import that breaks a layer fails here rather than in review.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`install::plan`, `` for the crate root) → source with test modules and
/// comments removed.
fn modules() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
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
            if parts.last().map(String::as_str) == Some("tests") {
                continue; // a file of unit tests
            }
            let text = std::fs::read_to_string(&p).unwrap();
            out.insert(parts.join("::"), strip(&text));
        }
    }
    out
}

/// The source without `//` comments and without the `#[cfg(test)] mod …` that ends a file.
fn strip(text: &str) -> String {
    let test_mod = Regex::new(r"#\[cfg\(test\)\]\s*(pub(\(crate\))? )?mod \w+\s*[{;]").unwrap();
    let code = match test_mod.find(text) {
        Some(m) => &text[..m.start()],
        None => text,
    };
    let comment = Regex::new(r"//[^\n]*").unwrap();
    comment.replace_all(code, "").into_owned()
}

/// File-level edges: module → the modules its paths name.
fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let path = Regex::new(r"\b(crate|super)((?:::\w+)+)(::\{([^;]*?)\})?").unwrap();
    let nested = Regex::new(r"\{[^{}]*\}").unwrap();
    let resolve = |segs: &[String]| -> Option<String> {
        (1..=segs.len())
            .rev()
            .map(|i| segs[..i].join("::"))
            .find(|m| mods.contains_key(m))
    };
    let mut out = BTreeMap::new();
    for (m, src) in mods {
        let own: Vec<String> = if m.is_empty() {
            Vec::new()
        } else {
            m.split("::").map(String::from).collect()
        };
        let mut to = BTreeSet::new();
        for c in path.captures_iter(src) {
            let mut tail: Vec<String> = c[2]
                .trim_start_matches("::")
                .split("::")
                .map(String::from)
                .collect();
            let mut base: Vec<String> = if &c[1] == "crate" {
                Vec::new()
            } else {
                own[..own.len().saturating_sub(1)].to_vec()
            };
            while tail.first().map(String::as_str) == Some("super") {
                tail.remove(0);
                base.pop();
            }
            base.extend(tail);
            let mut targets = vec![base.clone()];
            if let Some(group) = c.get(4) {
                for item in nested.replace_all(group.as_str(), "").split(',') {
                    let item = item.trim().split(" as ").next().unwrap_or("");
                    let first = item.split("::").next().unwrap_or("").trim();
                    if !first.is_empty() && first != "self" {
                        let mut t = base.clone();
                        t.push(first.to_string());
                        targets.push(t);
                    }
                }
            }
            for t in targets {
                if let Some(r) = resolve(&t) {
                    let inside = m.starts_with(&format!("{r}::"));
                    if !r.is_empty() && &r != m && !inside {
                        to.insert(r);
                    }
                }
            }
        }
        out.insert(m.clone(), to);
    }
    out
}

/// The first cycle found, as a list of modules (empty when there is none).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        v: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_string(), 1);
        stack.push(v.to_string());
        for w in g.get(v).into_iter().flatten() {
            match state.get(w.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(w, g, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let at = stack.iter().position(|s| s == w).unwrap_or(0);
                    let mut c = stack[at..].to_vec();
                    c.push(w.clone());
                    return Some(c);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(v.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in g.keys() {
        if state.get(v.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(v, g, &mut state, &mut Vec::new()) {
                return c;
            }
        }
    }
    Vec::new()
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap_or("")
}

#[test]
fn files_import_each_other_without_a_cycle() {
    let g = edges(&modules());
    assert!(g.contains_key("install::plan"), "module map is incomplete");
    assert!(
        g["install::extract"].contains("install::plan"),
        "the import reader missed `use super::plan::Source`"
    );
    let c = cycle(&g);
    assert!(c.is_empty(), "import cycle: {}", c.join(" → "));
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges(&modules()) {
        let set = g.entry(top(&from).to_string()).or_default();
        set.extend(
            to.iter()
                .map(|t| top(t).to_string())
                .filter(|t| t != top(&from)),
        );
    }
    let c = cycle(&g);
    assert!(c.is_empty(), "import cycle: {}", c.join(" → "));
}

#[test]
fn lower_layers_import_nothing_above_them() {
    let g = edges(&modules());
    let mut bad = Vec::new();
    for (from, to) in &g {
        for t in to {
            let (f, t_top) = (top(from), top(t));
            let cli_layer = matches!(t_top, "commands" | "cli");
            let below_cli = !matches!(f, "commands" | "cli" | "");
            let format_finds_keys = f == "format"
                && matches!(t_top, "keys" | "sops" | "age_file" | "rules" | "install");
            let base_imports = matches!(f, "error" | "secret" | "limits");
            if (cli_layer && below_cli) || format_finds_keys || base_imports {
                bad.push(format!("{from} → {t}"));
            }
        }
    }
    assert!(bad.is_empty(), "imports up a layer: {bad:?}");
}
