//! End-to-end schema behaviour: the target Kubernetes version, API removals between versions,
//! the repo-local schema catalog and `fluxgate schemas import`.

use std::path::Path;
use std::process::{Command, Output};

fn fluxgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgate")).args(args).output().unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn findings(out: &Output) -> Vec<(String, String, u64)> {
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["location"]["file"].as_str().unwrap_or("").to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const CIDR: &str = "apiVersion: networking.k8s.io/v1beta1\nkind: ServiceCIDR\nmetadata:\n  name: extra\nspec:\n  cidrs:\n    - 10.96.0.0/16\n";

#[test]
fn target_version_decides_what_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", "resources:\n  - cidr.yaml\n");
    write(root, "app/cidr.yaml", CIDR);
    let r = root.to_str().unwrap();
    let old = fluxgate(&["validate", r, "--format", "json", "--kubernetes-version", "1.34"]);
    assert_eq!(old.status.code(), Some(0), "{:?}", findings(&old));
    let new = fluxgate(&["validate", r, "--format", "json", "--kubernetes-version", "1.37"]);
    assert_eq!(new.status.code(), Some(1));
    assert_eq!(findings(&new), [("api-removed".to_string(), "app/cidr.yaml".to_string(), 1)]);
    let json: serde_json::Value = serde_json::from_slice(&new.stdout).unwrap();
    let msg = json["findings"][0]["help"].as_str().unwrap();
    assert!(msg.contains("networking.k8s.io/v1"), "{msg}");
    let bad = fluxgate(&["validate", r, "--kubernetes-version", "1.20"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not bundled"));
}

#[test]
fn config_sets_the_kubernetes_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".fluxgate.yaml", "kubernetesVersion: \"1.34\"\n");
    write(root, "app/kustomization.yaml", "resources:\n  - cidr.yaml\n");
    write(root, "app/cidr.yaml", CIDR);
    let out = fluxgate(&["validate", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", findings(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema_coverage"]["kubernetes_version"], "1.34");
}

const CERT_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: certificates.cert-manager.io
spec:
  group: cert-manager.io
  names: {kind: Certificate, plural: certificates}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [secretName]
              properties:
                secretName: {type: string}
                dnsNames: {type: array, items: {type: string}}
";

#[test]
fn imported_crds_give_custom_resources_a_schema() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", "resources:\n  - cert.yaml\n");
    // The bundled catalog has cert-manager; turned off, the imported CRD is the only schema.
    write(root, ".fluxgate.yaml", "schemas:\n  projects:\n    cert-manager: off\n");
    write(
        root,
        "app/cert.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\n  namespace: web\nspec:\n  secretName: web-tls\n  dnsName: [web.example.com]\n",
    );
    let r = root.to_str().unwrap();
    let before = fluxgate(&["validate", r, "--format", "json"]);
    assert_eq!(findings(&before), [("schema-missing".to_string(), "app/cert.yaml".to_string(), 1)]);
    let json: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(json["schema_coverage"]["checked"], 0);
    assert_eq!(json["schema_coverage"]["unchecked"][0]["kind"], "Certificate");
    let hint = json["schema_coverage"]["unchecked"][0]["hint"].as_str().unwrap();
    assert!(hint.contains("schemas.projects.cert-manager: off"), "{hint}");

    // The CRD comes from outside the repository (a chart's crds/ directory).
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "crds/certificate.yaml", CERT_CRD);
    let imp = fluxgate(&["schemas", "import", "--root", r, outside.path().join("crds").to_str().unwrap()]);
    assert_eq!(imp.status.code(), Some(0), "{}", String::from_utf8_lossy(&imp.stderr));
    assert!(String::from_utf8_lossy(&imp.stdout).contains("added"));
    assert!(root.join(".fluxgate/schemas/cert-manager.io/Certificate_v1.yaml").is_file());
    let again = fluxgate(&["schemas", "import", "--root", r, outside.path().join("crds").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged"), "deduplicated");

    let after = fluxgate(&["validate", r, "--format", "json"]);
    assert_eq!(findings(&after), [("schema-unknown-field".to_string(), "app/cert.yaml".to_string(), 8)]);
    let json: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(json["schema_coverage"]["checked"], 1);
    assert_eq!(json["schema_coverage"]["checked_kinds"][0]["sourceType"], "repository-catalog");
}

#[test]
fn schema_missing_severity_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", "resources:\n  - x.yaml\n");
    write(root, "app/x.yaml", "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: x\n");
    let r = root.to_str().unwrap();
    assert_eq!(fluxgate(&["validate", r]).status.code(), Some(0), "warning by default");
    write(root, ".fluxgate.yaml", "schemas:\n  missing: error\n");
    assert_eq!(fluxgate(&["validate", r]).status.code(), Some(1));
    write(root, ".fluxgate.yaml", "schemas:\n  missing: 'off'\n");
    let out = fluxgate(&["validate", r, "--format", "json"]);
    assert!(findings(&out).is_empty());
}

const BROKEN_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                name: {type: string, pattern: '(unclosed'}
";

const PV: &str = "\
apiVersion: v1
kind: PersistentVolume
metadata: {name: nfs}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  nfs: {server: nas, path: /export}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: zone, operator: In, values: [a]}
          matchField: []
";

/// Coverage counts an object as checked only when its schema compiled; a schema that does not
/// compile leaves the kind unchecked, and the hint says why. PersistentVolume (whose
/// `nodeAffinity.required` once left a dangling reference in the bundled schema) is checked.
#[test]
fn coverage_counts_only_schemas_that_compile() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", "resources:\n  - crd.yaml\n  - widget.yaml\n  - pv.yaml\n");
    write(root, "app/crd.yaml", BROKEN_CRD);
    write(
        root,
        "app/widget.yaml",
        "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: x\nspec:\n  name: a\n",
    );
    write(root, "app/pv.yaml", PV);
    let out = fluxgate(&["validate", root.to_str().unwrap(), "--format", "json"]);
    let f = findings(&out);
    assert!(f.contains(&("schema-missing".to_string(), "app/widget.yaml".to_string(), 1)), "{f:?}");
    assert!(f.contains(&("schema-unknown-field".to_string(), "app/pv.yaml".to_string(), 13)), "{f:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cov = &json["schema_coverage"];
    assert_eq!((cov["checked"].as_u64(), cov["total"].as_u64()), (Some(2), Some(3)), "{cov}");
    assert_eq!(cov["unchecked"][0]["kind"], "Widget");
    let hint = cov["unchecked"][0]["hint"].as_str().unwrap();
    assert!(hint.contains("does not compile"), "{hint}");
}

const OPERATOR_ALERT: &str = "\
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: flux, namespace: flux-system}
spec:
  providerRef: {name: chat}
  eventSources:
    - kind: FluxInstance
      name: flux
";

/// The Flux Operator's distribution of the notification CRDs (Alert event sources may be its
/// own kinds) is chosen only when the repository installs Flux with a FluxInstance; otherwise
/// upstream's enum holds and the same Alert is an error.
#[test]
fn flux_operator_variant_only_with_a_flux_instance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", "resources:\n  - alert.yaml\n");
    write(root, "app/alert.yaml", OPERATOR_ALERT);
    let r = root.to_str().unwrap();
    let upstream = fluxgate(&["validate", r, "--format", "json"]);
    assert_eq!(findings(&upstream), [("schema-invalid-value".to_string(), "app/alert.yaml".to_string(), 7)]);
    write(
        root,
        "flux/instance.yaml",
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: {name: flux, namespace: flux-system}\nspec:\n  distribution: {version: 2.x, registry: ghcr.io/fluxcd}\n",
    );
    let operator = fluxgate(&["validate", r, "--format", "json"]);
    let errors: Vec<_> = findings(&operator).into_iter().filter(|f| f.0.starts_with("schema-")).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A SOPS file that also encrypts apiVersion and kind is not an unknown kind: Flux decrypts it
/// before applying. It is listed as unchecked, with a hint saying why; without its `sops:`
/// block the same text is an error.
#[test]
fn sops_encrypted_kind_is_unchecked_not_an_error() {
    let enc = "apiVersion: ENC[AES256_GCM,data:TBo=,type:str]\nkind: ENC[AES256_GCM,data:5g8R,type:str]\nmetadata:\n  name: ENC[AES256_GCM,data:lu,type:str]\n  namespace: ENC[AES256_GCM,data:AW,type:str]\n";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/kustomization.yaml", "resources:\n  - creds.sops.yaml\n");
    write(
        root,
        "app/creds.sops.yaml",
        &format!("{enc}sops:\n  mac: ENC[AES256_GCM,data:x,type:str]\n  version: 3.10.2\n"),
    );
    let out = fluxgate(&["validate", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", findings(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hint = json["schema_coverage"]["unchecked"][0]["hint"].as_str().unwrap();
    assert!(hint.contains("SOPS-encrypted"), "{hint}");
    write(root, "app/creds.sops.yaml", enc);
    let plain = fluxgate(&["validate", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(findings(&plain), [("unknown-kind".to_string(), "app/creds.sops.yaml".to_string(), 1)]);
}
