//! Differential tests: `fluxgate render` against the real `kubectl kustomize` on every
//! kustomization under `fixtures/` (broken and hostile samples excepted), object for object and in order.
//! Skips, with a printed reason, where kubectl is not installed. Cases listed in
//! `tests/known-differences.txt` (one `path  reason` per line) are reported, not failed.
//! A case directory holding `expected-error.txt` (one line: a substring) is an error case: both
//! tools must fail and fluxgate's stderr must contain the substring. Both failing anywhere else is
//! a disagreement.

#[path = "support/render_compare.rs"]
mod render_compare;
#[path = "../benches/synth.rs"]
mod synth;

use std::path::{Path, PathBuf};
use std::process::Command;

use render_compare::compare;

fn kubectl_available() -> bool {
    Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success())
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every kustomization directory below `dir`, skipping broken samples and the hostile corpus
/// (which would make `kubectl kustomize` expand an alias bomb or read outside the repository).
fn kustomize_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "broken" || n == "hostile") {
                continue;
            }
            kustomize_dirs(&p, out);
        } else if p
            .file_name()
            .is_some_and(|n| n == "kustomization.yaml" || n == "kustomization.yml" || n == "Kustomization")
        {
            out.push(dir.to_path_buf());
        }
    }
}

fn known_differences() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/known-differences.txt");
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

/// The substring an error case's fluxgate message must contain: the first non-blank line of
/// `expected-error.txt` in the case directory, or `None` for an output case.
fn expected_error(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("expected-error.txt")).ok()?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    assert!(line.is_some(), "{}: expected-error.txt is empty", dir.display());
    line.map(str::to_string)
}

/// One case's verdict: `None` when fluxgate and kustomize agree. An output case agrees when both
/// render the same objects; an error case (with `expected-error.txt`) when both fail and fluxgate's
/// message holds the expected substring. Both failing on an output case is a disagreement: an
/// error must be asserted deliberately, or a broken fixture would pass unnoticed.
fn verdict(expected: Option<&str>, theirs: &std::process::Output, ours: &std::process::Output) -> Option<String> {
    let (their_err, our_err) = (String::from_utf8_lossy(&theirs.stderr), String::from_utf8_lossy(&ours.stderr));
    match (expected, theirs.status.success(), ours.status.success()) {
        (None, true, true) => compare(&String::from_utf8_lossy(&ours.stdout), &String::from_utf8_lossy(&theirs.stdout)),
        (None, false, false) => Some(format!(
            "both fail but the case has no expected-error.txt:\n  kustomize: {}\n  fluxgate: {}",
            their_err.trim(),
            our_err.trim()
        )),
        (Some(want), false, false) if our_err.contains(want) => None,
        (Some(want), false, false) => Some(format!(
            "fluxgate's error lacks {want:?}:\n  fluxgate: {}\n  kustomize: {}",
            our_err.trim(),
            their_err.trim()
        )),
        (Some(_), true, _) => Some(format!("error case, but kustomize succeeded (fluxgate: {})", our_err.trim())),
        (_, false, true) => Some(format!("kustomize failed but fluxgate did not: {}", their_err.trim())),
        (None, true, false) => Some(format!("fluxgate failed: {}", our_err.trim())),
    }
}

#[test]
fn render_matches_kubectl_kustomize_on_every_fixture() {
    if !kubectl_available() {
        println!("skipped: kubectl not found on PATH; differential tests need `kubectl kustomize`");
        return;
    }
    let root = fixtures();
    let mut dirs = Vec::new();
    kustomize_dirs(&root, &mut dirs);
    assert!(!dirs.is_empty());
    let known = known_differences();
    let (mut agree, mut failures, mut listed, mut error_cases) = (0, Vec::new(), 0, 0);
    for dir in &dirs {
        let rel = dir.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let expected = expected_error(dir);
        error_cases += usize::from(expected.is_some());
        let theirs = Command::new("kubectl").arg("kustomize").arg(dir).output().unwrap();
        let ours = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
            .args(["render", "--root"])
            .arg(&root)
            .arg(dir)
            .output()
            .unwrap();
        match verdict(expected.as_deref(), &theirs, &ours) {
            None => agree += 1,
            Some(_) if known.contains(&rel) => listed += 1,
            Some(d) => failures.push(format!("{rel}: {d}")),
        }
    }
    println!(
        "differential: {} cases ({} output, {error_cases} error); {agree} agree with kubectl kustomize; \
         {listed} known differences; {} disagree",
        dirs.len(),
        dirs.len() - error_cases,
        failures.len()
    );
    assert!(failures.is_empty(), "{} disagree:\n{}", failures.len(), failures.join("\n"));
}

/// A process result with the given success and streams, for the verdict's own tests.
#[cfg(unix)]
fn output(ok: bool, stdout: &str, stderr: &str) -> std::process::Output {
    use std::os::unix::process::ExitStatusExt;
    std::process::Output {
        status: std::process::ExitStatus::from_raw(if ok { 0 } else { 1 << 8 }),
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
    }
}

#[cfg(unix)]
#[test]
fn verdict_asserts_errors_deliberately() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
    let (ok, bad) = (output(true, cm, ""), output(false, "", "error: no such file: x.yaml"));
    assert_eq!(verdict(None, &ok, &ok), None);
    assert!(verdict(None, &bad, &bad).unwrap().contains("no expected-error.txt"));
    assert_eq!(verdict(Some("no such file"), &bad, &bad), None);
    assert!(verdict(Some("missing"), &bad, &bad).unwrap().contains("lacks"));
    assert!(verdict(Some("no such file"), &ok, &bad).unwrap().contains("kustomize succeeded"));
    assert!(verdict(Some("no such file"), &bad, &ok).unwrap().contains("fluxgate did not"));
    assert!(verdict(None, &ok, &bad).unwrap().contains("fluxgate failed"));
    let other = output(true, &cm.replace("name: a", "name: b"), "");
    assert!(verdict(None, &other, &ok).is_some());
}

#[test]
fn render_matches_kubectl_kustomize_on_a_generated_repository() {
    if !kubectl_available() {
        println!("skipped: kubectl not found on PATH; differential tests need `kubectl kustomize`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let overlays = synth::generate(root, synth::Shape { apps: 4, envs: 6 });
    let mut failures = Vec::new();
    for o in overlays.iter().chain(["apps/base/app-0000".to_string()].iter()) {
        let theirs = Command::new("kubectl").arg("kustomize").arg(root.join(o)).output().unwrap();
        let ours = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
            .args(["render", "--root"])
            .arg(root)
            .arg(root.join(o))
            .output()
            .unwrap();
        assert!(theirs.status.success() && ours.status.success(), "{o}: {}", String::from_utf8_lossy(&ours.stderr));
        if ours.stdout != theirs.stdout {
            failures.push(format!(
                "{o}: {}",
                compare(&String::from_utf8_lossy(&ours.stdout), &String::from_utf8_lossy(&theirs.stdout))
                    .unwrap_or_else(|| "same objects, different bytes".into())
            ));
        }
    }
    println!(
        "differential (generated): {} of {} overlays byte-identical to kubectl kustomize",
        overlays.len() + 1 - failures.len(),
        overlays.len() + 1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
