//! HelmReleases end to end: a real chart repository served on loopback (an `index.yaml` and
//! archives made with `helm package` at test time from fixtures/helm/), a generated Flux
//! repository using it, and the real `helm` binary. Without helm every test prints
//! `skipped: helm not found` and returns.

mod common;
use common::copy_dir;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fluxgate")
}

/// helm from FLUXGATE_HELM, the tools directory `.ci/install-tools` fills, or PATH.
fn helm() -> Option<PathBuf> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/helm");
    let env = std::env::var_os("FLUXGATE_HELM").map(PathBuf::from);
    let path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("helm")).collect::<Vec<_>>())
        .unwrap_or_default();
    env.into_iter().chain(std::iter::once(tools)).chain(path).find(|p| p.is_file())
}

macro_rules! need_helm {
    () => {
        match helm() {
            Some(h) => h,
            None => {
                eprintln!("skipped: helm not found");
                return;
            }
        }
    };
}

/// A chart repository on loopback that counts the requests it serves.
struct ChartServer {
    url: String,
    requests: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl ChartServer {
    /// Packages fixtures/helm/web-app as versions 1.0.0 and 1.1.0 and serves them.
    fn start(helm: &Path) -> ChartServer {
        let dir = tempfile::tempdir().unwrap();
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/helm/web-app");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut index = String::from("apiVersion: v1\nentries:\n  web-app:\n");
        for version in ["1.0.0", "1.1.0"] {
            let out = Command::new(helm)
                .args(["package", "--version", version, "--destination"])
                .arg(dir.path())
                .arg(&chart)
                .env("HOME", dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let name = format!("web-app-{version}.tgz");
            let bytes = std::fs::read(dir.path().join(&name)).unwrap();
            let digest = fluxgate::helm::cache::sha256_hex(&bytes);
            index.push_str(&format!("    - version: {version}\n      urls: [{name}]\n      digest: {digest}\n"));
        }
        std::fs::write(dir.path().join("index.yaml"), index).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let (root, count) = (dir.path().to_path_buf(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(s.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
                let body = (!path.contains("..")).then(|| std::fs::read(root.join(&path)).ok()).flatten();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(&body));
            }
        });
        ChartServer { url, requests, _dir: dir }
    }

    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A Flux repository whose cluster installs `web-app` from the server with `release_spec`
/// (YAML lines under the HelmRelease's `spec:`, indented two spaces), plus `extra` files.
fn flux_repo(server_url: &str, release_spec: &str, extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(String, String)> = vec![
        (
            "clusters/test/flux-system/gotk-sync.yaml".into(),
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://git.example.com/repo.git\n  ref:\n    branch: main\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/test\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n".into(),
        ),
        (
            "clusters/test/apps.yaml".into(),
            format!(
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: {server_url}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: web-app\n      version: \"1.0.0\"\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n        namespace: flux-system\n{release_spec}"
            ),
        ),
    ];
    for (p, text) in files.iter().map(|(p, t)| (p.as_str(), t.as_str())).chain(extra.iter().copied()) {
        let f = dir.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    dir
}

fn validate(helm: Option<&Path>, root: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut c = Command::new(bin());
    c.args(["validate", "--format", "json"]).args(args).arg(root);
    c.env("FLUXGATE_HELM", helm.map_or_else(|| root.join("no-helm-here"), Path::to_path_buf));
    let out = c.output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code(), json)
}

fn entry<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["entry_points"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap_or_else(|| {
        panic!("no entry point {name}: {:#}", json["entry_points"]);
    })
}

fn findings<'a>(json: &'a Value, rule: &str) -> Vec<&'a Value> {
    json["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == rule).collect()
}

const RELEASE: &str = "clusters/test/apps/web";

#[test]
fn charts_download_once_then_come_from_the_cache_and_offline_needs_the_cache() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    let widget =
        "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: blue\n  namespace: apps\nspec:\n  size: big\n";
    let repo = flux_repo(&server.url, "  values:\n    replicaCount: 2\n", &[("clusters/test/widget.yaml", widget)]);
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();

    // Cold: the index and the archive are downloaded, the chart is rendered and checked.
    let (code, json) = validate(Some(&helm), repo.path(), &["--chart-cache", cache_arg]);
    let e = entry(&json, RELEASE);
    assert_eq!(e["kind"], "helmrelease");
    assert_eq!(e["rendered"], true, "{:#}", json["findings"]);
    let kinds: Vec<&str> = e["objects"].as_array().unwrap().iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"Deployment") && kinds.contains(&"Service") && kinds.contains(&"CustomResourceDefinition"));
    assert!(json["helm"]["version"].as_str().unwrap().starts_with('v'));
    let first = server.count();
    assert_eq!(first, 2, "index.yaml and one archive");

    // The chart's CRD validates the Widget kept in the repository: `size: big` is not an integer.
    let bad: Vec<_> = findings(&json, "schema-invalid-type");
    assert!(
        bad.iter().any(|f| f["location"]["file"] == "clusters/test/widget.yaml" && f["location"]["line"] == 7),
        "{:#}",
        json["findings"]
    );
    assert_eq!(code, Some(1));

    // Warm: an exact version already in the cache makes no request at all.
    let (_, json2) = validate(Some(&helm), repo.path(), &["--chart-cache", cache_arg]);
    assert_eq!(entry(&json2, RELEASE)["rendered"], true);
    assert_eq!(server.count(), first, "a cache hit must not touch the network");
    assert_eq!(json["findings"], json2["findings"]);

    // Offline with an empty cache: a warning, the run goes on, nothing is requested.
    let empty = tempfile::tempdir().unwrap();
    let (code, json3) =
        validate(Some(&helm), repo.path(), &["--chart-cache", empty.path().to_str().unwrap(), "--offline"]);
    assert_eq!(entry(&json3, RELEASE)["rendered"], false);
    let u = findings(&json3, "helm-chart-unavailable");
    assert_eq!(u.len(), 1, "{:#}", json3["findings"]);
    assert_eq!(u[0]["severity"], "warning");
    assert_eq!(u[0]["location"]["file"], "clusters/test/apps.yaml");
    assert!(u[0]["message"].as_str().unwrap().contains("--offline"));
    // Without the chart the Widget has no schema: a warning, not a crash.
    assert!(findings(&json3, "schema-missing").iter().any(|f| f["object"]["kind"] == "Widget"));
    assert_eq!(code, Some(0), "{:#}", json3["findings"]);
    assert_eq!(server.count(), first);

    // `charts pull` fills a cache for offline runs; helm.unavailable makes a miss an error.
    let pulled = tempfile::tempdir().unwrap();
    let p = pulled.path().to_str().unwrap();
    let out = Command::new(bin()).args(["charts", "pull", "--chart-cache", p]).arg(repo.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("web-app@1.0.0"));
    let (_, json4) = validate(Some(&helm), repo.path(), &["--chart-cache", p, "--offline"]);
    assert_eq!(entry(&json4, RELEASE)["rendered"], true, "{:#}", json4["findings"]);
    std::fs::write(repo.path().join(".fluxgate.yaml"), "helm:\n  unavailable: error\n").unwrap();
    let (code, json5) =
        validate(Some(&helm), repo.path(), &["--chart-cache", empty.path().to_str().unwrap(), "--offline"]);
    assert_eq!(findings(&json5, "helm-chart-unavailable")[0]["severity"], "error");
    assert_eq!(code, Some(1));
}

#[test]
fn a_version_range_resolves_to_the_highest_match() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    let repo = flux_repo(&server.url, "", &[]);
    let text = std::fs::read_to_string(repo.path().join("clusters/test/apps.yaml")).unwrap();
    std::fs::write(repo.path().join("clusters/test/apps.yaml"), text.replace("\"1.0.0\"", "\"1.x\"")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["charts", "pull", "--chart-cache", cache.path().to_str().unwrap()])
        .arg(repo.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("web-app-1.1.0.tgz"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let unknown = text.replace("\"1.0.0\"", "\"9.x\"");
    std::fs::write(repo.path().join("clusters/test/apps.yaml"), unknown).unwrap();
    let (_, json) = validate(Some(&helm), repo.path(), &["--chart-cache", cache.path().to_str().unwrap()]);
    let u = findings(&json, "helm-chart-unavailable");
    assert!(u[0]["message"].as_str().unwrap().contains("no version of chart web-app"), "{u:?}");
}

#[test]
fn a_value_of_the_wrong_type_is_caught_by_the_chart_schema_at_its_line() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    let repo = flux_repo(&server.url, "  values:\n    replicaCount: two\n", &[]);
    let cache = tempfile::tempdir().unwrap();
    let (code, json) = validate(Some(&helm), repo.path(), &["--chart-cache", cache.path().to_str().unwrap()]);
    let v = findings(&json, "flux-helm-values-invalid");
    assert_eq!(v.len(), 1, "{:#}", json["findings"]);
    assert_eq!(v[0]["entry_point"], RELEASE);
    assert_eq!(v[0]["location"]["file"], "clusters/test/apps.yaml");
    let line = std::fs::read_to_string(repo.path().join("clusters/test/apps.yaml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("replicaCount: two"))
        .unwrap()
        + 1;
    assert_eq!(v[0]["location"]["line"], line);
    assert!(v[0]["message"].as_str().unwrap().contains("replicaCount"));
    assert!(findings(&json, "helm-render-failed").is_empty());
    assert_eq!(code, Some(1));
}

#[test]
fn a_violation_inside_chart_output_is_reported_against_the_helmrelease() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    // `protocol: HTTP` is not a Service protocol; a post-renderer patch sets a bad replicas.
    let spec = "  values:\n    protocol: HTTP\n  postRenderers:\n    - kustomize:\n        patches:\n          - target:\n              kind: Deployment\n            patch: |\n              - op: replace\n                path: /spec/replicas\n                value: three\n";
    let repo = flux_repo(&server.url, spec, &[]);
    let cache = tempfile::tempdir().unwrap();
    let (code, json) = validate(Some(&helm), repo.path(), &["--chart-cache", cache.path().to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let bad = findings(&json, "schema-invalid-value");
    let svc = bad.iter().find(|f| f["object"]["kind"] == "Service").unwrap_or_else(|| panic!("{:#}", json["findings"]));
    assert_eq!(svc["entry_point"], RELEASE);
    assert_eq!(svc["object"]["namespace"], "apps", "helm installs into the release namespace");
    assert_eq!(svc["location"]["file"], "clusters/test/apps.yaml");
    let replicas = findings(&json, "schema-invalid-type");
    assert!(
        replicas.iter().any(|f| f["object"]["kind"] == "Deployment" && f["entry_point"] == RELEASE),
        "{:#}",
        json["findings"]
    );
    // The message names the field; the location is the values line that produced the value,
    // and a value a post-renderer patch set points into that patch, never line 1.
    let text = std::fs::read_to_string(repo.path().join("clusters/test/apps.yaml")).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(svc["message"].as_str().unwrap().starts_with("spec.ports[0].protocol: "), "{svc:#}");
    assert_eq!(svc["location"]["line"], line_of("protocol: HTTP"), "{svc:#}");
    let r = replicas.iter().find(|f| f["object"]["kind"] == "Deployment").unwrap();
    assert!(r["message"].as_str().unwrap().starts_with("spec.replicas: "), "{r:#}");
    let at = r["location"]["line"].as_u64().unwrap() as usize;
    assert!(at >= line_of("postRenderers:") && at <= line_of("value: three"), "{r:#}");
}

#[test]
fn a_chart_value_no_values_line_explains_points_at_the_chart_line() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    // The image is "{repository}:{tag}": no values line holds the whole text, so a finding on
    // it points at the HelmRelease's `chart:` line, not at the document's first line.
    let spec = "  values:\n    image:\n      tag: latest\n";
    let repo = flux_repo(&server.url, spec, &[]);
    let cache = tempfile::tempdir().unwrap();
    let (_, json) = validate(Some(&helm), repo.path(), &["--chart-cache", cache.path().to_str().unwrap()]);
    let text = std::fs::read_to_string(repo.path().join("clusters/test/apps.yaml")).unwrap();
    let chart_line = text.lines().position(|l| l.trim_start() == "chart: web-app").unwrap() + 1;
    let latest = findings(&json, "image-tag-latest");
    let f = latest.iter().find(|f| f["entry_point"] == RELEASE).unwrap_or_else(|| panic!("{:#}", json["findings"]));
    assert_eq!(f["location"]["file"], "clusters/test/apps.yaml");
    assert_eq!(f["location"]["line"], chart_line, "{f:#}");
    // A policy finding on chart output names the field too, as schema findings do.
    let msg = f["message"].as_str().unwrap();
    assert!(msg.starts_with("spec.template.spec.containers[0].image: "), "{f:#}");
}

#[test]
fn values_from_secrets_never_appear_in_reports() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secrets\n  namespace: apps\nstringData:\n  values.yaml: |\n    region: s3cr3t-zone-42\n";
    let spec = "  valuesFrom:\n    - kind: Secret\n      name: web-secrets\n";
    let repo = flux_repo(&server.url, spec, &[("clusters/test/secret.yaml", secret)]);
    let cache = tempfile::tempdir().unwrap();
    let (code, json) = validate(Some(&helm), repo.path(), &["--chart-cache", cache.path().to_str().unwrap()]);
    let failed = findings(&json, "helm-render-failed");
    assert_eq!(failed.len(), 1, "{:#}", json["findings"]);
    let msg = failed[0]["message"].as_str().unwrap();
    assert!(msg.contains("unsupported region ***"), "{msg}");
    assert!(!json.to_string().contains("s3cr3t-zone-42"));
    assert_eq!(code, Some(1));
}

#[test]
fn without_helm_releases_are_reported_as_skipped() {
    let repo = flux_repo("http://127.0.0.1:9", "", &[]);
    let (code, json) = validate(None, repo.path(), &["--offline"]);
    let s = findings(&json, "helm-skipped");
    assert_eq!(s.len(), 1, "{:#}", json["findings"]);
    assert_eq!(s[0]["severity"], "warning");
    assert_eq!(s[0]["message"], "1 HelmRelease not rendered: helm not found; install helm or set helm.binary");
    assert!(s[0]["entry_point"].is_null() && s[0]["help"].as_str().unwrap().contains(RELEASE));
    // Skipped is not failed: the release is no entry point of the report.
    assert!(json["entry_points"].as_array().unwrap().iter().all(|e| e["name"] != RELEASE));
    assert_eq!(json["summary"]["entry_points_failed"], 0);
    assert_eq!(json["summary"]["entry_points_skipped"], 1);
    assert!(json.get("helm").is_none());
    assert_eq!(code, Some(0));
}

#[test]
fn the_flux_gsf_chart_in_the_repository_renders_without_errors() {
    let helm = need_helm!();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-gsf");
    let cache = tempfile::tempdir().unwrap();
    let (code, json) = validate(Some(&helm), &root, &["--chart-cache", cache.path().to_str().unwrap()]);
    assert_eq!(json["summary"]["errors"], 0, "{:#}", json["findings"]);
    assert_eq!(code, Some(0));
    for env in ["development", "staging", "production"] {
        let e = entry(&json, &format!("clusters/{env}/status-page/status-page"));
        assert_eq!(e["rendered"], true);
        let kinds: Vec<&str> = e["objects"].as_array().unwrap().iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "StatusCheck").count(), 2, "valuesFrom's checks: {kinds:?}");
        assert!(!kinds.contains(&"Pod"), "test hooks are skipped unless test.enable");
        // HelmRepository charts are not in the (offline) cache: warnings, not errors.
        let u = format!("clusters/{env}/ingress-nginx/ingress-nginx");
        assert!(findings(&json, "helm-chart-unavailable").iter().any(|f| f["entry_point"] == u.as_str()));
    }
}

/// The README's numbers: 20 HelmReleases, cold cache, warm cache, and re-rendering with the
/// charts cached. `cargo test --release --test helm -- --ignored --nocapture measure`.
#[test]
#[ignore]
fn measure_twenty_releases() {
    let helm = need_helm!();
    let server = ChartServer::start(&helm);
    let mut releases = String::new();
    for i in 0..20 {
        releases.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{i}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web-{i}\n  namespace: team-{i}\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: web-app\n      version: \"1.x\"\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n        namespace: flux-system\n  values:\n    replicaCount: {}\n",
            i % 5 + 1
        ));
    }
    let repo = flux_repo(&server.url, "", &[("clusters/test/teams.yaml", &releases)]);
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    let time = |label: &str| {
        let start = std::time::Instant::now();
        let (_, json) = validate(Some(&helm), repo.path(), &["--chart-cache", c]);
        let ms = start.elapsed().as_millis();
        let rendered = json["entry_points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "helmrelease" && e["rendered"] == true)
            .count();
        println!("{label}: {ms} ms, {rendered} HelmReleases rendered, {} requests so far", server.count());
        assert_eq!(rendered, 21);
    };
    time("cold");
    time("warm");
    std::fs::remove_dir_all(cache.path().join("renders")).unwrap();
    time("rerender (charts cached)");
}

#[test]
fn a_change_to_a_chart_in_the_repository_checks_the_helmreleases_that_use_it() {
    let helm = need_helm!();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-gsf"), dir.path());
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    let values = dir.path().join("charts/status-page/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, text.replace("tag: \"1.8.2\"", "tag: \"\"")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (code, json) =
        validate(Some(&helm), dir.path(), &["--base", "HEAD", "--chart-cache", cache.path().to_str().unwrap()]);
    let names: Vec<&str> =
        json["entry_points"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for env in ["development", "staging", "production"] {
        assert!(names.contains(&format!("clusters/{env}/status-page/status-page").as_str()), "{names:?}");
    }
    assert!(!names.iter().any(|n| n.starts_with("apps/")), "{names:?}");
    // The chart default `tag: ""` fails the chart's schema in every cluster.
    assert_eq!(findings(&json, "flux-helm-values-invalid").len(), 3, "{:#}", json["findings"]);
    assert_eq!(code, Some(1));
}
