//! `--cluster` end to end against a fake API server on loopback (`cluster_support`): kubeconfig
//! contexts, token and exec-plugin auth, `schemas pull --cluster` into empty and populated
//! catalogs, and the one-line exit-2 errors (401, 403, refused, timeout). Every test ends with
//! the read-only proof: the server saw only GETs.

mod cluster_support;
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cluster_support::{FakeApi, Running, crd, kubeconfig, kubeconfig_with};
use common::s;

const TOKEN: &str = "t0ken-of-the-ci-user";

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluxgate"));
    cmd.args(args).env_remove("KUBECONFIG").env_remove("KUBERNETES_SERVICE_HOST");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A server with two CRDs (one with an unserved version) and the token it accepts.
fn server() -> FakeApi {
    let mut api = FakeApi::new();
    api.token = Some(TOKEN.into());
    api.add(crd("example.com", "Widget", "widgets", &[("v1", true), ("v1alpha1", false)], "size", "integer"));
    api.add(crd("acme.io", "Gadget", "gadgets", &[("v2", true), ("v1", true)], "color", "string"));
    api.add(crd("acme.io", "Gizmo", "gizmos", &[("v1", true)], "mode", "string"));
    api
}

fn token_user() -> String {
    format!("    token: {TOKEN}")
}

fn pull(root: &Path, kubeconfig: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["schemas", "pull", "--cluster", "--root", s(root), "--kubeconfig", s(kubeconfig)];
    args.extend_from_slice(extra);
    run(&args, &[])
}

fn catalog_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let cat = root.join(".fluxgate/schemas");
    for g in std::fs::read_dir(&cat).unwrap() {
        let g = g.unwrap();
        if g.file_type().unwrap().is_dir() {
            for f in std::fs::read_dir(g.path()).unwrap() {
                out.push(format!("{}/{}", g.file_name().to_string_lossy(), f.unwrap().file_name().to_string_lossy()));
            }
        } else {
            out.push(g.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

#[test]
fn pull_writes_one_file_per_served_version_and_records_the_version() {
    let api = server().start();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let out = pull(dir.path(), &kc, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        catalog_files(dir.path()),
        [
            "acme.io/Gadget_v1.yaml",
            "acme.io/Gadget_v2.yaml",
            "acme.io/Gizmo_v1.yaml",
            "example.com/Widget_v1.yaml",
            "kubernetes-version"
        ]
    );
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("added").count(), 5, "{stdout}");
    assert!(stdout.contains("3 CRDs, 4 served versions from context fake"), "{stdout}");
    assert!(stdout.contains("(Kubernetes 1.35, v1.35.2-gke.1000)"), "{stdout}");
    assert_eq!(std::fs::read_to_string(dir.path().join(".fluxgate/schemas/kubernetes-version")).unwrap(), "1.35\n");
    let widget = std::fs::read_to_string(dir.path().join(".fluxgate/schemas/example.com/Widget_v1.yaml")).unwrap();
    assert!(widget.contains("kind: CustomResourceDefinition") && widget.contains("size"), "{widget}");
    for gone in ["managedFields", "status:", "uid", "resourceVersion", "conversion", "v1alpha1"] {
        assert!(!widget.contains(gone), "{gone} in {widget}");
    }
    // The CRD list is paged (two per page here) and every request carries the token.
    let reqs = api.requests();
    assert!(reqs.iter().any(|r| r.path.contains("continue=2")), "{reqs:?}");
    assert!(reqs.iter().all(|r| r.auth.as_deref() == Some(&format!("Bearer {TOKEN}"))), "{reqs:?}");
    api.assert_read_only();
}

#[test]
fn pull_again_changes_nothing_and_a_changed_crd_is_updated() {
    let api = server().start();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    assert_eq!(pull(dir.path(), &kc, &[]).status.code(), Some(0));
    let again = text(&pull(dir.path(), &kc, &[]).stdout);
    assert_eq!(again.matches("unchanged").count(), 5, "{again}");
    assert!(again.contains("; 0 files changed"), "{again}");
    api.assert_read_only();

    // Another cluster: a new schema for Widget, another version.
    let mut changed = server();
    changed.minor = "34".into();
    changed.add(crd("example.com", "Widget", "widgets", &[("v1", true)], "size", "string"));
    let api2 = changed.start();
    let kc2 = kubeconfig(dir.path(), &api2.url, &token_user());
    let out = text(&pull(dir.path(), &kc2, &[]).stdout);
    assert!(out.contains("updated   ") && out.contains("Widget_v1.yaml"), "{out}");
    assert!(out.contains("updated") && out.contains("kubernetes-version"), "{out}");
    assert!(out.contains("; 2 files changed"), "{out}");
    api2.assert_read_only();
}

#[test]
fn pull_into_a_populated_catalog_keeps_other_files_and_validate_targets_the_recorded_version() {
    let api = server().start();
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join(".fluxgate/schemas/other.io/Thing_v1.yaml");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::write(&own, "kept: true\n").unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    assert_eq!(pull(dir.path(), &kc, &[]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&own).unwrap(), "kept: true\n");
    let list = run(&["schemas", "list", s(dir.path())], &[]);
    let listed = text(&list.stdout);
    assert!(listed.contains("built-in kinds: Kubernetes 1.35"), "{listed}");
    assert!(listed.contains("example.com/v1") && listed.contains("Widget"), "{listed}");
    // The config's kubernetesVersion wins over the recorded one.
    std::fs::write(dir.path().join(".fluxgate.yaml"), "kubernetesVersion: \"1.36\"\n").unwrap();
    let listed = text(&run(&["schemas", "list", s(dir.path())], &[]).stdout);
    assert!(listed.contains("built-in kinds: Kubernetes 1.36"), "{listed}");
    api.assert_read_only();
}

#[test]
fn an_exec_plugin_supplies_the_token() {
    let api = server().start();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("auth-plugin.sh");
    let seen = dir.path().join("exec-info.json");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nprintf '%s' \"$KUBERNETES_EXEC_INFO\" > \"{}\"\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\",\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}}}' \"$FAKE_TOKEN\"\n",
            seen.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&plugin).status().unwrap();
    let user = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ./auth-plugin.sh\n      env: [{{name: FAKE_TOKEN, value: {TOKEN}}}]\n      interactiveMode: Never\n      provideClusterInfo: true"
    );
    let kc = kubeconfig(dir.path(), &api.url, &user);
    let out = run(&["schemas", "pull", "--cluster", "--root", s(dir.path())], &[("KUBECONFIG", s(&kc))]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(info["spec"]["interactive"], false);
    assert_eq!(info["spec"]["cluster"]["server"], api.url.as_str(), "provideClusterInfo: {info}");
    assert!(api.requests().iter().all(|r| r.auth.as_deref() == Some(&format!("Bearer {TOKEN}"))));
    api.assert_read_only();
}

/// Exit 2 with exactly one line on stderr containing `needle`.
fn assert_one_line_failure(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle} in {err}");
}

#[test]
fn wrong_credentials_and_forbidden_reads_fail_in_one_line() {
    let api = server().start();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    assert_one_line_failure(&pull(dir.path(), &kc, &["--context", "other"]), "(401 Unauthorized)");
    let mut forbidding = server();
    forbidding.forbidden = vec!["/apis/apiextensions.k8s.io".into()];
    let api2 = forbidding.start();
    let kc2 = kubeconfig(dir.path(), &api2.url, &token_user());
    let out = pull(dir.path(), &kc2, &[]);
    assert_one_line_failure(&out, "(403 Forbidden)");
    assert!(text(&out.stderr).contains("cannot get resource"), "the server's message is kept");
    assert!(!dir.path().join(".fluxgate/schemas").exists(), "nothing written on failure");
    api.assert_read_only();
    api2.assert_read_only();
}

#[test]
fn unknown_context_and_missing_kubeconfig_fail_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), "http://127.0.0.1:9", &token_user());
    assert_one_line_failure(&pull(dir.path(), &kc, &["--context", "nope"]), "context 'nope' is not in the kubeconfig");
    let out = run(&["schemas", "pull", "--cluster", "--root", s(dir.path())], &[("HOME", s(dir.path()))]);
    assert_one_line_failure(&out, "no kubeconfig");
}

#[test]
fn an_unreachable_or_slow_cluster_fails_in_one_line_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"), &token_user());
    assert_one_line_failure(&pull(dir.path(), &kc, &[]), "cannot reach the cluster at http://127.0.0.1");

    let mut slow = server();
    slow.delay = Duration::from_secs(6);
    let api: Running = slow.start();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let start = Instant::now();
    let out = pull(dir.path(), &kc, &["--cluster-timeout", "1"]);
    assert_one_line_failure(&out, "did not answer within 1s");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    api.assert_read_only();
}

// ---- validate --cluster ----

const SECRET_VALUE: &str = "hunter2-db-password";

/// The live side of `fixtures/cluster`: the substituteFrom ConfigMap and Secret of `apps`
/// (not `extras-secrets`), the HelmRelease's valuesFrom Secret when `values`, and CRDs that
/// serve Widget only at v1 and Gadget at v2 with `color` a string.
fn live_cluster(values: bool) -> FakeApi {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut api = FakeApi::new();
    api.token = Some(TOKEN.into());
    api.add(crd("example.com", "Widget", "widgets", &[("v1", true)], "size", "integer"));
    api.add(crd("acme.io", "Gadget", "gadgets", &[("v2", true)], "color", "string"));
    api.add(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}));
    api.add(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}));
    api.add(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-vars", "namespace": "flux-system"}, "data": {"CLUSTER_NAME": "prod-eu"}}));
    api.add(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "cluster-secrets", "namespace": "flux-system"}, "data": {"DB_PASSWORD": b64(SECRET_VALUE)}}));
    // What the ExternalSecret made.
    api.add(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "app-credentials", "namespace": "flux-system"}, "data": {"API_KEY": b64(SECRET_VALUE)}}));
    if values {
        api.add(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "podinfo-values", "namespace": "apps"}, "data": {"values.yaml": b64("replicaCount: 2\n")}}));
    }
    api
}

/// `validate --format json` of `fixtures/cluster` (charts offline, from an empty cache), with
/// `extra` flags; the findings as (rule, severity, file:line, message), and the output.
fn validate(extra: &[&str], env: &[(&str, &str)]) -> (Vec<(String, String, String, String)>, Output) {
    let cache = tempfile::tempdir().unwrap();
    let root = common::fixture("cluster");
    let mut args = vec!["validate", s(&root), "--format", "json", "--offline", "--chart-cache", s(cache.path())];
    args.extend_from_slice(extra);
    let out = run(&args, env);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let findings = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let loc = format!("{}:{}", f["location"]["file"].as_str().unwrap_or(""), f["location"]["line"]);
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                loc,
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(SECRET_VALUE), "a Secret's value never shows: {all}");
    (findings, out)
}

fn with_rule<'a>(
    findings: &'a [(String, String, String, String)],
    rule: &str,
) -> Vec<&'a (String, String, String, String)> {
    findings.iter().filter(|f| f.0 == rule).collect()
}

#[test]
fn offline_the_cluster_dependent_answers_are_warnings() {
    let (f, _) = validate(&[], &[]);
    let external = with_rule(&f, "flux-substitute-external");
    assert_eq!(external.len(), 3, "{f:#?}");
    assert!(external.iter().all(|x| x.1 == "warning"));
    let unresolved = with_rule(&f, "flux-reference-unresolved");
    assert_eq!(unresolved.len(), 1, "{f:#?}");
    assert!(unresolved[0].3.contains("podinfo-values"), "{unresolved:?}");
    let missing = with_rule(&f, "schema-missing");
    assert_eq!(missing.len(), 2, "{f:#?}");
    assert!(missing.iter().all(|x| x.1 == "warning"));
    assert!(with_rule(&f, "flux-substitute-unset").is_empty(), "kept as written offline: {f:#?}");
    assert!(with_rule(&f, "namespace-not-found").is_empty(), "{f:#?}");
    assert_eq!(with_rule(&f, "flux-substitute-generated").len(), 1, "{f:#?}");
}

#[test]
fn validate_cluster_turns_each_warning_into_a_definite_answer() {
    let api = live_cluster(true).start();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let (f, out) = validate(&["--cluster", "--kubeconfig", s(&kc)], &[]);
    let err = text(&out.stderr);
    assert!(err.contains("reading the cluster of context fake"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    // substituteFrom: found objects give their keys; the variable none of them has is unset.
    assert!(with_rule(&f, "flux-substitute-external").is_empty(), "{f:#?}");
    let unset = with_rule(&f, "flux-substitute-unset");
    assert_eq!(unset.len(), 1, "{f:#?}");
    assert!(unset[0].3.contains("REGION") && unset[0].2 == "apps/settings.yaml:9", "{unset:?}");
    assert_eq!(unset[0].1, "error");
    // The ExternalSecret's Secret was read for its keys: API_KEY is set.
    assert!(api.requests().iter().any(|r| r.path == "/api/v1/namespaces/flux-system/secrets/app-credentials"));
    // A substituteFrom Secret in neither the repository nor the cluster.
    let gone = with_rule(&f, "flux-substitute-from-missing");
    assert_eq!(gone.len(), 1, "{f:#?}");
    assert_eq!((gone[0].1.as_str(), gone[0].2.as_str()), ("error", "clusters/prod/apps.yaml:36"));
    assert!(gone[0].3.contains("extras-secrets") && gone[0].3.contains("context fake"), "{gone:?}");
    // The valuesFrom Secret exists in the cluster: no finding.
    assert!(with_rule(&f, "flux-reference-unresolved").is_empty(), "{f:#?}");
    assert!(with_rule(&f, "flux-values-from-missing").is_empty(), "{f:#?}");
    // Namespaces: `payments` is neither rendered nor live; `apps` and `flux-system` are live.
    let ns = with_rule(&f, "namespace-not-found");
    assert_eq!(ns.len(), 1, "{f:#?}");
    assert_eq!(ns[0].2, "apps/payments.yaml:6");
    assert!(ns[0].3.contains("namespace 'payments' of 1 object(s)"), "{ns:?}");
    // CRDs: Widget is served only at v1 (certain failure), Gadget's live schema is checked.
    let missing = with_rule(&f, "schema-missing");
    assert_eq!(missing.len(), 1, "{f:#?}");
    assert_eq!(missing[0].1, "error");
    assert!(missing[0].3.contains("does not serve version 'v1alpha1' in the cluster (context fake)"), "{missing:?}");
    let typed = with_rule(&f, "schema-invalid-type");
    assert_eq!(typed.len(), 1, "{f:#?}");
    assert_eq!(typed[0].2, "apps/custom.yaml:15");
    api.assert_read_only();
    // Secrets are read one by one by name, never listed.
    assert!(api.requests().iter().all(|r| !r.path.ends_with("/secrets") && !r.path.contains("/secrets?")));
}

#[test]
fn validate_cluster_makes_a_missing_values_secret_certain() {
    let api = live_cluster(false).start();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let (f, _) = validate(&["--cluster"], &[("KUBECONFIG", s(&kc))]);
    assert!(with_rule(&f, "flux-reference-unresolved").is_empty(), "{f:#?}");
    let missing = with_rule(&f, "flux-values-from-missing");
    assert_eq!(missing.len(), 1, "{f:#?}");
    assert!(missing[0].3.contains("the cluster (context fake) has none either"), "{missing:?}");
    api.assert_read_only();
}

#[test]
fn validate_with_an_unreachable_or_forbidding_cluster_warns_and_gives_the_offline_result() {
    let (offline, _) = validate(&[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"), &token_user());
    let (f, out) = validate(&["--cluster", "--kubeconfig", s(&kc)], &[]);
    assert_eq!(f, offline);
    let err = text(&out.stderr);
    assert_eq!(err.matches("warning: --cluster: cannot reach the cluster").count(), 1, "{err}");

    // Reachable, but Secrets are forbidden: those answers stay offline, the rest are definite.
    let mut api = live_cluster(true);
    api.forbidden = vec!["/api/v1/namespaces/flux-system/secrets".into()];
    let api = api.start();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let (f, out) = validate(&["--cluster", "--kubeconfig", s(&kc)], &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: --cluster: the cluster forbids reading /api/v1/namespaces/flux-system/secrets/"),
        "{err}"
    );
    assert_eq!(with_rule(&f, "flux-substitute-external").len(), 2, "the two Secrets stay warnings: {f:#?}");
    assert_eq!(with_rule(&f, "schema-missing")[0].1, "error");
    api.assert_read_only();
}

#[test]
fn inside_a_pod_the_service_account_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    // No kubeconfig (HOME has none), the pod's environment: the service account's server and
    // token. The fake server speaks plain HTTP, so the TLS handshake the in-cluster client
    // insists on fails, naming the in-cluster server.
    let api = server().start();
    let port = api.url.rsplit(':').next().unwrap().to_string();
    let env = [
        ("HOME", s(dir.path())),
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", port.as_str()),
        ("FLUXGATE_SERVICE_ACCOUNT_DIR", s(&sa)),
    ];
    let args = ["schemas", "pull", "--cluster", "--root", s(dir.path())];
    assert_one_line_failure(&run(&args, &env), "service account token");
    std::fs::write(sa.join("token"), "sa-token\n").unwrap();
    assert_one_line_failure(
        &run(&args, &env),
        &format!("cannot reach the cluster at https://127.0.0.1:{port} (context in-cluster)"),
    );
    api.assert_read_only();
}

// ---- diff --cluster ----

const LIVE_TOKEN: &str = "live-side-token";

/// `obj` as Flux Kustomization `flux-system/<owner>` applied it (its owner labels).
fn owned(mut obj: serde_json::Value, owner: &str) -> serde_json::Value {
    let labels = obj["metadata"].as_object_mut().unwrap().entry("labels").or_insert(serde_json::json!({}));
    labels["kustomize.toolkit.fluxcd.io/name"] = serde_json::json!(owner);
    labels["kustomize.toolkit.fluxcd.io/namespace"] = serde_json::json!("flux-system");
    obj
}

fn flux_kustomization(name: &str, path: &str, post_build: serde_json::Value, inventory: &[&str]) -> serde_json::Value {
    let mut spec = serde_json::json!({"interval": "10m", "path": path, "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"}});
    if !post_build.is_null() {
        spec["postBuild"] = post_build;
    }
    let entries: Vec<serde_json::Value> = inventory.iter().map(|i| serde_json::json!({"id": i, "v": "v1"})).collect();
    owned(
        serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system", "finalizers": ["finalizers.fluxcd.io"]},
            "spec": spec, "status": {"inventory": {"entries": entries}, "lastAppliedRevision": "main@sha1:abc"}}),
        "flux-system",
    )
}

/// The cluster `fixtures/cluster` was applied to, then drifted: the Deployment scaled to 3,
/// the Secret's value changed, and objects an older revision applied (a ConfigMap, a Service)
/// still carry the owner labels; server defaults and status everywhere.
fn applied_cluster() -> FakeApi {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut api = live_cluster(true);
    let sub = serde_json::json!({"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"},
        {"kind": "Secret", "name": "cluster-secrets"}, {"kind": "Secret", "name": "app-credentials"}]});
    api.add(owned(serde_json::json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "app-credentials", "namespace": "flux-system"},
        "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
            "target": {"name": "app-credentials", "creationPolicy": "Owner"}, "dataFrom": [{"extract": {"key": "apps/credentials"}}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}), "flux-system"));
    api.add(owned(
        serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": "https://example.com/fleet.git", "ref": {"branch": "main"}, "timeout": "60s"},
        "status": {"artifact": {"revision": "main@sha1:abc"}}}),
        "flux-system",
    ));
    api.add(flux_kustomization("flux-system", "./clusters/prod", serde_json::Value::Null, &[]));
    api.add(flux_kustomization("apps", "./apps", sub, &["apps_old-svc__Service", "apps_web_apps_Deployment"]));
    api.add(flux_kustomization(
        "extras",
        "./extras",
        serde_json::json!({"substituteFrom": [{"kind": "Secret", "name": "extras-secrets"}]}),
        &[],
    ));
    let labels = serde_json::json!({"app": "web"});
    api.add(owned(serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "generation": 4, "annotations": {"deployment.kubernetes.io/revision": "4"}},
        "spec": {"replicas": 3, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10, "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": labels}, "spec": {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                "containers": [{"name": "web", "image": "ghcr.io/example/web:1.2.3", "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log",
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "0.1", "memory": "65536Ki"}}}]}}},
        "status": {"replicas": 3, "readyReplicas": 3}}), "apps"));
    api.add(owned(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "apps"},
        "data": {"cluster": "prod-eu", "password-set": "yes", "region": "eu-west-1", "api-key": "k"}}), "apps"));
    api.add(owned(
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "web-token", "namespace": "apps"}, "data": {"token": b64(LIVE_TOKEN)}}),
        "apps",
    ));
    api.add(owned(
        serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": {"interval": "1h", "url": "https://stefanprodan.github.io/podinfo", "timeout": "60s"}}),
        "apps",
    ));
    api.add(owned(serde_json::json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.0", "reconcileStrategy": "ChartVersion",
            "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}, "valuesFrom": [{"kind": "Secret", "name": "podinfo-values"}]},
        "status": {"observedGeneration": 1}}), "apps"));
    api.add(owned(
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "legacy", "namespace": "apps"},
        "data": {"a": "b"}}),
        "apps",
    ));
    api.add(owned(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep-me", "namespace": "apps", "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}},
        "data": {"a": "b"}}), "apps"));
    api.add(owned(
        serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "old-svc", "namespace": "apps"},
        "spec": {"ports": [{"port": 80}]}}),
        "apps",
    ));
    api
}

fn diff(api: &Running, format: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let root = common::fixture("cluster");
    let out = run(&["diff", s(&root), "--cluster", "--kubeconfig", s(&kc), "--format", format], &[]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for secret in [LIVE_TOKEN, "repo-side-token", SECRET_VALUE] {
        assert!(!all.contains(secret), "{secret} never shows: {all}");
    }
    out
}

#[test]
fn diff_cluster_shows_drift_creations_and_prunes_on_the_fields_the_manifests_set() {
    let api = applied_cluster().start();
    let out = diff(&api, "text");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(
        t.starts_with(&format!(
            "fluxgate diff against the live cluster fake ({}), which syncs clusters/prod\n",
            api.url
        )),
        "{t}"
    );
    assert!(
        t.contains("=== clusters/prod/flux-system/apps (flux): changed — 2 changed, 3 to create, 2 to prune"),
        "{t}"
    );
    // The Deployment differs only in replicas: defaults, status and annotations never show.
    assert!(t.contains("  ~ changed Deployment.apps/apps/web\n    --- live\n    +++ head\n"), "{t}");
    assert!(t.contains("    -  replicas: 3\n    +  replicas: 2\n"), "{t}");
    for noise in ["progressDeadlineSeconds", "imagePullPolicy", "readyReplicas", "managedFields", "revision", "uid"] {
        assert!(!t.contains(noise), "{noise}: {t}");
    }
    assert!(t.contains("  ~ changed Secret/apps/web-token\n    (only masked (secret) values changed)"), "{t}");
    assert!(
        t.contains("  + create Gadget.acme.io/apps/red") && t.contains("  + create Widget.example.com/apps/small"),
        "{t}"
    );
    assert!(t.contains("  - prune ConfigMap/apps/legacy") && t.contains("  - prune Service/apps/old-svc"), "{t}");
    assert!(!t.contains("keep-me"), "prune: disabled is never pruned: {t}");
    // `settings` holds `${VAR}`s only the cluster knows: any live value fits them.
    assert!(!t.contains("ConfigMap/apps/settings"), "{t}");
    assert!(
        t.contains("=== clusters/prod/flux-system/extras (flux): changed — 0 changed, 1 to create, 0 to prune"),
        "{t}"
    );
    assert!(t.contains("1 affected entry point unchanged"), "flux-system itself matches: {t}");
    api.assert_read_only();
    // Owner-labelled objects are listed as metadata only (no Secret values in a list).
    let lists: Vec<_> = api.requests().into_iter().filter(|r| r.path.contains("labelSelector=")).collect();
    assert!(!lists.is_empty());
    assert!(
        lists.iter().all(|r| r.accept.as_deref().is_some_and(|a| a.contains("as=PartialObjectMetadataList"))),
        "{lists:?}"
    );
}

#[test]
fn diff_cluster_json_and_markdown_carry_the_same_changes() {
    let api = applied_cluster().start();
    let v: serde_json::Value = serde_json::from_slice(&diff(&api, "json").stdout).unwrap();
    assert_eq!(v["cluster"]["context"], "fake");
    assert_eq!(v["cluster"]["tree"], "clusters/prod");
    let apps =
        v["entry_points"].as_array().unwrap().iter().find(|e| e["name"] == "clusters/prod/flux-system/apps").unwrap();
    let changes: Vec<String> = apps["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!("{} {}/{}", o["change"].as_str().unwrap(), o["kind"].as_str().unwrap(), o["name"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        changes,
        [
            "removed ConfigMap/legacy",
            "added ConfigMap/limits",
            "changed Secret/web-token",
            "removed Service/old-svc",
            "added Gadget/red",
            "changed Deployment/web",
            "added Widget/small"
        ]
    );
    let md = text(&diff(&api, "markdown").stdout);
    assert!(md.starts_with("### fluxgate diff against the live cluster `fake`"), "{md}");
    assert!(
        md.contains("- prune `Service/apps/old-svc`") && md.contains("- create `Widget.example.com/apps/small`"),
        "{md}"
    );
    api.assert_read_only();
}

#[test]
fn diff_cluster_errors_are_one_line_and_exit_2() {
    let mut forbidding = applied_cluster();
    forbidding.forbidden = vec!["/apis/apps/v1/namespaces/apps/deployments".into()];
    let api = forbidding.start();
    assert_one_line_failure(&diff(&api, "text"), "(403 Forbidden)");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"), &token_user());
    let out = run(&["diff", s(&common::fixture("cluster")), "--cluster", "--kubeconfig", s(&kc)], &[]);
    assert_one_line_failure(&out, "cannot reach the cluster");
    // Neither --base nor --cluster: clap says so.
    let out = run(&["diff", s(&common::fixture("cluster"))], &[]);
    assert_eq!(out.status.code(), Some(2));
    api.assert_read_only();
}

#[test]
fn a_cluster_that_syncs_another_tree_answers_nothing_about_this_one() {
    let mut api = live_cluster(false);
    api.add(flux_kustomization("flux-system", "./clusters/staging", serde_json::Value::Null, &[]));
    let api = api.start();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let (f, _) = validate(&["--cluster", "--kubeconfig", s(&kc)], &[]);
    // clusters/prod is not what this cluster syncs: its Flux answers stay the offline ones.
    assert_eq!(with_rule(&f, "flux-substitute-external").len(), 3, "{f:#?}");
    assert_eq!(with_rule(&f, "flux-reference-unresolved").len(), 1, "{f:#?}");
    assert!(with_rule(&f, "flux-substitute-from-missing").is_empty(), "{f:#?}");
    assert!(api.requests().iter().all(|r| !r.path.contains("/configmaps/") && !r.path.contains("/secrets/")));
    api.assert_read_only();
}

// ---- TLS ----

/// A self-signed certificate for 127.0.0.1 and its key, as PEM (made with the openssl CLI).
fn certificate(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=fake-apiserver", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout", s(&key), "-out", s(&cert)])
        .output()
        .unwrap();
    assert!(ok.status.success(), "openssl: {}", text(&ok.stderr));
    (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap())
}

#[test]
fn over_https_the_cluster_ca_is_verified() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let api = server().start_tls(&cert, &key, None);
    assert!(api.url.starts_with("https://127.0.0.1:"));
    let ca = base64::engine::general_purpose::STANDARD.encode(&cert);
    let kc = kubeconfig_with(dir.path(), &api.url, &format!("    certificate-authority-data: {ca}\n"), &token_user());
    let out = pull(dir.path(), &kc, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("3 CRDs, 4 served versions"), "{}", text(&out.stdout));

    // A CA file (relative to the kubeconfig) that did not sign the server's certificate.
    let (other, _) = certificate(dir.path(), "other");
    std::fs::write(dir.path().join("other-ca.crt"), other).unwrap();
    let kc = kubeconfig_with(dir.path(), &api.url, "    certificate-authority: other-ca.crt\n", &token_user());
    let out = pull(dir.path(), &kc, &[]);
    assert_one_line_failure(&out, &format!("cannot reach the cluster at {} (context fake)", api.url));
    assert!(text(&out.stderr).to_lowercase().contains("certificate"), "{}", text(&out.stderr));

    // insecure-skip-tls-verify: no CA needed.
    let kc = kubeconfig_with(dir.path(), &api.url, "    insecure-skip-tls-verify: true\n", &token_user());
    assert_eq!(pull(dir.path(), &kc, &[]).status.code(), Some(0));
    api.assert_read_only();
}

#[test]
fn a_client_certificate_authenticates_over_https() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let (client_cert, client_key) = certificate(dir.path(), "client");
    let mut api = server();
    api.token = None;
    let api = api.start_tls(&cert, &key, Some(&client_cert));
    let cluster = format!("    certificate-authority-data: {}\n", b64(&cert));
    let user = format!("    client-certificate-data: {}\n    client-key-data: {}", b64(&client_cert), b64(&client_key));
    let kc = kubeconfig_with(dir.path(), &api.url, &cluster, &user);
    let out = pull(dir.path(), &kc, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(api.requests().iter().all(|r| r.auth.is_none()), "no token sent");
    // Without the certificate the handshake is refused: one line, exit 2.
    let kc = kubeconfig_with(dir.path(), &api.url, &cluster, "    token: none");
    assert_one_line_failure(&pull(dir.path(), &kc, &[]), "cannot reach the cluster at https://127.0.0.1:");
    api.assert_read_only();
}

#[test]
fn diff_cluster_with_base_compares_only_the_entry_points_the_change_affects() {
    let api = applied_cluster().start();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    common::copy_dir(&common::fixture("cluster"), &repo);
    let git = |args: &[&str]| {
        let out = Command::new("git").arg("-C").arg(&repo).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"]);
    let extras = repo.join("extras/settings.yaml");
    let edited = std::fs::read_to_string(&extras).unwrap().replace("token-set", "token-present");
    std::fs::write(&extras, edited).unwrap();
    let kc = kubeconfig(dir.path(), &api.url, &token_user());
    let out = run(&["diff", s(&repo), "--cluster", "--base", "HEAD", "--kubeconfig", s(&kc)], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("=== clusters/prod/flux-system/extras (flux)"), "{t}");
    assert!(!t.contains("flux-system/apps (flux)"), "apps is not affected: {t}");
    api.assert_read_only();
}
