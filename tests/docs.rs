//! The documentation as a newcomer meets it: every relative link in the README, SECURITY.md and
//! docs/ leads to a file that exists and, with `#anchor`, to a heading of that file; the README
//! stays a short front door that starts with the two commands; code and docs cite only the
//! repository's own documents (docs/development.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use regex::Regex;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Pages another branch adds at the same time as a link to them: a link to one of these is
/// tolerated, with a note, while the page is missing. Empty when every branch is merged.
const WRITTEN_ELSEWHERE: &[&str] = &[];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files whose links are checked.
fn pages() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ["README.md", "SECURITY.md", "BENCH.md", "fuzz/README.md"]
        .iter()
        .map(|p| root().join(p))
        .filter(|p| p.exists())
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// Lines outside fenced code blocks, numbered from 1.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, Markdown markup and punctuation dropped, spaces
/// to `-`.
fn slug(heading: &str) -> String {
    let links = Regex::new(r"\]\([^)]*\)").unwrap();
    let text = links.replace_all(heading.trim(), "");
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .filter(|c| *c != '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file (repeated headings get `-1`, `-2`, … as on GitHub).
fn anchors(path: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let heading = Regex::new(r"^#{1,6} (.*)$").unwrap();
    let mut out = HashSet::new();
    for (_, line) in prose(&text) {
        if let Some(c) = heading.captures(line) {
            let s = slug(&c[1]);
            let mut name = s.clone();
            let mut n = 0;
            while out.contains(&name) {
                n += 1;
                name = format!("{s}-{n}");
            }
            out.insert(name);
        }
    }
    out
}

/// `docs/../README.md` → `README.md`, without touching the file system.
fn normalise(p: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.iter().map(|c| c.to_str().unwrap()) {
        match c {
            "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    parts.join("/")
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("A Cloudflare tunnel"), "a-cloudflare-tunnel");
    assert_eq!(
        slug("3. The guard: `hostseal check`"),
        "3-the-guard-hostseal-check"
    );
    assert_eq!(slug("Tunnels: `tunnels.<id>`"), "tunnels-tunnelsid");
    assert_eq!(slug("Key groups and Shamir"), "key-groups-and-shamir");
}

#[test]
fn every_relative_link_resolves() {
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let scheme = Regex::new(r"^[a-z][a-z+.-]*:").unwrap();
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let shown = page.strip_prefix(root()).unwrap().display().to_string();
        for (no, line) in prose(&text) {
            for c in link.captures_iter(line) {
                let target = &c[1];
                if scheme.is_match(target) {
                    continue;
                }
                checked += 1;
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let dest = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(file)
                };
                let in_repo = normalise(dest.strip_prefix(root()).unwrap_or(&dest));
                if !dest.exists() && WRITTEN_ELSEWHERE.contains(&in_repo.as_str()) {
                    eprintln!("NOTE {shown}:{no}: {target}: missing, written on another branch");
                } else if !dest.exists() {
                    broken.push(format!("{shown}:{no}: {target}: no such file"));
                } else if !anchor.is_empty()
                    && dest.extension().is_some_and(|e| e == "md")
                    && !anchors(&dest).contains(anchor)
                {
                    broken.push(format!("{shown}:{no}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the scan broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn readme_is_a_short_front_door() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() <= 200,
        "README.md has {} lines (at most 200)",
        lines.len()
    );
    let head = lines.iter().take(6).copied().collect::<Vec<_>>().join("\n");
    assert!(
        head.contains("scripts/demo.sh") && head.contains("scripts/test.sh"),
        "README.md must open with the two commands:\n{head}"
    );
    for needed in [
        "## Install",
        "docs/install.md",
        "cargo install --locked --path .",
    ] {
        assert!(text.contains(needed), "README.md lacks {needed}");
    }
}

/// Code and docs cite the repository's own docs/, never documents a user does not have: the
/// project's internal notes, their sections or the tracker's numbers (docs/development.md).
#[test]
fn no_citations_of_documents_outside_the_repository() {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        eprintln!("SKIPPED: not a git work tree (no `git ls-files`)");
        return;
    };
    // Built from pieces so that this file does not match itself.
    let pattern = Regex::new(&format!(
        "{}|{}|{}|{}",
        ["SPEC", " §"].concat(),
        ["FORMAT", " §"].concat(),
        ["the", " card"].concat(),
        ["issue", " [0-9]"].concat(),
    ))
    .unwrap();
    let mut hits = Vec::new();
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("fuzz/corpus/") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(&name)) else {
            continue; // binary, or deleted in the work tree
        };
        for (i, line) in text.lines().enumerate() {
            if pattern.is_match(line) {
                hits.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "cite docs/<page>.md instead:\n{}",
        hits.join("\n")
    );
}
