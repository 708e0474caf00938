//! The shape of the code, checked: every `crate::…` path in `src/` follows
//! the allowed arrows that docs/ARCHITECTURE.md lists (so the document and
//! the code cannot drift apart), every module is placed in that table, and
//! no source file grows past 500 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

/// Modules any code may use without an arrow: the crate roots, and the
/// test-only fixtures.
const FREE: [&str; 3] = ["main", "lib", "testkit"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```arrows block of docs/ARCHITECTURE.md: module -> allowed imports.
fn arrows() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let block = doc
        .split("```arrows\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/ARCHITECTURE.md has an ```arrows block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (from, to) = l
                .split_once("->")
                .unwrap_or_else(|| panic!("not `module -> modules`: {l}"));
            (
                from.trim().to_string(),
                to.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let first = file.strip_prefix(src).unwrap().components().next().unwrap();
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Every `crate::<module>` the code (not its comments) names.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` in a macro is the crate root, not a module.
            let dollar = i > 0 && rest.as_bytes()[i - 1] == b'$';
            if !name.is_empty() && !dollar {
                out.insert(name);
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_import_follows_an_allowed_arrow() {
    let allowed = arrows();
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut unplaced = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        if FREE.contains(&module.as_str()) {
            continue;
        }
        let Some(may) = allowed.get(&module) else {
            unplaced.insert(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for target in imports(&text) {
            if target == module || FREE.contains(&target.as_str()) || may.contains(&target) {
                continue;
            }
            wrong.push(format!(
                "{}: {module} -> {target}",
                file.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules missing from the table in docs/ARCHITECTURE.md: {unplaced:?}"
    );
    assert!(
        wrong.is_empty(),
        "imports against the arrows in docs/ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_itself_sees_a_forbidden_arrow() {
    // A line as it would appear in src/execute/: upward, into the agent.
    let found = imports("use crate::agent::local::LOCAL_POLL; // crate::commands\n");
    assert_eq!(found, BTreeSet::from(["agent".to_string()]));
    assert!(!arrows()["execute"].contains("agent"));
    assert!(imports("if $crate::require(x) {}").is_empty());
}

#[test]
fn no_source_file_is_longer_than_500_lines() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by idea:\n{}", long.join("\n"));
}
