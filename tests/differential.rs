//! Differential tests: `fluxgate render` against the real `kubectl kustomize` on every
//! kustomization under `fixtures/` (broken and hostile samples excepted), object for object and in order.
//! Skips, with a printed reason, where kubectl is not installed. Cases listed in
//! `tests/known-differences.txt` (one `path  reason` per line) are reported, not failed.

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
    let (mut agree, mut failures, mut listed) = (0, Vec::new(), 0);
    for dir in &dirs {
        let rel = dir.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let theirs = Command::new("kubectl").arg("kustomize").arg(dir).output().unwrap();
        let ours = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
            .args(["render", "--root"])
            .arg(&root)
            .arg(dir)
            .output()
            .unwrap();
        let verdict = match (theirs.status.success(), ours.status.success()) {
            (true, true) => compare(&String::from_utf8_lossy(&ours.stdout), &String::from_utf8_lossy(&theirs.stdout)),
            (false, false) => None,
            (true, false) => Some(format!("fluxgate failed: {}", String::from_utf8_lossy(&ours.stderr))),
            (false, true) => {
                Some(format!("kustomize failed but fluxgate did not: {}", String::from_utf8_lossy(&theirs.stderr)))
            }
        };
        match verdict {
            None => agree += 1,
            Some(_) if known.contains(&rel) => listed += 1,
            Some(d) => failures.push(format!("{rel}: {d}")),
        }
    }
    println!(
        "differential: {agree} of {} kustomizations agree with kubectl kustomize; {listed} known differences",
        dirs.len()
    );
    assert!(failures.is_empty(), "{} disagree:\n{}", failures.len(), failures.join("\n"));
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
