//! `fluxgate audit` end to end: the JSON document follows `docs/audit.schema.json`, agrees with
//! `validate` and with the HTML and Markdown reports, is byte-identical across runs, escapes
//! hostile text, compares with a previous audit, and keeps its exit-code contract.

mod audit_support;

use std::path::Path;
use std::process::Command;

use audit_support::*;
use serde_json::Value;

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Audits the combined repository once into `out`; returns the root.
fn audited(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("repo");
    combined_repo(&root);
    let out = tmp.join("out");
    let (code, stderr) = audit(
        &root,
        &[
            "--html",
            out.join("audit.html").to_str().unwrap(),
            "--json",
            out.join("audit.json").to_str().unwrap(),
            "--markdown",
            out.join("audit.md").to_str().unwrap(),
            "--generated-at",
            "2026-11-25 run 7",
        ],
    );
    assert_eq!(code, Some(0), "audit exits 0 even with error findings: {stderr}");
    assert!(stderr.is_empty(), "no progress bar when stderr is not a terminal: {stderr}");
    root
}

#[test]
fn json_follows_the_published_schema() {
    let tmp = tempfile::tempdir().unwrap();
    audited(tmp.path());
    let doc = read_json(&tmp.path().join("out/audit.json"));
    let schema = read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is strict enough to catch a broken document.
    let mut bad = doc.clone();
    bad["summary"]["errors"] = Value::from("many");
    assert!(!validator.is_valid(&bad));
    let mut bad = doc.clone();
    bad["findings"][0]["severity"] = Value::from("fatal");
    assert!(!validator.is_valid(&bad));
    let mut bad = doc;
    bad["unknownTopLevel"] = Value::from(1);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn audit_agrees_with_validate_and_groups_by_environment_and_team() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited(tmp.path());
    let doc = read_json(&tmp.path().join("out/audit.json"));
    let out = Command::new(bin()).args(["validate", "--format", "json"]).arg(&root).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &doc["summary"];
    for (audit_key, validate_key) in [
        ("entryPoints", "entry_points"),
        ("entryPointsFailed", "entry_points_failed"),
        ("objects", "objects"),
        ("errors", "errors"),
        ("warnings", "warnings"),
        ("infos", "infos"),
        ("suppressed", "suppressed"),
    ] {
        assert_eq!(s[audit_key], v["summary"][validate_key], "{audit_key}");
    }
    assert_eq!(doc["findings"].as_array().unwrap().len(), v["findings"].as_array().unwrap().len());
    // The broken samples sit beside a Flux tree that applies none of them: their failures are
    // warnings (nothing shows they reach a cluster), still each one reported.
    let reported = s["errors"].as_u64().unwrap() + s["warnings"].as_u64().unwrap();
    assert!(reported >= 29, "every broken sample contributes: {s}");
    assert_eq!(doc["generatedAt"], "2026-11-25 run 7");
    assert_eq!(doc["config"]["file"], ".fluxgate.yaml");
    assert_eq!(doc["config"]["text"], CONFIG);

    // Every broken sample's finding is in the `samples` environment; flux-gsf's production
    // entry points are in `production`.
    let envs = doc["byEnvironment"].as_array().unwrap();
    let env = |n: &str| envs.iter().find(|g| g["name"] == n).unwrap_or_else(|| panic!("no {n} in {envs:?}"));
    let reported = |g: &Value| g["errors"].as_u64().unwrap() + g["warnings"].as_u64().unwrap();
    assert!(reported(env("samples")) >= 29);
    assert!(env("production")["entryPoints"].as_u64().unwrap() > 0);
    for f in doc["findings"].as_array().unwrap() {
        if f["entryPoint"].as_str().is_some_and(|e| e.starts_with("broken/")) {
            assert_eq!(f["environment"], "samples", "{f}");
        }
    }
    // Teams come from the configured labels, first present wins.
    let teams = doc["byTeam"].as_array().unwrap();
    let team = |n: &str| teams.iter().find(|g| g["name"] == n).unwrap_or_else(|| panic!("no team {n} in {teams:?}"));
    assert!(team("commerce")["objects"].as_u64().unwrap() > 0);
    assert!(team("flux")["objects"].as_u64().unwrap() > 0, "app.kubernetes.io/part-of: flux");
    assert_eq!(reported(team(HOSTILE_LABEL)), 3, "invalid name and two invalid labels");
    assert_eq!(team("annotated-team")["objects"], 1, "an annotation names the team when no label does");
    assert_eq!(team("labelled-team")["objects"], 1, "a label wins over an annotation");
    let owned = doc["entryPoints"].as_array().unwrap().iter().find(|e| e["name"] == "teams/annotated").unwrap();
    let teams_of: Vec<(&str, &str)> = owned["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["team"].as_str().unwrap()))
        .collect();
    assert_eq!(teams_of, [("by-annotation", "annotated-team"), ("by-label", "labelled-team")]);
    // Per-group numbers add up to the totals.
    for key in ["byRule", "byEnvironment", "byTeam"] {
        let sum: u64 = doc[key].as_array().unwrap().iter().map(|g| g["findings"].as_u64().unwrap()).sum();
        assert_eq!(sum, s["findings"].as_u64().unwrap(), "{key}");
    }
    let objects: u64 = doc["byTeam"].as_array().unwrap().iter().map(|g| g["objects"].as_u64().unwrap()).sum();
    assert_eq!(objects, s["objects"].as_u64().unwrap());
    // Snippets carry the finding's own line.
    let yaml = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "yaml-syntax" && f["entryPoint"] == "broken/01-yaml-syntax/app")
        .unwrap();
    let line = yaml["location"]["line"].as_u64().unwrap();
    assert!(yaml["snippet"].as_array().unwrap().iter().any(|l| l["line"] == line && l["text"] == "     - broken: ["));
}

#[test]
fn reports_are_byte_identical_and_escape_hostile_text() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited(tmp.path());
    let again = tmp.path().join("again");
    let args = |d: &Path| {
        vec![
            "--html".to_string(),
            d.join("audit.html").display().to_string(),
            "--json".to_string(),
            d.join("audit.json").display().to_string(),
            "--markdown".to_string(),
            d.join("audit.md").display().to_string(),
            "--generated-at".to_string(),
            "2026-11-25 run 7".to_string(),
        ]
    };
    let a = args(&again);
    let (code, _) = audit(&root, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(0));
    for f in ["audit.html", "audit.json", "audit.md"] {
        let one = std::fs::read(tmp.path().join("out").join(f)).unwrap();
        let two = std::fs::read(again.join(f)).unwrap();
        assert!(one == two, "{f} differs between two runs");
    }
    let html = std::fs::read_to_string(again.join("audit.html")).unwrap();
    assert!(!html.contains(HOSTILE_NAME) && !html.contains("<b>bold") && !html.contains("<img"), "unescaped payload");
    assert!(html.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"), "the name is shown, escaped");
    assert_eq!(html.matches("<script").count(), 1, "only the report's own script");
    assert!(!html.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t'), "no raw control characters");
    assert!(html.contains("]]&gt;\u{2401}&lt;b&gt;bold"), "control characters are shown as symbols");
    let md = std::fs::read_to_string(again.join("audit.md")).unwrap();
    assert!(!md.contains("<script") && !md.contains("<b>"), "markdown escapes too");
    assert!(md.contains("# fluxgate audit") && md.contains("## Findings by team"));
}

#[test]
fn compare_shows_new_and_fixed_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = audited(tmp.path());
    let prev = tmp.path().join("out/audit.json");
    // Fix one broken sample, break a clean overlay of flux-gsf.
    std::fs::remove_dir_all(root.join("broken/10-duplicate-key")).unwrap();
    std::fs::write(root.join("broken/12-unknown-kind/EXTRA.yaml"), "kind: [\n").unwrap();
    std::fs::write(root.join("broken/99-hostile/kustomization.yaml"), "resources:\n  - cm.yaml\n  - missing.yaml\n")
        .unwrap();
    let next = tmp.path().join("next.json");
    let html = tmp.path().join("next.html");
    let md = tmp.path().join("next.md");
    let (code, stderr) = audit(
        &root,
        &[
            "--compare",
            prev.to_str().unwrap(),
            "--json",
            next.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let doc = read_json(&next);
    let c = &doc["compare"];
    assert_eq!(c["previousGeneratedAt"], "2026-11-25 run 7");
    let fixed = c["fixedFindings"].as_array().unwrap();
    assert!(fixed.iter().any(|f| f["rule"] == "yaml-duplicate-key"), "{fixed:?}");
    let new = c["newFindings"].as_array().unwrap();
    assert!(new.iter().any(|f| f["rule"] == "file-not-found" && f["entryPoint"] == "broken/99-hostile"), "{new:?}");
    let rule = |n: &str| c["byRule"].as_array().unwrap().iter().find(|d| d["name"] == n).cloned().unwrap();
    assert_eq!(rule("yaml-duplicate-key")["delta"], -1);
    let entry_points = c["summary"].as_array().unwrap().iter().find(|d| d["name"] == "entryPoints").unwrap();
    assert_eq!(entry_points["delta"], -1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!(r#"id="trend-new" data-value="{}""#, new.len())));
    assert!(page.contains(&format!(r#"id="trend-fixed" data-value="{}""#, fixed.len())));
    assert!(std::fs::read_to_string(&md).unwrap().contains("## Trends since the previous audit"));

    // Comparing with itself changes nothing.
    let (code, _) = audit(&root, &["--compare", next.to_str().unwrap(), "--json", next.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let doc = read_json(&next);
    assert_eq!(doc["compare"]["newFindings"], serde_json::json!([]));
    assert_eq!(doc["compare"]["fixedFindings"], serde_json::json!([]));
    assert!(doc["compare"]["summary"].as_array().unwrap().iter().all(|d| d["delta"] == 0));
}

#[test]
fn exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a.json");
    let out = out.to_str().unwrap();
    let broken = fixtures().join("broken/01-yaml-syntax");
    assert_eq!(audit(&broken, &["--json", out]).0, Some(0));
    assert_eq!(audit(&broken, &["--json", out, "--fail-on", "error"]).0, Some(1));
    let clean = fixtures().join("flux-gsf");
    assert_eq!(audit(&clean, &["--json", out, "--fail-on", "error"]).0, Some(0));
    // Could not run: no report asked for, a missing root, a previous audit that is not one.
    let (code, stderr) = audit(&clean, &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--html"), "{stderr}");
    assert_eq!(audit(&tmp.path().join("missing"), &["--json", out]).0, Some(2));
    let bogus = tmp.path().join("bogus.json");
    std::fs::write(&bogus, r#"{"schemaVersion": 99}"#).unwrap();
    let (code, stderr) = audit(&clean, &["--json", out, "--compare", bogus.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("schemaVersion 99"), "{stderr}");
}
