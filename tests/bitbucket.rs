//! Bitbucket Code Insights end to end: `validate --bitbucket-insights` writes the report in the
//! REST API's shapes with repository-relative paths, and `publish bitbucket-insights` sends it
//! to a loopback server that records every request.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fluxgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgate")).args(args).output().unwrap()
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap().status.success();
    assert!(ok, "git {args:?}");
}

/// The broken samples in `gitops/` of a fresh git repository: ROOT is a subdirectory.
fn repo_with_subdirectory_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("gitops");
    common::copy_dir(&fixture("broken"), &root);
    git(dir.path(), &["init", "-q"]);
    (dir, root)
}

fn insights_of(root: &Path, extra: &[&str]) -> (Value, Output) {
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("insights.json");
    let mut args = vec!["validate", s(root), "--bitbucket-insights", s(&file), "--format", "json"];
    args.extend_from_slice(extra);
    let out = fluxgate(&args);
    let v = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    (v, out)
}

#[test]
fn validate_writes_the_report_and_annotations_with_repository_paths() {
    let (_dir, root) = repo_with_subdirectory_root();
    let (v, out) = insights_of(
        &root,
        &["--insights-link", "https://ci.example.com/b/1", "--insights-rules-url", "https://docs.example.com/rules"],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["key"], "fluxgate");
    let report = &v["report"];
    assert_eq!(report["result"], "FAIL");
    assert_eq!(report["link"], "https://ci.example.com/b/1");
    assert!(report["data"].as_array().unwrap().len() <= 6);
    assert_eq!(report["data"][0]["value"], json["summary"]["errors"]);
    let annotations = v["annotations"].as_array().unwrap();
    assert!(!annotations.is_empty());
    for a in annotations {
        if let Some(p) = a["path"].as_str() {
            assert!(p.starts_with("gitops/"), "path relative to the git repository: {a}");
            assert!(root.parent().unwrap().join(p).exists(), "{p}");
        }
        assert!(["HIGH", "MEDIUM", "LOW"].contains(&a["severity"].as_str().unwrap()));
        assert!(a["link"].as_str().unwrap().starts_with("https://docs.example.com/rules#"));
        assert!(a["message"].as_str().unwrap().encode_utf16().count() <= 2000);
    }
    // The most severe come first.
    assert_eq!(annotations[0]["severity"], "HIGH");
}

#[test]
fn without_git_paths_are_relative_to_the_root() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture("broken/06-duplicate-object"), dir.path());
    let (v, _) = insights_of(dir.path(), &[]);
    let a = &v["annotations"][0];
    assert!(!a["path"].as_str().unwrap().starts_with('/'), "{a}");
    assert!(dir.path().join(a["path"].as_str().unwrap()).exists(), "{a}");
    assert!(a.get("link").is_none());
}

#[test]
fn insights_links_must_be_http_urls() {
    let out = fluxgate(&["validate", ".", "--bitbucket-insights", "x.json", "--insights-link", "javascript:alert(1)"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http"));
}
