//! Entry points shared by the `cargo fuzz` targets (`fuzz/`) and the regression test that
//! replays their crashing inputs (`tests/fuzz_regressions.rs`). Each takes raw bytes, runs one
//! parser or patch engine the way a render would, and asserts the invariants that are cheap
//! to check (locations inside the input, all-or-nothing patches). A panic here is a bug: the
//! fuzzer reports it, and the input is kept as a regression case.

use crate::flux::envsubst;
use crate::flux::substitute::{Vars, substitute};
use crate::kustomize::kustomization::Kustomization;
use crate::kustomize::patch::json6902::apply_json6902;
use crate::kustomize::patch::strategic::{BuiltinMeta, apply_strategic};
use crate::source::yaml::{self, Dialect, Parsed};
use crate::source::{FileId, Limits, Loc, Node, RelPath, Value};

/// The fuzz targets, by the name of their `fuzz/fuzz_targets/<name>.rs` and
/// `fuzz/regressions/<name>/` directory.
pub const TARGETS: [&str; 5] = ["yaml_loader", "kustomization", "strategic_merge", "json6902", "envsubst"];

/// Runs the named target on one input. Unknown names panic (a test bug, not an input bug).
pub fn run(target: &str, data: &[u8]) {
    match target {
        "yaml_loader" => yaml_loader(data),
        "kustomization" => kustomization(data),
        "strategic_merge" => strategic_merge(data),
        "json6902" => json6902(data),
        "envsubst" => envsubst(data),
        other => panic!("unknown fuzz target '{other}'"),
    }
}

/// Limits small enough that one fuzz iteration stays fast, so the fuzzer explores rather than
/// waits; the code paths are the same as with the defaults.
fn fuzz_limits() -> Limits {
    Limits { max_alias_expansion: 10_000, max_object_nodes: 20_000, ..Limits::default() }
}

/// The text of the input, as the repository reader would accept it (it rejects invalid UTF-8
/// before any parser sees the file).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// The bounds a location in `text` must respect: the line count and the widest line, as YAML
/// counts lines (LF, CRLF, lone CR), which is what the reports' snippets use too. Computed once
/// per input: per node it made the check quadratic (a fuzzer timeout in the harness, not in
/// the loader).
#[derive(Clone, Copy)]
struct Bounds {
    lines: u32,
    widest: u32,
}

impl Bounds {
    fn of(text: &str) -> Bounds {
        let lines = crate::source::yaml_lines(text).count() as u32;
        let widest = crate::source::yaml_lines(text).map(|l| l.chars().count()).max().unwrap_or(0) as u32;
        Bounds { lines, widest }
    }
}

/// Asserts that a location lies inside the text (1-based line ≤ line count + 1; column ≤ the
/// longest line + 1), or is [`Loc::NONE`].
fn assert_loc_inside(loc: Loc, b: Bounds, what: &str) {
    if loc.is_none() {
        return;
    }
    assert!(loc.line >= 1 && loc.line <= b.lines + 1, "{what}: line {} outside 1..={}", loc.line, b.lines + 1);
    assert!(loc.col >= 1 && loc.col <= b.widest + 2, "{what}: column {} outside 1..={}", loc.col, b.widest + 2);
}

fn assert_tree_inside(n: &Node, b: Bounds, depth: usize) {
    assert!(depth <= Limits::default().max_depth + 1, "tree deeper than the depth limit");
    assert_loc_inside(n.loc, b, "node");
    match &n.value {
        Value::Map(m) => m.values().for_each(|v| assert_tree_inside(v, b, depth + 1)),
        Value::Seq(s) => s.iter().for_each(|v| assert_tree_inside(v, b, depth + 1)),
        _ => {}
    }
}

fn parse(text: &str, dialect: Dialect) -> Parsed {
    yaml::parse(text, FileId(0), dialect, &fuzz_limits())
}

/// YAML loader with positions, both dialects: every node and error location is inside the
/// input; nothing panics.
pub fn yaml_loader(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let b = Bounds::of(text);
    for dialect in [Dialect::Yaml12, Dialect::Yaml11] {
        let p = parse(text, dialect);
        if let Some(e) = &p.error {
            assert_loc_inside(e.loc, b, "error");
        }
        for d in &p.docs {
            assert_tree_inside(d, b, 0);
        }
    }
}

/// Kustomization parser: any YAML document either parses or gives a located diagnostic.
pub fn kustomization(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let p = parse(text, Dialect::Yaml11);
    let dir = RelPath::parse("app").unwrap_or_default();
    let file = RelPath::parse("app/kustomization.yaml").unwrap_or_default();
    for d in &p.docs {
        if let Err(diag) = Kustomization::parse(d, dir.clone(), file.clone()) {
            assert_loc_inside(diag.loc, Bounds::of(text), "diagnostic");
            assert!(!diag.message.is_empty(), "diagnostic without a message");
        }
    }
}

/// Splits the input into (target, patch) documents: the first two documents of the input.
fn two_docs(data: &[u8], dialect: Dialect) -> Option<(Node, Node)> {
    let p = parse(text(data)?, dialect);
    let mut docs = p.docs.into_iter();
    Some((docs.next()?, docs.next()?))
}

/// Strategic merge patch: document 1 is the target, document 2 the patch. Errors are located;
/// a success leaves a map (or null for `$patch: delete`) within the object size bound.
pub fn strategic_merge(data: &[u8]) {
    let Some((mut target, patch)) = two_docs(data, Dialect::Yaml12) else { return };
    if target.as_map().is_none() {
        return;
    }
    let meta = BuiltinMeta::for_object(&target);
    if apply_strategic(&mut target, &patch, &meta).is_ok() {
        assert!(
            matches!(target.value, Value::Map(_) | Value::Null(_)),
            "merge of two maps is a {}",
            target.type_name()
        );
    }
}

/// JSON 6902 patch: document 1 is the target, document 2 the operations. All-or-nothing: a
/// failed patch leaves the target unchanged; a successful one stays within the size bound.
pub fn json6902(data: &[u8]) {
    let Some((mut target, ops)) = two_docs(data, Dialect::Yaml11) else { return };
    let before = target.clone();
    let limits = fuzz_limits();
    match crate::kustomize::patch::json6902::apply_json6902_bounded(&mut target, &ops, Loc::NONE, &limits) {
        Ok(()) => assert!(node_count(&target) <= 2 * limits.max_object_nodes + 1, "patched object over the bound"),
        Err(_) => assert!(target == before, "a failed json patch changed the target"),
    }
    // The unbounded entry point is only used with inputs already bounded by the YAML limits.
    let _ = apply_json6902;
}

fn node_count(n: &Node) -> usize {
    match &n.value {
        Value::Map(m) => 1 + m.values().map(node_count).sum::<usize>(),
        Value::Seq(s) => 1 + s.iter().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// Flux post-build substitution: the envsubst parser and evaluator on the whole input, then
/// substitution of every string of the input parsed as YAML. Text without `$` is unchanged.
pub fn envsubst(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let lookup = |n: &str| match n.len() % 3 {
        0 => None,
        1 => Some(String::new()),
        _ => Some(format!("v-{n}")),
    };
    if let Ok(pieces) = envsubst::parse(text) {
        for strict in [true, false] {
            let mut unset = Vec::new();
            let out = envsubst::eval(&pieces, &lookup, strict, &mut unset);
            if !text.contains('$') {
                assert_eq!(out, text, "text without '$' changed by substitution");
            }
        }
    }
    let p = parse(text, Dialect::Yaml12);
    let mut vars = Vars::new();
    vars.insert("cluster", "prod");
    vars.insert("empty", "");
    vars.insert("quote", "a: 'b\"");
    for d in &p.docs {
        for strict in [true, false] {
            let _ = substitute(d, &vars, strict);
        }
    }
}
