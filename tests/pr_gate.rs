//! The pull-request gate: `validate --base REF` checks only what a change affects, and
//! `diff --base REF` shows what it does to the rendered objects. Each test builds a throwaway
//! git repository from fixtures/flux-gsf.

mod common;
use common::copy_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fluxgate")
}

fn have_git() -> bool {
    let ok = Command::new("git").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: `git` is not installed");
    }
    ok
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A git repository holding a copy of flux-gsf under `sub` (`""`: at the top), one commit.
fn repo(sub: &str) -> (tempfile::TempDir, PathBuf) {
    fixture_repo("flux-gsf", sub)
}

/// A git repository holding a copy of `fixtures/NAME` under `sub`, one commit.
fn fixture_repo(name: &str, sub: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = if sub.is_empty() { tmp.path().to_path_buf() } else { tmp.path().join(sub) };
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name), &root);
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-qm", "base"]);
    (tmp, root)
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let p = root.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn run(root: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin()).args(args).arg(root).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn validate(root: &Path, base: &str) -> serde_json::Value {
    let (code, stdout, stderr) = run(root, &["validate", "--base", base, "--format", "json"]);
    assert!(code == Some(0) || code == Some(1), "exit {code:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v["entry_points"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
}

const WEB_FRONTEND_BASE: &[&str] = &[
    "apps/base/web-frontend",
    "apps/development",
    "apps/development/web-frontend",
    "apps/production",
    "apps/production/web-frontend",
    "apps/staging",
    "apps/staging/web-frontend",
    "clusters/development/flux-system/apps",
    "clusters/production/flux-system/apps",
    "clusters/staging/flux-system/apps",
];

#[test]
fn base_edit_selects_its_overlays_aggregations_and_flux_apps() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    edit(&root, "apps/base/web-frontend/deployment.yaml", "revisionHistoryLimit: 5", "revisionHistoryLimit: 7");
    // Uncommitted: the working tree counts.
    let start = Instant::now();
    let v = validate(&root, "HEAD");
    println!("validate --base for a one-file change on flux-gsf: {:?}", start.elapsed());
    assert_eq!(names(&v), WEB_FRONTEND_BASE);
    assert_eq!(v["changes"]["changed_files"], serde_json::json!(["apps/base/web-frontend/deployment.yaml"]));
    assert_eq!(v["summary"]["errors"], 0, "{v}");
    // Committed: the same against the parent.
    git(&root, &["commit", "-qam", "edit"]);
    assert_eq!(names(&validate(&root, "HEAD~1")), WEB_FRONTEND_BASE);
    // Nothing changed: nothing to check.
    assert!(names(&validate(&root, "HEAD")).is_empty());
}

#[test]
fn overlay_edit_selects_the_overlay_its_aggregation_and_one_cluster() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    edit(&root, "apps/production/web-frontend/kustomization.yaml", "newTag: 1.14.2", "newTag: 1.14.3");
    git(&root, &["commit", "-qam", "bump"]);
    assert_eq!(
        names(&validate(&root, "HEAD~1")),
        ["apps/production", "apps/production/web-frontend", "clusters/production/flux-system/apps"]
    );
}

/// Renaming a Deployment in a base breaks every overlay whose component patches it; the
/// error points into the component, which did not change, so only the files the failed
/// render read before failing (the base's) connect it to the change.
#[test]
fn base_rename_selects_overlays_whose_component_patch_broke() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = fixture_repo("gate-components", "");
    edit(&root, "base/cart.yaml", "  name: cart\n", "  name: basket\n");
    let v = validate(&root, "HEAD");
    // The root overlay (named `.`) renders the base too.
    assert_eq!(names(&v), [".", "base", "overlays/test-all", "overlays/test-cache", "overlays/test-flags"]);
    let failed: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "patch-target-not-found")
        .map(|f| f["entry_point"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["overlays/test-all", "overlays/test-cache"], "the component's patch lost its target");
    // Only a component changes: the overlays that use it, not the base.
    git(&root, &["checkout", "-q", "--", "."]);
    edit(&root, "components/frontend-flags/kustomization.yaml", "beta", "gamma");
    assert_eq!(names(&validate(&root, "HEAD")), ["overlays/test-all", "overlays/test-flags"]);
}

#[test]
fn deleted_overlay_is_reported_removed_and_added_files_count() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    std::fs::remove_dir_all(root.join("apps/staging/search-indexer")).unwrap();
    edit(&root, "apps/staging/kustomization.yaml", "  - search-indexer\n", "");
    // A new, untracked overlay is checked too.
    std::fs::create_dir_all(root.join("apps/staging/extra")).unwrap();
    std::fs::write(
        root.join("apps/staging/extra/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: storefront\nconfigMapGenerator:\n  - name: extra\n    literals: [a=b]\n",
    )
    .unwrap();
    let v = validate(&root, "HEAD");
    // The base no overlay uses any more is now a leaf (leaf-only checks apply): checked too.
    assert_eq!(
        names(&v),
        ["apps/base/search-indexer", "apps/staging", "apps/staging/extra", "clusters/staging/flux-system/apps"]
    );
    assert_eq!(v["changes"]["removed_entry_points"], serde_json::json!(["apps/staging/search-indexer"]));
    let removed: Vec<_> =
        v["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "entry-point-removed").collect();
    assert_eq!(removed.len(), 1, "{v}");
    assert_eq!(removed[0]["severity"], "info");
    assert_eq!(removed[0]["entry_point"], "apps/staging/search-indexer");
}

#[test]
fn config_change_checks_everything() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    let (_, full, _) = run(&root, &["validate", "--format", "json"]);
    let full: serde_json::Value = serde_json::from_str(&full).unwrap();
    std::fs::write(root.join(".fluxgate.yaml"), "ignore: []\n").unwrap();
    let v = validate(&root, "HEAD");
    assert_eq!(names(&v), names(&full));
    assert_eq!(v["changes"]["everything"], ".fluxgate.yaml changed");
}

#[test]
fn root_in_a_subdirectory_of_the_work_tree() {
    if !have_git() {
        return;
    }
    let (tmp, root) = repo("deploy/gitops");
    edit(&root, "apps/base/web-frontend/deployment.yaml", "revisionHistoryLimit: 5", "revisionHistoryLimit: 7");
    // A change outside the root is not the root's business.
    std::fs::write(tmp.path().join("NOTES.md"), "x\n").unwrap();
    assert_eq!(names(&validate(&root, "HEAD")), WEB_FRONTEND_BASE);
    let (code, stdout, stderr) = run(&root, &["diff", "--base", "HEAD"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("+  revisionHistoryLimit: 7"), "{stdout}");
}

#[test]
fn bad_ref_or_no_work_tree_is_exit_2() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    let (code, _, stderr) = run(&root, &["validate", "--base", "no-such-ref"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a valid git revision"), "{stderr}");
    let plain = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(plain.path(), &["diff", "--base", "HEAD"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn diff_shows_changes_in_every_format_and_masks_secrets() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    let secret = |value: &str, tier: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-frontend-token\n  labels:\n    app.kubernetes.io/name: web-frontend\n    tier: {tier}\ndata:\n  token: {value}\n"
        )
    };
    let dir = root.join("apps/production/web-frontend");
    std::fs::write(dir.join("secret.yaml"), secret("c2VjcmV0LW9uZQ==", "a")).unwrap();
    edit(
        &root,
        "apps/production/web-frontend/kustomization.yaml",
        "  - ../../base/web-frontend\n",
        "  - ../../base/web-frontend\n  - secret.yaml\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "secret"]);
    std::fs::write(dir.join("secret.yaml"), secret("c2VjcmV0LXR3bw==", "b")).unwrap();
    edit(&root, "apps/production/web-frontend/kustomization.yaml", "newTag: 1.14.2", "newTag: 1.14.3");

    let (code, text, stderr) = run(&root, &["diff", "--base", "HEAD"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(text.contains("=== apps/production/web-frontend (kustomize): changed"), "{text}");
    assert!(text.contains(":1.14.3") && text.contains(":1.14.2"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "secret value leaked:\n{text}");
    assert!(text.contains("masked (secret) values changed too"), "{text}");

    let (_, md, _) = run(&root, &["diff", "--base", "HEAD", "--format", "markdown"]);
    assert!(md.contains("<details><summary><code>apps/production/web-frontend</code>"), "{md}");
    assert!(md.contains("```diff") && md.contains("</details>"), "{md}");
    assert!(md.contains("#### production\n"), "grouped by environment: {md}");
    assert!(!md.contains("c2VjcmV0"), "{md}");

    let (_, json, _) = run(&root, &["diff", "--base", "HEAD", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["version"], 1);
    let ep =
        v["entry_points"].as_array().unwrap().iter().find(|e| e["name"] == "apps/production/web-frontend").unwrap();
    assert_eq!(ep["status"], "changed");
    let s = ep["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Secret").unwrap();
    assert_eq!(s["change"], "changed");
    assert_eq!(s["masked_values_changed"], true);

    // A tiny limit leaves diffs out, with a note.
    let (_, small, _) = run(&root, &["diff", "--base", "HEAD", "--max-bytes", "10"]);
    assert!(small.contains("omitted: the report reached its size limit of 10 bytes"), "{small}");

    // validate --diff-markdown writes the same Markdown.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("diff.md");
    let (code, _, stderr) = run(&root, &["validate", "--base", "HEAD", "--diff-markdown", file.to_str().unwrap()]);
    assert!(code == Some(0) || code == Some(1), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), md);
}

#[test]
fn diff_lists_only_entry_points_that_change_and_counts_the_rest() {
    if !have_git() {
        return;
    }
    let (_tmp, root) = repo("");
    // A comment changes no rendered object, but every overlay using the base is affected.
    let file = root.join("apps/base/web-frontend/deployment.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# reviewed\n{text}")).unwrap();
    edit(&root, "apps/production/web-frontend/kustomization.yaml", "newTag: 1.14.2", "newTag: 1.14.3");
    let (code, md, stderr) = run(&root, &["diff", "--base", "HEAD", "--format", "markdown"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, json, _) = run(&root, &["diff", "--base", "HEAD", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let eps = v["entry_points"].as_array().unwrap();
    let unchanged = eps.iter().filter(|e| e["status"] == "unchanged").count();
    assert!(unchanged > 0, "{json}");
    assert_eq!(md.matches("<details>").count(), eps.len() - unchanged, "{md}");
    assert!(md.contains(&format!("_{unchanged} affected entry points unchanged._")), "{md}");
    assert!(eps.iter().filter(|e| e["status"] == "changed").all(|e| e["group"] == "production"), "{json}");
    let (_, text, _) = run(&root, &["diff", "--base", "HEAD"]);
    assert!(text.contains(&format!("{unchanged} affected entry points unchanged")), "{text}");
    assert!(text.contains("\n## production\n"), "{text}");
}
