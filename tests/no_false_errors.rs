//! Patterns of real Flux repositories (`fixtures/no-false-errors/`) that must not be errors:
//! each case reports exactly the errors and warnings its `EXPECTED` file lists.

use std::path::Path;
use std::process::Command;

/// `severity rule file:line` of every error and warning (not `helm-*`, which depends on the
/// machine), with the message, sorted.
fn findings(dir: &Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["validate", "--offline", "--format", "json"])
        .arg(dir)
        .output()
        .expect("fluxgate runs");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let mut got: Vec<(String, String)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info" && !f["rule"].as_str().unwrap_or("").starts_with("helm-"))
        .map(|f| {
            let loc = &f["location"];
            let key = format!(
                "{} {} {}:{}",
                f["severity"].as_str().unwrap_or(""),
                f["rule"].as_str().unwrap_or(""),
                loc["file"].as_str().unwrap_or("-"),
                loc["line"]
            );
            (key, f["message"].as_str().unwrap_or("").to_string())
        })
        .collect();
    got.sort();
    got
}

#[test]
fn each_pattern_reports_exactly_its_expected_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/no-false-errors");
    let mut cases: Vec<_> = std::fs::read_dir(&root).expect("fixtures").flatten().map(|e| e.path()).collect();
    cases.retain(|p| p.is_dir());
    cases.sort();
    assert!(cases.len() >= 6, "{cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let expected = std::fs::read_to_string(case.join("EXPECTED")).expect("EXPECTED");
        let mut want: Vec<(String, String)> = expected
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.splitn(4, ' ');
                let key = [parts.next(), parts.next(), parts.next()].map(|p| p.unwrap_or("")).join(" ");
                (key, parts.next().unwrap_or("").to_string())
            })
            .collect();
        want.sort();
        let got = findings(case);
        let keys = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        if keys(&want) != keys(&got) {
            failures.push(format!("{}:\n  want {:?}\n  got  {:?}", case.display(), keys(&want), got));
            continue;
        }
        for ((k, text), (_, message)) in want.iter().zip(&got) {
            if !message.contains(text.as_str()) {
                failures.push(format!("{}: {k}: message {message:?} lacks {text:?}", case.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The parts of a Flux tree that nothing applies (`16-disabled-app`): a namespace directory
/// commented out of the tree and an app moved to `archive/`. Their plain renders' findings
/// (a child Kustomization missing what the parent's patch adds, a deleted Secret file, a
/// component path that now leaves the repository) are infos that name the directory Flux
/// decides, not errors.
#[test]
fn disabled_parts_of_the_tree_are_infos_that_say_why() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/no-false-errors/16-disabled-app");
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["validate", "--offline", "--format", "json"])
        .arg(&dir)
        .output()
        .expect("fluxgate runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let infos: Vec<(String, String, String)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "info")
        .map(|f| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            (s(&f["rule"]), s(&f["entry_point"]), s(&f["message"]))
        })
        .collect();
    let has = |rule: &str, ep: &str, text: &str| infos.iter().any(|(r, e, m)| r == rule && e == ep && m.contains(text));
    assert!(
        has(
            "schema-required",
            "kubernetes/apps/chat",
            "not applied: kubernetes/apps/chat is below kubernetes/apps, which Flux Kustomization"
        ),
        "{infos:#?}"
    );
    assert!(
        has(
            "file-not-found",
            "kubernetes/apps/chat/bot/app",
            "not applied: kubernetes/apps/chat/bot/app is below kubernetes/apps"
        ),
        "{infos:#?}"
    );
    assert!(
        has(
            "path-outside-root",
            "archive/wiki/app",
            "not applied: archive/wiki/app is below archive/wiki, which holds Flux Kustomization"
        ),
        "{infos:#?}"
    );
    assert!(has("flux-not-applied", "archive/wiki/flux-system/wiki", "does not exist here"), "{infos:#?}");
    assert!(
        has(
            "object-invalid",
            "kubernetes/apps/web/metrics",
            "not applied: kubernetes/apps/web/metrics is below kubernetes/apps/web"
        ),
        "{infos:#?}"
    );
    assert!(
        infos.iter().any(|(r, _, m)| r == "flux-not-applied"
            && m.contains("Kustomization flux-system/metrics is in kubernetes/apps")),
        "{infos:#?}"
    );
}
