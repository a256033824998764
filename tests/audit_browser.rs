//! The HTML audit report in a real browser (Debian's headless `chromium`, which
//! `.ci/install-tools` installs): the page of `fixtures/flux-gsf` plus every broken sample and a
//! hostile sample loads without console errors or injected scripts, the numbers it shows are
//! the JSON document's, its filters and sorting work (driven through the page's URL
//! parameters), and a screenshot is saved to `target/audit-screenshot.png` for a person to look
//! at. Skipped, with the reason printed, when chromium is not installed.

mod audit_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use audit_support::*;
use regex::Regex;
use serde_json::Value;

/// How long one chromium run may take before it is killed and the test fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n))).find(|p| p.is_file())
}

/// Runs headless chromium on `url` with `extra` flags; returns (stdout, stderr).
fn run_chromium(exe: &Path, tmp: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir_in(tmp).unwrap();
    let out_path = tmp.join("chromium.out");
    let err_path = tmp.join("chromium.err");
    let mut child = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            assert!(status.success(), "chromium failed ({status}): {stderr}");
            return (stdout, stderr);
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Console output of the page (chromium logs every console message and uncaught exception as
/// `CONSOLE` lines); the report itself logs nothing, so any is a failure.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect()
}

/// Undoes the escaping of an attribute value as chromium serializes it.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// What the page shows for repository text: control characters become symbols.
fn shown(s: &str) -> String {
    fluxgate::audit::html::clean(s)
}

fn attr(dom: &str, id: &str, name: &str) -> String {
    let re = Regex::new(&format!(r#"id="{}"[^>]*?\s{}="([^"]*)""#, regex::escape(id), regex::escape(name))).unwrap();
    let cap = re.captures(dom).unwrap_or_else(|| panic!("no #{id}[{name}] in the page"));
    unescape(&cap[1])
}

fn text_of(dom: &str, id: &str) -> String {
    let re = Regex::new(&format!(r#"id="{}"[^>]*>([^<]*)<"#, regex::escape(id))).unwrap();
    re.captures(dom).unwrap_or_else(|| panic!("no #{id} in the page"))[1].to_string()
}

/// The bars of one chart: name → (findings, errors, warnings, infos, suppressed).
fn bars(dom: &str, chart: &str) -> Vec<(String, [u64; 5])> {
    let start = dom.find(&format!(r#"id="{chart}""#)).unwrap_or_else(|| panic!("no chart {chart}"));
    let end = start + dom[start..].find("</figure>").unwrap();
    let re = Regex::new(
        r#"<g class="bar" data-name="([^"]*)" data-findings="(\d+)" data-errors="(\d+)" data-warnings="(\d+)" data-infos="(\d+)" data-suppressed="(\d+)""#,
    )
    .unwrap();
    re.captures_iter(&dom[start..end])
        .map(|c| (unescape(&c[1]), [2, 3, 4, 5, 6].map(|i| c[i].parse().unwrap())))
        .collect()
}

fn group_numbers(g: &Value) -> [u64; 5] {
    ["findings", "errors", "warnings", "infos", "suppressed"].map(|k| g[k].as_u64().unwrap())
}

#[test]
fn html_report_in_headless_chromium() {
    let Some(exe) = chromium() else {
        println!("skipped: chromium not found on PATH (bash .ci/install-tools installs Debian's chromium)");
        eprintln!("skipped: chromium not found on PATH (bash .ci/install-tools installs Debian's chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    combined_repo(&root);
    let html = tmp.path().join("audit.html");
    let json = tmp.path().join("audit.json");
    let (code, stderr) =
        audit(&root, &["--html", html.to_str().unwrap(), "--json", json.to_str().unwrap(), "--generated-at", "test"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let url = format!("file://{}", html.display());

    // 1. A screenshot for a person to look at.
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/audit-screenshot.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    let (_, err) =
        run_chromium(&exe, tmp.path(), &url, &["--window-size=1400,2200", &format!("--screenshot={}", shot.display())]);
    assert_eq!(console_lines(&err), Vec::<&str>::new(), "console output while taking the screenshot");
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "a real PNG: {} bytes", png.len());
    println!("screenshot: {}", shot.display());

    // 2. The DOM after the page's script ran.
    let (dom, err) = run_chromium(&exe, tmp.path(), &url, &["--dump-dom"]);
    assert_eq!(console_lines(&err), Vec::<&str>::new(), "console errors or messages");
    assert!(dom.contains(r#"data-script="ok""#), "the page's script ran to its end");
    assert!(dom.contains("<title>fluxgate audit</title>"), "no injected script changed the title");
    assert_eq!(dom.matches("<script").count(), 1, "only the report's own script element");
    assert!(!dom.contains("<img") && !dom.contains("<b>"), "no injected element");
    assert!(dom.contains(&shown("&lt;script&gt;document.title='pwned'&lt;/script&gt;")), "hostile name shown as text");

    // The numbers shown are the JSON's.
    let s = &doc["summary"];
    for (id, key) in [
        ("sum-entry-points", "entryPoints"),
        ("sum-entry-points-failed", "entryPointsFailed"),
        ("sum-objects", "objects"),
        ("sum-findings", "findings"),
        ("sum-errors", "errors"),
        ("sum-warnings", "warnings"),
        ("sum-infos", "infos"),
        ("sum-suppressed", "suppressed"),
    ] {
        let want = s[key].as_u64().unwrap().to_string();
        assert_eq!(attr(&dom, id, "data-value"), want, "{id}");
        assert_eq!(text_of(&dom, id), want, "{id} text");
    }
    // Beside a Flux tree that applies none of them, the broken samples report warnings.
    let reported = s["errors"].as_u64().unwrap() + s["warnings"].as_u64().unwrap();
    assert!(reported >= 29, "the broken samples are in the page");
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(dom.matches(r#"<tr class="finding"#).count(), findings.len());
    assert_eq!(text_of(&dom, "findings-shown"), findings.len().to_string());
    assert_eq!(text_of(&dom, "kubernetes-version"), doc["kubernetesVersion"].as_str().unwrap());
    for (chart, key, name_key) in [
        ("chart-rule", "byRule", "rule"),
        ("chart-environment", "byEnvironment", "name"),
        ("chart-team", "byTeam", "name"),
    ] {
        let want: Vec<(String, [u64; 5])> = doc[key]
            .as_array()
            .unwrap()
            .iter()
            .take(if chart == "chart-team" { 25 } else { 40 })
            .map(|g| (shown(g[name_key].as_str().unwrap()), group_numbers(g)))
            .collect();
        assert_eq!(bars(&dom, chart), want, "{chart}");
    }
    for (i, e) in doc["entryPoints"].as_array().unwrap().iter().enumerate() {
        let id = format!("ep-{i}");
        assert_eq!(attr(&dom, &id, "data-name"), shown(e["name"].as_str().unwrap()));
        assert_eq!(attr(&dom, &id, "data-objects"), e["objects"].as_array().unwrap().len().to_string());
        assert_eq!(attr(&dom, &id, "data-findings"), e["findings"].to_string());
    }

    // 3. Filtering and sorting, driven by the page's URL parameters.
    let warnings = findings.iter().filter(|f| f["severity"] == "warning").count();
    let (dom, err) = run_chromium(&exe, tmp.path(), &format!("{url}?severity=warning&sort=6&desc=1"), &["--dump-dom"]);
    assert_eq!(console_lines(&err), Vec::<&str>::new());
    assert_eq!(text_of(&dom, "findings-shown"), warnings.to_string());
    let visible = Regex::new(r#"<tr class="finding[^"]*"([^>]*)>"#).unwrap();
    let rows: Vec<&str> = visible.captures_iter(&dom).map(|c| c.get(1).unwrap().as_str()).collect();
    assert_eq!(rows.len(), findings.len());
    assert_eq!(rows.iter().filter(|r| !r.contains("hidden")).count(), warnings);
    assert!(rows.iter().filter(|r| !r.contains("hidden")).all(|r| r.contains(r#"data-severity="warning""#)));
    assert!(dom.contains(r#"aria-sort="descending""#), "sorted by location, descending");
    // Rows now run by location, descending.
    let loc = Regex::new(r#"<tr class="finding[^>]*>(?:.|\n)*?<td class="wrap" data-sort="([^"]*)""#).unwrap();
    let keys: Vec<String> = loc.captures_iter(&dom).map(|c| unescape(&c[1])).collect();
    assert_eq!(keys.len(), findings.len());
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "rows sorted by location, descending");
}
