//! Flux entry points end to end: which ones `validate` finds in fixtures/flux-gsf, what their
//! findings are, and a reference test comparing each Flux render, object for object, with an
//! independent render by `kubectl kustomize` plus Flux's documented post-processing
//! (tests/flux_reference.py).

mod common;
use common::copy_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fluxgate")
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

fn validate_json(root: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(bin()).args(["validate", "--format", "json"]).args(extra).arg(root).output().unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

fn flux_entry_points(json: &serde_json::Value) -> Vec<String> {
    json["entry_points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "flux")
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn flux_gsf_lists_flux_entry_points_without_errors() {
    let (code, json) = validate_json(&fixture("flux-gsf"), &[]);
    assert_eq!(code, Some(0), "{:#}", json["findings"]);
    assert_eq!(json["summary"]["errors"], 0);
    let eps = flux_entry_points(&json);
    for env in ["development", "staging", "production"] {
        for name in ["flux-system", "infrastructure", "apps"] {
            let want = format!("clusters/{env}/flux-system/{name}");
            assert!(eps.contains(&want), "{want} missing from {eps:?}");
        }
    }
    assert!(eps.contains(&"clusters/production/flux-system/monitoring".to_string()), "{eps:?}");
    let monitoring = json["entry_points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "clusters/production/flux-system/monitoring")
        .unwrap();
    // targetNamespace moved everything namespaced into `monitoring`.
    assert!(
        monitoring["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["kind"] == "Namespace" || o["namespace"] == "monitoring")
    );
}

#[test]
fn entry_point_selection_by_config() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("broken/29-flux-substitute-unset");
    copy_dir(&src, dir.path());
    std::fs::write(dir.path().join(".fluxgate.yaml"), "flux:\n  entryPoints: kustomize\n").unwrap();
    let (code, json) = validate_json(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert!(flux_entry_points(&json).is_empty());
    std::fs::write(dir.path().join(".fluxgate.yaml"), "flux:\n  substitution: lenient\n").unwrap();
    let (code, _) = validate_json(dir.path(), &[]);
    assert_eq!(code, Some(0), "lenient substitution expands an unset variable to ''");
}

#[test]
fn unset_variable_is_an_error_that_var_fixes_and_foreign_source_is_info() {
    let root = fixture("broken/29-flux-substitute-unset");
    let (code, json) = validate_json(&root, &[]);
    assert_eq!(code, Some(1));
    let findings = json["findings"].as_array().unwrap();
    let unset: Vec<_> = findings.iter().filter(|f| f["rule"] == "flux-substitute-unset").collect();
    assert_eq!(unset.len(), 1, "{findings:#?}");
    assert_eq!(unset[0]["location"]["file"], "apps/configmap.yaml");
    assert_eq!(unset[0]["location"]["line"], 8);
    assert_eq!(unset[0]["entry_point"], "clusters/prod/flux-system/apps");
    let foreign: Vec<_> = findings.iter().filter(|f| f["rule"] == "flux-source-out-of-scope").collect();
    assert_eq!(foreign.len(), 1);
    assert_eq!(foreign[0]["severity"], "info");

    let (code, json) = validate_json(&root, &["--var", "cluster_region=eu"]);
    assert_eq!(code, Some(0), "{:#}", json["findings"]);
}

#[test]
fn flux_output_is_deterministic_across_thread_counts() {
    let run = |jobs: &[&str]| {
        Command::new(bin())
            .args(["validate", "--format", "json"])
            .args(jobs)
            .arg(fixture("flux-gsf"))
            .output()
            .unwrap()
            .stdout
    };
    assert!(run(&["--jobs", "1"]) == run(&[]), "--jobs 1 and the default differ");
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// JSON lines keyed by `kind/namespace/name`.
fn by_id(lines: &str) -> BTreeMap<String, serde_json::Value> {
    lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let id = format!(
                "{}/{}/{}",
                v["kind"].as_str().unwrap_or(""),
                v["metadata"]["namespace"].as_str().unwrap_or("_"),
                v["metadata"]["name"].as_str().unwrap_or("")
            );
            (id, v)
        })
        .collect()
}

#[test]
fn flux_renders_match_the_reference_render() {
    if !have("kubectl", "version") && !have("kubectl", "--help") {
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    if !have("python3", "-c") && !have("python3", "--version") {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flux_reference.py");
    if !Command::new("python3").args(["-c", "import yaml"]).status().is_ok_and(|s| s.success()) {
        eprintln!("skipped: python3 has no PyYAML");
        return;
    }
    let root = fixture("flux-gsf");
    let (_, json) = validate_json(&root, &[]);
    let eps = flux_entry_points(&json);
    assert!(eps.len() >= 10, "{eps:?}");
    let mut failures = Vec::new();
    let mut compared = 0;
    for ep in &eps {
        let ours = Command::new(bin()).args(["render", "--flux", ep]).arg(&root).output().unwrap();
        assert!(ours.status.success(), "{ep}: {}", String::from_utf8_lossy(&ours.stderr));
        let mut norm = Command::new("python3")
            .arg(&script)
            .arg("normalize")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            norm.stdin.take().unwrap().write_all(&ours.stdout).unwrap();
        }
        let ours = norm.wait_with_output().unwrap();
        let reference = Command::new("python3").arg(&script).arg("render").arg(&root).arg(ep).output().unwrap();
        assert!(reference.status.success(), "{ep}: reference failed: {}", String::from_utf8_lossy(&reference.stderr));
        let (a, b) =
            (by_id(&String::from_utf8_lossy(&ours.stdout)), by_id(&String::from_utf8_lossy(&reference.stdout)));
        if a.keys().ne(b.keys()) {
            failures.push(format!("{ep}: objects differ:\n  fluxgate:  {:?}\n  reference: {:?}", a.keys(), b.keys()));
            continue;
        }
        for (id, v) in &a {
            compared += 1;
            if Some(v) != b.get(id) {
                failures.push(format!("{ep}: {id} differs:\n  fluxgate:  {v}\n  reference: {}", b[id]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared > 200, "only {compared} objects compared");
}

#[test]
fn a_finding_seen_by_a_plain_overlay_and_a_flux_entry_point_is_reported_once_under_flux() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("broken/29-flux-substitute-unset"), dir.path());
    std::fs::write(dir.path().join("apps/kustomization.yaml"), "resources:\n- configmap.yaml\n- bad.yaml\n").unwrap();
    std::fs::write(
        dir.path().join("apps/bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: default\n  labels:\n    'bad key!': x\n",
    )
    .unwrap();
    let (code, json) = validate_json(dir.path(), &["--var", "cluster_region=eu"]);
    assert_eq!(code, Some(1));
    let bad: Vec<&serde_json::Value> =
        json["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "metadata-invalid-label").collect();
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(bad[0]["entry_point"], "clusters/prod/flux-system/apps");
    // Both entry points are still reported.
    let names: Vec<&str> =
        json["entry_points"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"apps") && names.contains(&"clusters/prod/flux-system/apps"), "{names:?}");
}
