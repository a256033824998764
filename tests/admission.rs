//! ValidatingAdmissionPolicies evaluated offline: the `fixtures/policies` repository (nine
//! policies as platform teams write them, with bindings and a parameter ConfigMap), every
//! finding asserted; and small repositories for the edge cases (params, failurePolicy,
//! namespaces, invalid policies).

use std::path::Path;
use std::process::Command;

use fluxgate::config::Config;
use fluxgate::finding::{Finding, Severity};
use fluxgate::pipeline::validate;
use fluxgate::rules::Rule;
use fluxgate::source::Repo;
use serde_json::Value;

/// (rule, policy, file:line, severity, object, message) of every finding, sorted.
type Row = (String, String, String, String, String, String);

fn rows_of_json(v: &Value) -> Vec<Row> {
    let mut rows: Vec<Row> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().is_some_and(|r| r.starts_with("admission-policy")))
        .map(|f| {
            let loc = &f["location"];
            let obj = &f["object"];
            (
                f["rule"].as_str().unwrap().to_string(),
                f["policy"].as_str().unwrap_or("").to_string(),
                format!("{}:{}", loc["file"].as_str().unwrap_or("-"), loc["line"]),
                f["severity"].as_str().unwrap().to_string(),
                format!("{}/{}", obj["kind"].as_str().unwrap_or("-"), obj["name"].as_str().unwrap_or("-")),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn row(rule: &str, policy: &str, at: &str, sev: &str, obj: &str, msg: &str) -> Row {
    (rule.into(), policy.into(), at.into(), sev.into(), obj.into(), msg.into())
}

#[test]
fn fixture_policies_find_exactly_what_they_should() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policies");
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["validate", "--format", "json"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows_of_json(&v);
    let mut expected = vec![
        row(
            "admission-policy",
            "disallow-host-path",
            "apps/bad/pods.yaml:26",
            "error",
            "Pod/node-logs",
            "hostPath volumes are not allowed (reason: Forbidden)",
        ),
        row(
            "admission-policy",
            "disallow-latest-tag",
            "apps/bad/latest.yaml:18",
            "error",
            "Deployment/latest",
            "pod template of Deployment 'latest': images must be pinned to a tag other than latest: registry.example.com/payments/worker:latest",
        ),
        row(
            "admission-policy",
            "ingress-tls",
            "apps/bad/ingress.yaml:10",
            "error",
            "Ingress/checkout",
            "hosts without TLS: checkout.example.com",
        ),
        row(
            "admission-policy",
            "production-replicas",
            "apps/bad/single.yaml:9",
            "error",
            "Deployment/single",
            "production Deployments need at least 2 replicas (namespace payments)",
        ),
        row(
            "admission-policy",
            "replica-limits",
            "apps/bad/too-many.yaml:9",
            "error",
            "Deployment/too-many",
            "spec.replicas is 8, above the limit of 5 (reason: Invalid)",
        ),
        row(
            "admission-policy",
            "require-readiness-probe",
            "apps/bad/no-probe.yaml:18",
            "warning",
            "Deployment/no-probe",
            "every container of a Deployment should have a readinessProbe",
        ),
        row(
            "admission-policy",
            "require-resource-limits",
            "apps/bad/pods.yaml:6",
            "error",
            "Pod/no-limits",
            "containers without cpu and memory limits: debug, sidecar (reason: Invalid)",
        ),
        row(
            "admission-policy",
            "require-team-label",
            "apps/bad/no-team.yaml:5",
            "error",
            "Deployment/no-team",
            "workloads must carry a non-empty 'team' label (reason: Forbidden)",
        ),
        row(
            "admission-policy-skipped",
            "cluster-admin-binding",
            "apps/bad/rbac.yaml:1",
            "warning",
            "ClusterRoleBinding/payments-admins",
            "validation `authorizer.group('rbac.authorization.k8s.io').resource('clusterroles').name('cluster-admin').check('escalate').allowed()` was not checked: it reads `authorizer` (the requesting user's permissions), which only the API server knows",
        ),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    // Every policy finding is in the bad overlay: the good one passes every policy. (The
    // built-in rules report on both; they are not what this fixture is about.)
    let policy_findings: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().is_some_and(|r| r.starts_with("admission-policy")))
        .collect();
    assert!(policy_findings.iter().all(|f| f["entry_point"] == "apps/bad"), "{policy_findings:#?}");
}

/// A repository written to a temporary directory, validated with the library.
fn run(files: &[(&str, &str)]) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    for (p, text) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let config = match files.iter().find(|(p, _)| *p == ".fluxgate.yaml") {
        Some((_, text)) => Config::parse(text).unwrap(),
        None => Config::default(),
    };
    let repo = Repo::open(dir.path()).unwrap();
    let mut findings = validate(&repo, &config).unwrap().findings;
    findings.retain(|f| f.rule.id().starts_with("admission-policy"));
    findings
}

fn brief(findings: &[Finding]) -> Vec<String> {
    let mut out: Vec<String> = findings
        .iter()
        .map(|f| {
            let at = f.location.as_ref().map_or("-".to_string(), |l| format!("{}:{}", l.file, l.line));
            format!("{} {} {at} {}", f.severity.as_str(), f.rule_label(), f.message)
        })
        .collect();
    out.sort();
    out
}

const CONFIG: &str = "admissionPolicies:\n  paths: [policies]\n";

const KUSTOMIZATION: &str = "resources: [objects.yaml]\nnamespace: team-a\n";

fn policy(name: &str, extra_spec: &str, validation: &str) -> String {
    format!(
        "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {name}
spec:
{extra_spec}  matchConstraints:
    resourceRules:
      - apiGroups: ['']
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [configmaps]
  validations:
    - expression: \"{validation}\"
"
    )
}

fn binding(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}
spec:
  policyName: {name}
  validationActions: [Deny]
{extra_spec}"
    )
}

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {tier: web}\ndata:\n  size: \"3\"\n";

#[test]
fn params_from_the_render_by_selector_and_not_found_actions() {
    let param = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: limits\n  labels: {policy-params: max-size}\ndata:\n  max: \"2\"\n";
    let p = policy(
        "max-size",
        "  paramKind: {apiVersion: v1, kind: ConfigMap}\n",
        "!has(object.data.size) || int(object.data.size) <= int(params.data.max)",
    );
    let selector = binding(
        "max-size",
        "  paramRef:\n    selector: {matchLabels: {policy-params: max-size}}\n    parameterNotFoundAction: Deny\n",
    );
    let objects = format!("{CONFIGMAP}---\n{param}");
    let findings = run(&[
        (".fluxgate.yaml", CONFIG),
        ("policies/p.yaml", &format!("{p}---\n{selector}")),
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/objects.yaml", &objects),
    ]);
    // The parameter ConfigMap comes from the render (namespace team-a, the object's namespace).
    assert_eq!(
        brief(&findings),
        [
            "error admission-policy[max-size] app/objects.yaml:7 failed expression: !has(object.data.size) || int(object.data.size) <= int(params.data.max)"
        ]
    );
    assert!(findings[0].help.as_deref().unwrap().contains("ConfigMap 'team-a/limits'"), "{:?}", findings[0].help);

    // By name, not found: Deny is an invalid-policy error per object; Allow does nothing.
    let deny = binding("max-size", "  paramRef:\n    name: nowhere\n    parameterNotFoundAction: Deny\n");
    let findings = run(&[
        (".fluxgate.yaml", CONFIG),
        ("policies/p.yaml", &format!("{p}---\n{deny}")),
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/objects.yaml", CONFIGMAP),
    ]);
    assert_eq!(
        brief(&findings),
        [
            "error admission-policy-invalid[max-size] app/objects.yaml:1 binding 'max-size' finds no parameter object ConfigMap 'team-a/nowhere' (parameterNotFoundAction: Deny), so the API server denies the object"
        ]
    );
    let allow = binding("max-size", "  paramRef:\n    name: nowhere\n    parameterNotFoundAction: Allow\n");
    let findings = run(&[
        (".fluxgate.yaml", CONFIG),
        ("policies/p.yaml", &format!("{p}---\n{allow}")),
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/objects.yaml", CONFIGMAP),
    ]);
    assert_eq!(brief(&findings), Vec::<String>::new());
}

#[test]
fn failure_policy_decides_what_a_runtime_error_is() {
    // `object.data.missing` has no such key: a runtime error.
    for (fp, expected) in [
        (
            "Fail",
            "error admission-policy[p] app/objects.yaml:6 validation `object.data.missing == 'x'` cannot be evaluated: No such key: missing (failurePolicy: Fail rejects the object)",
        ),
        (
            "Ignore",
            "warning admission-policy-skipped[p] app/objects.yaml:6 validation `object.data.missing == 'x'` was not checked: it errs (No such key: missing) and failurePolicy is Ignore",
        ),
    ] {
        let p = policy("p", &format!("  failurePolicy: {fp}\n"), "object.data.missing == 'x'");
        let findings = run(&[
            (".fluxgate.yaml", CONFIG),
            ("policies/p.yaml", &format!("{p}---\n{}", binding("p", ""))),
            ("app/kustomization.yaml", KUSTOMIZATION),
            ("app/objects.yaml", CONFIGMAP),
        ]);
        assert_eq!(brief(&findings), [expected]);
    }
}

#[test]
fn undecidable_expressions_are_skipped_never_passed() {
    let p = policy("p", "", "request.userInfo.username.startsWith('system:') || object.data.size == '3'");
    let ns = policy("ns", "", "namespaceObject.metadata.name != 'kube-system'");
    let findings = run(&[
        (".fluxgate.yaml", CONFIG),
        ("policies/p.yaml", &format!("{p}---\n{}---\n{ns}---\n{}", binding("p", ""), binding("ns", ""))),
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/objects.yaml", CONFIGMAP),
    ]);
    assert_eq!(
        brief(&findings),
        [
            "warning admission-policy-skipped[ns] app/objects.yaml:1 validation `namespaceObject.metadata.name != 'kube-system'` was not checked: it reads `namespaceObject` and the Namespace 'team-a' is not in this render",
            "warning admission-policy-skipped[p] app/objects.yaml:7 validation `request.userInfo.username.startsWith('system:') || object.data.size == '3'` was not checked: it reads `request.userInfo` (who applies the object), which only the API server knows",
        ]
    );
}

#[test]
fn invalid_policies_and_bindings_are_located_errors() {
    let bad_expr = policy("bad-expr", "", "object.data.size <=");
    let no_policy = binding("ghost", "");
    let bad_actions = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: bad-actions}\nspec:\n  policyName: bad-expr\n  validationActions: [Reject]\n";
    let findings = run(&[
        (".fluxgate.yaml", "admissionPolicies:\n  paths: [policies, missing-dir]\n"),
        ("policies/p.yaml", &format!("{bad_expr}---\n{no_policy}---\n{bad_actions}")),
        ("policies/broken.yaml", "apiVersion: v1\nkind: [\n"),
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/objects.yaml", CONFIGMAP),
    ]);
    let b = brief(&findings);
    assert_eq!(b.len(), 5, "{b:#?}");
    assert!(
        b[0].starts_with(
            "error admission-policy-invalid .fluxgate.yaml:2 admissionPolicies path 'missing-dir' does not exist"
        ),
        "{b:#?}"
    );
    assert!(
        b[1].starts_with("error admission-policy-invalid policies/broken.yaml:3 policy file does not parse"),
        "{b:#?}"
    );
    assert!(b[2].starts_with("error admission-policy-invalid[bad-expr] policies/p.yaml:13 validations: `object.data.size <=` does not compile"), "{b:#?}");
    assert!(
        b[3].starts_with("error admission-policy-invalid[bad-expr] policies/p.yaml:")
            && b[3].contains("unknown action 'Reject'"),
        "{b:#?}"
    );
    assert!(
        b[4].starts_with("error admission-policy-invalid[ghost] policies/p.yaml:")
            && b[4].contains("not in the policy paths"),
        "{b:#?}"
    );
    assert!(findings.iter().all(|f| f.severity == Severity::Error && f.rule == Rule::AdmissionPolicyInvalid));
}

#[test]
fn pod_templates_only_when_configured_and_binding_match_resources_narrow() {
    let pod_policy = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-privileged}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: [pods]}
  validations:
    - expression: \"object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))\"
      message: privileged containers are not allowed
";
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27.0
          securityContext: {privileged: true}
";
    let files = |config: &'static str, binding_text: String| {
        run(&[
            (".fluxgate.yaml", config),
            ("policies/p.yaml", &format!("{pod_policy}---\n{binding_text}")),
            ("app/kustomization.yaml", KUSTOMIZATION),
            ("app/objects.yaml", deployment),
        ])
    };
    let plain = binding("no-privileged", "");
    assert!(files(CONFIG, plain.clone()).is_empty());
    let with_templates = "admissionPolicies:\n  paths: [policies]\n  podTemplates: true\n";
    assert_eq!(
        brief(&files(with_templates, plain)),
        [
            "error admission-policy[no-privileged] app/objects.yaml:9 pod template of Deployment 'web': privileged containers are not allowed"
        ]
    );
    // The binding narrows the policy to namespaces labelled `enforce: "true"`; team-a is not in
    // the render, so only its name label is known: no match.
    let narrowed =
        binding("no-privileged", "  matchResources:\n    namespaceSelector: {matchLabels: {enforce: \"true\"}}\n");
    assert!(files(with_templates, narrowed).is_empty());
}

#[test]
fn a_finding_is_suppressed_by_its_policy_name() {
    let p = policy("no-size", "", "!has(object.data.size)");
    let annotated = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    fluxgate.io/ignore: no-size\n    fluxgate.io/ignore-reason: legacy sizing\ndata:\n  size: \"3\"\n";
    let findings = run(&[
        (".fluxgate.yaml", CONFIG),
        ("policies/p.yaml", &format!("{p}---\n{}", binding("no-size", ""))),
        ("app/kustomization.yaml", KUSTOMIZATION),
        ("app/objects.yaml", annotated),
    ]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].policy.as_deref(), Some("no-size"));
    assert!(findings[0].suppressed.is_some(), "{findings:#?}");
}
