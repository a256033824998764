//! Built-in policy rules: every rule has a failing and a passing fixture under
//! `fixtures/policy-rules/<rule-id>/{fail,pass}` (each a small repository with its own
//! `.fluxgate.yaml`); the failing one yields exactly the `rule file:line` findings its
//! `EXPECTED` lists, the passing one yields no policy finding at all. Plus suppressions
//! (annotation, config, unused) and how suppressed findings show in JUnit and JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use fluxgate::config::Config;
use fluxgate::finding::{Finding, Severity};
use fluxgate::policy::builtin::RULES;
use fluxgate::rules::Rule;
use fluxgate::source::Repo;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policy-rules")
}

fn is_policy(r: Rule) -> bool {
    RULES.contains(&r) || r == Rule::SuppressionUnused
}

fn run(root: &Path) -> Vec<Finding> {
    let config = match std::fs::read_to_string(root.join(".fluxgate.yaml")) {
        Ok(t) => Config::parse(&t).unwrap(),
        Err(_) => Config::default(),
    };
    let repo = Repo::open(root).unwrap();
    fluxgate::pipeline::validate(&repo, &config).unwrap().findings
}

/// Unsuppressed policy findings as `rule file:line`, sorted and de-duplicated (one object seen
/// by a plain overlay and a Flux entry point is one finding).
fn policy_lines(findings: &[Finding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| is_policy(f.rule) && f.suppressed.is_none())
        .map(|f| {
            let l = f.location.as_ref().expect("policy findings are located");
            format!("{} {}:{}", f.rule.id(), l.file, l.line)
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn every_policy_rule_has_a_failing_and_a_passing_fixture() {
    for r in RULES.iter().chain([&Rule::SuppressionUnused]) {
        let dir = fixtures().join(r.id());
        assert!(dir.join("fail").is_dir() && dir.join("pass").is_dir() && dir.join("EXPECTED").is_file(), "{}", r.id());
    }
}

#[test]
fn each_rule_fails_at_its_line_and_passes_when_fixed() {
    let mut failures = Vec::new();
    for r in RULES.iter().chain([&Rule::SuppressionUnused]) {
        let dir = fixtures().join(r.id());
        let mut want: Vec<String> = std::fs::read_to_string(dir.join("EXPECTED"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        want.sort();
        assert!(!want.is_empty() && want.iter().all(|l| l.starts_with(&format!("{} ", r.id()))), "{}", r.id());
        let got = policy_lines(&run(&dir.join("fail")));
        if got != want {
            failures.push(format!("{} fail: want {want:?}, got {got:?}", r.id()));
        }
        let got = policy_lines(&run(&dir.join("pass")));
        if !got.is_empty() {
            failures.push(format!("{} pass: want no policy finding, got {got:?}", r.id()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn policy_findings_carry_object_help_and_configured_severity() {
    let findings = run(&fixtures().join("pod-run-as-non-root/fail"));
    let f = findings.iter().find(|f| f.rule == Rule::PodRunAsNonRoot).unwrap();
    assert_eq!(f.object.as_ref().unwrap().display(), "Deployment/shop/web");
    assert!(f.help.as_deref().unwrap().contains("runAsNonRoot"));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.entry_point.as_deref(), Some("app"));
    // image-digest-required is off by default and an error in production.
    let findings = run(&fixtures().join("image-digest-required/fail"));
    assert_eq!(findings.iter().find(|f| f.rule == Rule::ImageDigestRequired).unwrap().severity, Severity::Error);
}

/// Copies a fixture repository into a temporary directory, with another `.fluxgate.yaml`.
fn with_config(fixture: &str, config: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join(fixture);
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        let to = tmp.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    std::fs::write(tmp.path().join(".fluxgate.yaml"), config).unwrap();
    tmp
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn severity_off_and_environment_overrides_apply() {
    // Off everywhere: nothing.
    let tmp = with_config("pod-privileged/fail", "rules:\n  pod-privileged: {severity: off}\n");
    assert!(run(tmp.path()).iter().all(|f| f.rule != Rule::PodPrivileged));
    // Off by default, a warning in this environment.
    let tmp = with_config(
        "pod-privileged/fail",
        "environments:\n  qa: ['app/**']\nrules:\n  pod-privileged:\n    enabled: false\n    environments: {qa: {severity: warning}}\n",
    );
    let f = run(tmp.path());
    assert_eq!(f.iter().find(|f| f.rule == Rule::PodPrivileged).unwrap().severity, Severity::Warning);
    // Outside production the production-only rules stay quiet.
    let tmp = with_config("replicas-minimum/fail", "environments:\n  staging: ['app/**']\n");
    assert!(run(tmp.path()).iter().all(|f| f.rule != Rule::ReplicasMinimum));
    // Parameters per environment.
    let tmp = with_config(
        "replicas-minimum/pass",
        "environments:\n  production: ['app/**']\nrules:\n  replicas-minimum:\n    environments: {production: {min: 3}}\n",
    );
    assert_eq!(policy_lines(&run(tmp.path())), vec!["replicas-minimum app/deployment.yaml:9"]);
}

#[test]
fn annotation_suppresses_with_its_reason() {
    let findings = run(&fixtures().join("suppression-unused/pass"));
    let f = findings.iter().find(|f| f.rule == Rule::PodPrivileged).unwrap();
    let reason = f.suppressed.as_deref().unwrap();
    assert!(reason.contains("the node agent needs it") && reason.contains("fluxgate.io/ignore"), "{reason}");
}

#[test]
fn config_suppression_matches_rule_path_and_object() {
    let base = "environments:\n  production: ['app/**']\nrules:\n  image-digest-required: {severity: off}\n";
    let tmp = with_config(
        "image-tag-latest/fail",
        &format!(
            "{base}suppressions:\n  - rule: image-tag-latest\n    path: 'app/**'\n    object: 'Deployment/shop/*'\n    reason: legacy image, replaced in Q3\n"
        ),
    );
    let findings = run(tmp.path());
    let f = findings.iter().find(|f| f.rule == Rule::ImageTagLatest).unwrap();
    assert!(f.suppressed.as_deref().unwrap().starts_with("legacy image, replaced in Q3"));
    assert!(findings.iter().all(|f| f.rule != Rule::SuppressionUnused));
    // The object glob must match too: this one silences nothing and is reported unused, at its line.
    let tmp = with_config(
        "image-tag-latest/fail",
        &format!(
            "{base}suppressions:\n  - rule: image-tag-latest\n    object: 'Deployment/other/*'\n    reason: not this one\n"
        ),
    );
    let findings = run(tmp.path());
    assert!(findings.iter().find(|f| f.rule == Rule::ImageTagLatest).unwrap().suppressed.is_none());
    let unused = findings.iter().find(|f| f.rule == Rule::SuppressionUnused).unwrap();
    let loc = unused.location.as_ref().unwrap();
    assert_eq!((loc.file.as_str(), loc.line), (".fluxgate.yaml", 6));
}

#[test]
fn config_suppression_also_silences_schema_findings() {
    let tmp = with_config(
        "env-duplicate-name/fail",
        "suppressions:\n  - rule: schema-duplicate-list-key\n    path: app/deployment.yaml\n    reason: fixed upstream\n",
    );
    let findings = run(tmp.path());
    let f = findings.iter().find(|f| f.rule == Rule::SchemaDuplicateListKey).unwrap();
    assert_eq!(f.suppressed.as_deref(), Some("fixed upstream (.fluxgate.yaml line 2)"));
}

#[test]
fn suppressed_findings_are_skipped_in_junit_and_marked_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["validate", "--format", "json", "--junit"])
        .arg(&junit)
        .arg(fixtures().join("suppression-unused/pass"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["suppressed"], 1);
    let f = json["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "pod-privileged").unwrap();
    assert!(f["suppressed"].as_str().unwrap().contains("the node agent needs it"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<skipped"), "{xml}");
    assert!(xml.contains("pod-privileged"), "{xml}");
}

#[test]
fn rules_lists_effective_severities_and_config_init_writes_a_valid_file() {
    let bin = env!("CARGO_BIN_EXE_fluxgate");
    let out = Command::new(bin).arg("rules").arg(fixtures().join("image-tag-latest/fail")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |id: &str| text.lines().find(|l| l.split_whitespace().next() == Some(id)).unwrap().to_string();
    assert!(line("image-digest-required").contains(" off "), "{text}");
    assert!(line("replicas-minimum").ends_with("[production: error]"), "{text}");
    assert!(line("yaml-syntax").contains(" error "));

    let dir = tempfile::tempdir().unwrap();
    let st = Command::new(bin).args(["config", "init"]).arg(dir.path()).status().unwrap();
    assert!(st.success());
    let written = std::fs::read_to_string(dir.path().join(".fluxgate.yaml")).unwrap();
    Config::parse(&written).unwrap();
    let again = Command::new(bin).args(["config", "init"]).arg(dir.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "refuses to overwrite");
    assert!(Command::new(bin).args(["config", "init", "--force"]).arg(dir.path()).status().unwrap().success());
}

#[test]
fn unknown_rule_in_config_exits_2_with_the_line() {
    let tmp = with_config("pod-privileged/pass", "rules:\n  pod-privilegd: {severity: off}\n");
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate")).arg("validate").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".fluxgate.yaml:2"));
}
