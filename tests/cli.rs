//! End-to-end tests of the `fluxgate` command line: exit codes, outputs, determinism.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fixture, fluxgate, s};

#[test]
fn sample_repository_is_clean_and_junit_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("out/junit.xml");
    let out = fluxgate(&["validate", s(&fixture("flux-gsf")), "--junit", s(&junit), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // A suppressed finding (the sample shows a `fluxgate.io/ignore` annotation) does not count.
    let errors: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error" && f["suppressed"].is_null())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(out.status.code(), Some(0));
    assert!(json["summary"]["entry_points"].as_u64().unwrap() >= 30);
    // Only HelmReleases whose chart cannot be had offline stay unrendered, each with the
    // warning that says why; with no helm at all, one warning for the run, and the skipped
    // releases are no entry points.
    for e in json["entry_points"].as_array().unwrap().iter().filter(|e| e["rendered"] == false) {
        assert_eq!(e["kind"], "helmrelease", "{e:#}");
        let why = json["findings"].as_array().unwrap().iter().find(|f| f["entry_point"] == e["name"]).unwrap();
        assert_eq!(why["rule"], "helm-chart-unavailable", "{why:#}");
        assert_eq!(why["severity"], "warning");
    }
    let skipped = json["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "helm-skipped").count();
    assert!(skipped <= 1);
    assert_eq!(skipped == 1, json["summary"]["entry_points_skipped"].as_u64().unwrap() > 0);
    let cov = &json["schema_coverage"];
    assert_eq!(cov["checked"], cov["total"], "every object of the sample is checked against a schema: {cov}");
    let xml = std::fs::read_to_string(junit).unwrap();
    // One suite per entry point, and one for findings outside every entry point (a run-level
    // helm-skipped) when there are any.
    let run_level = json["findings"].as_array().unwrap().iter().any(|f| f["entry_point"].is_null()) as u64;
    assert_eq!(
        xml.matches("<testsuite ").count() as u64,
        json["summary"]["entry_points"].as_u64().unwrap() + run_level
    );
}

#[test]
fn reports_are_byte_identical_across_runs_and_job_counts() {
    let root = fixture("flux-gsf");
    let a = fluxgate(&["validate", s(&root), "--format", "json"]);
    let b = fluxgate(&["validate", s(&root), "--format", "json", "--jobs", "1"]);
    assert_eq!(a.stdout, b.stdout);
    let dir = tempfile::tempdir().unwrap();
    let (j1, j2) = (dir.path().join("1.xml"), dir.path().join("2.xml"));
    let broken = fixture("broken");
    fluxgate(&["validate", s(&broken), "--junit", s(&j1), "--color", "never"]);
    fluxgate(&["validate", s(&broken), "--junit", s(&j2), "--jobs", "1", "--color", "never"]);
    assert_eq!(std::fs::read(j1).unwrap(), std::fs::read(j2).unwrap());
}

#[test]
fn broken_tree_still_checks_every_other_overlay() {
    let out = fluxgate(&["validate", s(&fixture("broken")), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let eps = json["entry_points"].as_array().unwrap();
    assert!(eps.len() > 16);
    assert!(eps.iter().any(|e| e["rendered"] == true), "healthy bases are still rendered");
}

#[test]
fn unusable_input_exits_2() {
    let out = fluxgate(&["validate", "/definitely/not/here"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
    let out = fluxgate(&["validate", "--format", "yaml", "."]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".fluxgate.yaml"), "ignore: [a]\nignroe: [b]\n").unwrap();
    let out = fluxgate(&["validate", s(dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(".fluxgate.yaml:2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn render_fails_like_kustomize_with_the_error_on_stderr() {
    let case = fixture("broken/02-missing-resource");
    let out = fluxgate(&["render", "--root", s(&case), s(&case.join("app"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[file-not-found]") && err.contains("app/kustomization.yaml:3"), "{err}");
}

#[test]
fn object_without_api_version_renders_like_kustomize_and_fails_the_check() {
    let case = fixture("kustomize/703-object-without-apiversion");
    let render = fluxgate(&["render", "--root", s(&case), s(&case)]);
    assert_eq!(render.status.code(), Some(0), "{}", String::from_utf8_lossy(&render.stderr));
    let out = fluxgate(&["validate", s(&case)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("error[object-invalid]: this object has no 'apiVersion'").count(), 2, "{text}");
    assert!(text.contains("objects.yaml:12:13"), "{text}");
}

#[test]
fn render_load_restrictor_is_kustomizes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("shared.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n").unwrap();
    std::fs::write(root.join("app/kustomization.yaml"), "resources:\n- ../shared.yaml\n").unwrap();
    let app = root.join("app");
    let strict = fluxgate(&["render", "--root", s(root), s(&app)]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("LoadRestrictionsRootOnly"));
    let none = fluxgate(&["render", "--root", s(root), "--load-restrictor", "LoadRestrictionsNone", s(&app)]);
    assert_eq!(none.status.code(), Some(0), "{}", String::from_utf8_lossy(&none.stderr));
    assert!(String::from_utf8_lossy(&none.stdout).contains("name: shared"));
}

#[test]
fn text_report_is_compiler_style_without_colour_off_a_tty() {
    let out = fluxgate(&["validate", s(&fixture("broken/03-typo-field"))]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[kustomization-unknown-field]: unknown field 'namespce' in kustomization"), "{text}");
    assert!(text.contains("--> app/kustomization.yaml:3:"), "{text}");
    assert!(text.contains("help: did you mean 'namespace'?"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour when stdout is not a terminal");
}

#[test]
fn rules_lists_every_rule() {
    let out = fluxgate(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ["yaml-syntax", "patch-target-not-found", "duplicate-object", "schema-missing"] {
        assert!(text.contains(id));
    }
}

#[test]
fn sarif_and_teamcity_outputs_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("report.sarif");
    let case = fixture("broken/18-schema-unknown-field");
    let out = fluxgate(&["validate", s(&case), "--format", "teamcity", "--sarif", s(&sarif)]);
    assert_eq!(out.status.code(), Some(1));
    let tc = String::from_utf8_lossy(&out.stdout);
    assert!(tc.lines().all(|l| l.starts_with("##teamcity[") && l.ends_with(']')), "{tc}");
    assert!(tc.contains("testFailed name='Deployment/web/web'"), "{tc}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sarif).unwrap()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "schema-unknown-field");
    assert_eq!(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 20);
}

#[test]
fn first_run_without_helm_prints_one_helm_line_and_counts_no_failed_render() {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["validate", s(&fixture("flux-gsf")), "--color", "never", "--offline"])
        .env("FLUXGATE_HELM", "/nonexistent/helm")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let helm_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("warning[helm-")).collect();
    assert_eq!(
        helm_lines,
        ["warning[helm-skipped]: 9 HelmReleases not rendered: helm not found; install helm or set helm.binary"],
        "{text}"
    );
    let summary = text.lines().last().unwrap();
    assert!(!summary.contains("failed to render"), "{summary}");
    assert!(summary.contains("(9 HelmReleases skipped: no helm)"), "{summary}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_root_with_nothing_to_check_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.yaml"), "just: data\n").unwrap();
    let out = fluxgate(&["validate", s(dir.path()), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &json["findings"][0];
    assert_eq!(f["rule"], "no-entry-points");
    assert_eq!(f["severity"], "warning");
    assert_eq!(json["findings"].as_array().unwrap().len(), 1);
    assert_eq!(out.status.code(), Some(0), "a warning, not a failure");
    // A repository with an overlay gets no such warning.
    let out = fluxgate(&["validate", s(&fixture("broken/06-duplicate-object")), "--format", "json"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("no-entry-points"));
}

#[test]
fn version_names_the_commit() {
    let out = fluxgate(&["--version"]);
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let re = regex::Regex::new(r"^fluxgate \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown)\)$").unwrap();
    assert!(re.is_match(&v), "{v}");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        Command::new("git").arg("-C").arg(manifest).args(args).output().ok().filter(|o| o.status.success())
    };
    let top = git(&["rev-parse", "--show-toplevel"]).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if top.is_some_and(|t| Path::new(&t).canonicalize().ok() == manifest.canonicalize().ok())
        && std::env::var_os("FLUXGATE_COMMIT").is_none()
    {
        let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap();
        assert!(v.contains(String::from_utf8_lossy(&head.stdout).trim()), "{v}");
    }
}

#[test]
fn explain_prints_the_rules_page_section_of_a_rule() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md")).unwrap();
    for id in ["image-tag-latest", "helm-skipped", "replicas-minimum", "flux-dependency-cycle"] {
        let out = fluxgate(&["explain", id]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(&format!("### {id}\n")), "{text}");
        for part in ["**what it catches**", "**fix**", "**configure**", "**suppress**"] {
            assert!(text.contains(part), "{id}: {part} missing");
        }
        assert!(page.contains(&text), "`fluxgate explain {id}` is the text of docs/rules.md");
    }
    let out = fluxgate(&["explain", "image-latest"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no rule 'image-latest'") && err.contains("image-tag-latest"), "{err}");
}

#[test]
fn completions_for_bash_zsh_and_fish_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = fluxgate(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["validate", "publish", "bitbucket-insights", "explain", "--base", "--bitbucket-insights"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // The bash script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fluxgate.bash");
    std::fs::write(&file, fluxgate(&["completions", "bash"]).stdout).unwrap();
    if let Ok(out) = Command::new("bash").arg("-n").arg(&file).output() {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(fluxgate(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_page_prints_or_writes_one_page_per_command() {
    let out = fluxgate(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{}", &page[..80.min(page.len())]);
    assert!(page.contains(".TH fluxgate 1") && page.contains("validate"), "roff page for fluxgate(1)");
    let dir = tempfile::tempdir().unwrap();
    let out = fluxgate(&["man", "--out-dir", s(dir.path())]);
    assert_eq!(out.status.code(), Some(0));
    for p in ["fluxgate.1", "fluxgate-validate.1", "fluxgate-publish-bitbucket-insights.1", "fluxgate-explain.1"] {
        let text = std::fs::read_to_string(dir.path().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(text.contains(".SH"), "{p}");
    }
}
