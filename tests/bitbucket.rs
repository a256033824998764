//! Bitbucket Code Insights end to end: `validate --bitbucket-insights` writes the report in the
//! REST API's shapes with repository-relative paths, and `publish bitbucket-insights` sends it
//! to a loopback server that records every request.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use common::{fixture, fluxgate, s};

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

/// One request the loopback Bitbucket received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: Value,
}

/// A loopback HTTP server answering with `statuses` in order (then 200/204), recording every
/// request. The accept thread ends with the test process.
struct Bitbucket {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

fn bitbucket(statuses: &[u16]) -> Bitbucket {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/bb", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (log, mut script) = (requests.clone(), statuses.to_vec());
    script.reverse();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
            let (mut len, mut auth, mut content_type) = (0, None, None);
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "authorization" => auth = Some(v.trim().to_string()),
                    "content-type" => content_type = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let body = if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap() };
            log.lock().unwrap().push(Recorded { method: method.clone(), path, auth, content_type, body });
            let status = script.pop().unwrap_or(if method == "PUT" { 200 } else { 204 });
            let payload = if status >= 400 {
                format!(r#"{{"errors":[{{"message":"refused with {status}"}}]}}"#)
            } else if status == 200 {
                "{}".to_string()
            } else {
                String::new()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    Bitbucket { url, requests }
}

const TOKEN: &str = "s3cret-token-value";
const REPORT: &str = "/bb/rest/insights/1.0/projects/PLAT/repos/flux-gsf/commits/0123abc/reports/fluxgate";

fn publish(file: &Path, bb: &Bitbucket, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluxgate"));
    cmd.args(["publish", "bitbucket-insights", s(file), "--server", &bb.url])
        .args(["--project", "PLAT", "--repo", "flux-gsf", "--commit", "0123abc", "--timeout", "10"])
        .args(extra)
        .env_remove("BITBUCKET_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains(TOKEN), "the token never shows: {all}");
    out
}

/// A Code Insights file with `n` annotations, as validate writes them.
fn insights_file(dir: &Path, n: usize) -> PathBuf {
    let annotations: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({"path": format!("apps/{i}.yaml"), "line": 3, "message": "[image-tag-latest] x",
                "severity": "MEDIUM", "type": "CODE_SMELL", "externalId": format!("fluxgate-{i}")})
        })
        .collect();
    let v = serde_json::json!({"key": "fluxgate",
        "report": {"title": "fluxgate", "details": "d", "result": "PASS", "reporter": "fluxgate", "data": []},
        "annotations": annotations});
    let p = dir.join("insights.json");
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn publish_puts_the_report_replaces_annotations_and_posts_every_finding() {
    let (dir, root) = repo_with_subdirectory_root();
    let file = dir.path().join("insights.json");
    let out = fluxgate(&["validate", s(&root), "--bitbucket-insights", s(&file), "--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let open = json["findings"].as_array().unwrap().iter().filter(|f| f["suppressed"].is_null()).count();
    let bb = bitbucket(&[]);
    let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reqs = bb.requests.lock().unwrap().clone();
    let methods: Vec<&str> = reqs.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(&methods[..2], ["PUT", "DELETE"]);
    assert!(methods[2..].iter().all(|m| *m == "POST") && methods.len() == 2 + open.div_ceil(100));
    for r in &reqs {
        assert_eq!(r.auth.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    }
    assert_eq!(reqs[0].path, REPORT);
    assert_eq!(reqs[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(reqs[0].body["result"], "FAIL");
    assert_eq!(reqs[0].body["title"], "fluxgate");
    assert!(reqs[0].body["data"].as_array().unwrap().len() <= 6);
    assert_eq!(reqs[1].path, format!("{REPORT}/annotations"));
    let posted: Vec<&Value> = reqs[2..].iter().flat_map(|r| r.body["annotations"].as_array().unwrap()).collect();
    assert_eq!(posted.len(), open, "every open finding is annotated");
    assert!(posted.iter().filter_map(|a| a["path"].as_str()).all(|p| p.starts_with("gitops/")));
    assert!(stderr(&out).contains(&format!("with {open} annotations")));
}

#[test]
fn annotations_go_in_batches_of_one_hundred() {
    let dir = tempfile::tempdir().unwrap();
    let file = insights_file(dir.path(), 1000);
    let bb = bitbucket(&[]);
    let out = publish(&file, &bb, &[("OTHER_TOKEN", TOKEN)], &["--token-env", "OTHER_TOKEN"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reqs = bb.requests.lock().unwrap().clone();
    let sizes: Vec<usize> =
        reqs.iter().filter(|r| r.method == "POST").map(|r| r.body["annotations"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![100; 10]);
    let ids: std::collections::BTreeSet<&str> = reqs
        .iter()
        .filter(|r| r.method == "POST")
        .flat_map(|r| r.body["annotations"].as_array().unwrap())
        .map(|a| a["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1000);
    // More than Bitbucket accepts is refused before any request.
    let file = insights_file(dir.path(), 1001);
    let bb = bitbucket(&[]);
    let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at most 1000"));
    assert!(bb.requests.lock().unwrap().is_empty());
}

#[test]
fn server_errors_are_retried_then_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = insights_file(dir.path(), 3);
    let bb = bitbucket(&[503, 502]);
    let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let methods: Vec<String> = bb.requests.lock().unwrap().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["PUT", "PUT", "PUT", "DELETE", "POST"]);
    assert!(stderr(&out).contains("2 retried"));
    // Three 5xx in a row: give up with one line.
    let bb = bitbucket(&[500, 500, 500]);
    let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(bb.requests.lock().unwrap().len(), 3);
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("PUT http://") && err.contains("HTTP 500: refused with 500"), "{err}");
}

#[test]
fn refused_requests_exit_2_with_one_line_and_no_retry() {
    let dir = tempfile::tempdir().unwrap();
    let file = insights_file(dir.path(), 3);
    for (status, says) in [(401, "token"), (403, "permission"), (404, "--commit")] {
        let bb = bitbucket(&[status]);
        let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(bb.requests.lock().unwrap().len(), 1, "{status} is not retried");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("HTTP {status}")) && err.contains(says), "{err}");
    }
    // A refused annotation batch stops the run too.
    let bb = bitbucket(&[200, 204, 400]);
    let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("POST http://"));
}

#[test]
fn no_token_or_no_server_means_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = insights_file(dir.path(), 1);
    let bb = bitbucket(&[]);
    let out = publish(&file, &bb, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("BITBUCKET_TOKEN"));
    // Nothing listens: connection failures are retried, then reported.
    let gone = Bitbucket { url: "http://127.0.0.1:9/bb".into(), requests: bb.requests.clone() };
    let out = publish(&file, &gone, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("PUT http://127.0.0.1:9/"), "{}", stderr(&out));
    assert!(bb.requests.lock().unwrap().is_empty());
    // A file that is not a Code Insights report.
    std::fs::write(&file, "{}").unwrap();
    let out = publish(&file, &bb, &[("BITBUCKET_TOKEN", TOKEN)], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a Code Insights report"));
}
