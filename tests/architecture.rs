//! House rules checked by code, not by review (a "tidy" test): the layer order of `use crate::`
//! imports, a `//!` doc line at the top of every module, no `#[test]` without an assertion, no
//! function past the length limit without a comment saying why. Each failure names file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers of the library, lowest first. A module may import from its own top-level module
/// and from any layer listed before its own, never from one after it (or beside it), so data
/// flows one way and no cycle can form between modules. This list is the one place the order
/// lives; docs/ARCHITECTURE.md explains it.
const LAYERS: &[(&str, &str)] = &[
    ("source", "files under the root, the load restrictor, YAML with positions, the kustomize-format emitter"),
    ("rules", "the registry of rule ids, their default severities and docs"),
    ("finding", "the one Finding model every stage produces and every reporter formats"),
    ("cluster", "read-only access to a live cluster: kubeconfig, exec plugins, GET-only client, cached lookups"),
    ("config", ".fluxgate.yaml as plain data, one section per stage, parsed and validated"),
    ("kustomize", "the kustomize engine: kustomizations, accumulation, transformers, patches, generators"),
    ("discover", "what a run looks at: kustomization directories and an index of the repository's YAML"),
    ("schema", "the schema registry: bundled Kubernetes and Flux schemas, repo CRDs, CEL, API removals"),
    ("flux", "Flux semantics on top of the engine: entry points, sources, substitution, the graph"),
    ("helm", "HelmReleases through the helm binary, chart sources and the chart cache"),
    ("policy", "built-in rules, ValidatingAdmissionPolicies (CEL), suppressions"),
    ("check", "per-object checks that combine schema and policy for one render"),
    ("gate", "what a change affects (`--base`) and sharding: selection, never rendering"),
    ("pipeline", "one run as named stages (discover, render, check, select) and the report model"),
    ("report", "formatters of a run's report: terminal, JSON, JUnit, TeamCity, SARIF"),
    ("audit", "the whole-repository audit and its HTML/Markdown pages"),
    ("diff", "the object-level diff of a change and its formats"),
    ("publish", "sends a finished report to a code review server (Bitbucket Code Insights)"),
    ("fuzzing", "entry points for cargo-fuzz targets"),
    ("hook", "the git pre-push hook the command line installs"),
    ("cli", "one file per command: its clap arguments and its handler"),
];

/// Modules that share a rank with the one before them: they may not import each other either.
const SAME_RANK_AS_PREVIOUS: &[&str] = &["diff", "publish", "hook", "cli"];

/// The rank of a top-level module: its place in [`LAYERS`], shared with its predecessor for
/// [`SAME_RANK_AS_PREVIOUS`] modules; `None` for a module the list does not name.
fn rank(module: &str) -> Option<usize> {
    let mut r = 0;
    for (i, (name, _)) in LAYERS.iter().enumerate() {
        if i > 0 && !SAME_RANK_AS_PREVIOUS.contains(name) {
            r += 1;
        }
        if *name == module {
            return Some(r);
        }
    }
    None
}

/// Longest function (in lines, signature to closing brace) allowed without a comment on the
/// line above saying why (`// long: ...`).
const MAX_FN_LINES: usize = 120;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/flux/tree.rs` -> `flux`; `src/finding.rs` -> `finding`; `src/lib.rs` -> `lib`.
fn top_module(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The line without its `//` comment (string literals holding `//` are rare enough in `use`
/// lines and paths to ignore).
fn code_of(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("//") {
        return "";
    }
    match line.find("//") {
        Some(i) if !line[..i].contains('"') => &line[..i],
        _ => line,
    }
}

/// The top-level modules a line names through `crate::`, including grouped `use crate::{a, b::c}`.
fn crate_refs(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            let mut at_item_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        at_item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && at_item_start {
                    if c.is_alphanumeric() || c == '_' {
                        item.push(c);
                    } else if !item.is_empty() {
                        out.push(std::mem::take(&mut item));
                        at_item_start = false;
                    }
                }
            }
            if !item.is_empty() {
                out.push(item);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn layer_list_names_every_top_level_module() {
    let mut missing = Vec::new();
    for e in std::fs::read_dir(src()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let module = name.strip_suffix(".rs").unwrap_or(&name).to_string();
        if ["lib", "main"].contains(&module.as_str()) || (p.is_file() && !name.ends_with(".rs")) {
            continue;
        }
        if rank(&module).is_none() {
            missing.push(module);
        }
    }
    assert!(missing.is_empty(), "top-level modules missing from LAYERS in tests/architecture.rs: {missing:?}");
}

#[test]
fn imports_only_go_down_the_layers() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut violations = Vec::new();
    let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let from = top_module(rel);
        let Some(from_rank) = rank(&from) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for to in crate_refs(code_of(line)) {
                if to == from || to == "self" || to == "super" {
                    continue;
                }
                *edges.entry((from.clone(), to.clone())).or_default() += 1;
                match rank(&to) {
                    Some(r) if r < from_rank => {}
                    _ => violations.push(format!(
                        "src/{}:{}: `{from}` imports `{to}`, which is not below it in the layer order",
                        rel.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(!edges.is_empty(), "no crate:: imports found: the scanner is broken");
    assert!(violations.is_empty(), "{} upward or sideways imports:\n{}", violations.len(), violations.join("\n"));
}

#[test]
fn crate_ref_scanner_reads_grouped_and_inline_paths() {
    assert_eq!(crate_refs("use crate::{config::Config, flux::{a, b}, rules};"), ["config", "flux", "rules"]);
    assert_eq!(crate_refs("let x = crate::finding::location(repo, loc);"), ["finding"]);
    assert_eq!(crate_refs("use fluxgate_crate::x;"), Vec::<String>::new());
    assert_eq!(code_of("    // see crate::flux"), "");
}

#[test]
fn every_module_starts_with_a_doc_line() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().trim_start().starts_with("//!"))
        .map(|f| format!("{}:1: module has no `//!` doc line", f.display()))
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Each function in `text`: (first line, line count, name, body text).
fn functions(text: &str) -> Vec<(usize, usize, String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = code_of(line);
        let t = code.trim_start();
        let Some(at) = t.find("fn ") else { continue };
        let head = &t[..at];
        let is_fn = head
            .split_whitespace()
            .all(|w| matches!(w, "pub" | "const" | "async" | "unsafe" | "extern" | "\"C\"") || w.starts_with("pub("));
        if !is_fn {
            continue;
        }
        let name: String = t[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        // Find the body's opening brace, then its match (braces inside strings and chars are
        // rare enough in this code base; a miscount shows up as a wrong length, not a pass).
        let mut depth = 0i32;
        let mut opened = false;
        let mut end = None;
        'scan: for (j, l) in lines.iter().enumerate().skip(i) {
            for c in code_of(l).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break 'scan,
                    _ => {}
                }
                if opened && depth == 0 {
                    end = Some(j);
                    break 'scan;
                }
            }
        }
        if let Some(end) = end {
            out.push((i, end - i + 1, name, lines[i..=end].join("\n")));
        }
    }
    out
}

#[test]
fn functions_stay_short_unless_a_comment_says_why() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (first, len, name, _) in functions(&text) {
            let explained = first > 0
                && lines[..first]
                    .iter()
                    .rev()
                    .take_while(|l| l.trim_start().starts_with("//") || l.trim_start().starts_with("#["))
                    .any(|l| l.contains("long:"));
            if len > MAX_FN_LINES && !explained {
                long.push(format!("{}:{}: fn {name} is {len} lines (limit {MAX_FN_LINES})", f.display(), first + 1));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn every_test_asserts_something() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"), &mut files);
    let mut empty = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Helpers that assert: a test that calls one asserts through it.
        let fns = functions(&text);
        let asserting: Vec<&str> =
            fns.iter().filter(|(_, _, _, body)| asserts(body)).map(|(_, _, n, _)| n.as_str()).collect();
        for (first, _, name, body) in &fns {
            let is_test = lines[..*first].iter().rev().take(3).any(|l| l.trim() == "#[test]");
            if is_test && !asserts(body) && !asserting.iter().any(|h| *h != name && body.contains(&format!("{h}("))) {
                empty.push(format!("{}:{}: test {name} asserts nothing", f.display(), first + 1));
            }
        }
    }
    assert!(empty.is_empty(), "{}", empty.join("\n"));
}

fn asserts(body: &str) -> bool {
    ["assert", "panic!(", ".unwrap_err()", "expect_err("].iter().any(|m| body.contains(m))
}
