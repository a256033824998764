//! Every case under `fixtures/flux-graph/` is a Flux repository in its own right: `fluxgate
//! validate` renders it top-down from clusters/dev/flux-system and reports exactly the errors
//! its `EXPECTED` file lists (`rule file:line`, one per line, the same file `tests/flux_graph.rs`
//! checks the graph against directly), with exit code 1, or 0 for the clean case.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fluxgate")
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-graph");
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// The `rule file:line` errors a case's EXPECTED file lists, sorted (lines of rules whose
/// default severity is not error, such as `flux-reference-unresolved`, are left out).
fn expected(case: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(case.join("EXPECTED")).unwrap();
    let is_error = |l: &str| {
        let id = l.split_whitespace().next().unwrap_or("");
        fluxgate::rules::Rule::from_id(id).is_none_or(|r| r.default_severity() == fluxgate::finding::Severity::Error)
    };
    let mut v: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && is_error(l)).map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn each_case_validates_end_to_end_to_exactly_its_expected_errors() {
    let cases = cases();
    assert!(cases.len() >= 10, "only {} flux-graph cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let want = expected(&case);
        let out = Command::new(bin()).arg("validate").arg(&case).args(["--format", "json"]).output().unwrap();
        let want_code = if want.is_empty() { 0 } else { 1 };
        if out.status.code() != Some(want_code) {
            failures.push(format!(
                "{name}: exit code {:?}, want {want_code}; stderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let json: serde_json::Value = match serde_json::from_slice(&out.stdout) {
            Ok(j) => j,
            Err(e) => {
                failures.push(format!("{name}: stdout is not JSON: {e}"));
                continue;
            }
        };
        let mut got: Vec<String> = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| {
                format!(
                    "{} {}:{}",
                    f["rule"].as_str().unwrap_or("?"),
                    f["location"]["file"].as_str().unwrap_or("?"),
                    f["location"]["line"]
                )
            })
            .collect();
        got.sort();
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
