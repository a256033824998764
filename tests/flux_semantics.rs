//! Flux as the controllers see it, on fixtures that reproduce real repository layouts: a
//! cluster-template tree whose root patches every child (fixtures/flux-cluster-template), a
//! cluster synced from an OCI artifact of a sub-directory (fixtures/flux-oci-root), and Flux
//! 2.7 ArtifactGenerator sources (fixtures/flux-artifact-generator). Each must validate with no
//! error and exactly the warnings and infos listed here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

fn validate(root: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["validate", "--format", "json", "--offline"])
        .arg(root)
        .output()
        .unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

/// `(severity, rule, entry point, message)` of every finding but `schema-missing` (which
/// depends on the bundled CRD catalog, not on Flux semantics), sorted.
fn findings(json: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let mut out: Vec<_> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] != "schema-missing")
        .map(|f| (s(&f["severity"]), s(&f["rule"]), s(&f["entry_point"]), s(&f["message"])))
        .collect();
    out.sort();
    out
}

fn render_flux(root: &Path, entry: &str) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_fluxgate")).args(["render", "--flux", entry]).arg(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn row(sev: &str, rule: &str, ep: &str, msg: &str) -> (String, String, String, String) {
    (sev.into(), rule.into(), ep.into(), msg.into())
}

#[test]
fn cluster_template_children_take_the_parents_patches_and_variables() {
    let root = fixture("flux-cluster-template");
    let (code, json) = validate(&root);
    assert_eq!(code, Some(0), "{:#}", json["findings"]);
    assert_eq!(json["summary"]["errors"], 0);
    assert_eq!(
        findings(&json),
        [
            row(
                "info",
                "flux-not-applied",
                "kubernetes/apps/media/old/default/old",
                "Kustomization default/old is in kubernetes/apps, which a cluster builds without it: no controller applies it"
            ),
            row(
                "info",
                "flux-substitute-generated",
                "kubernetes/flux/cluster/media/web",
                "substituteFrom Secret 'media/app-secrets' is made in the cluster by ExternalSecret 'media/web-db-credentials': its values are not known here"
            ),
            row(
                "warning",
                "flux-substitute-external",
                "kubernetes/flux/cluster/tools/echo",
                "substituteFrom Secret 'tools/app-secrets' is not in the repository: the cluster must provide it, or the Kustomization fails"
            ),
        ]
    );
    // Children are read from the root's render: in their namespace, patched, substituted from
    // the component's ConfigMap; a SOPS value and an ExternalSecret's value stay references.
    let web = render_flux(&root, "kubernetes/flux/cluster/media/web");
    for want in [
        "  name: web-settings\n  namespace: media\n",
        "url: https://web.lab.example.org\n",
        "relay-token: ${MAIL_RELAY_TOKEN}\n",
        "db-password: ${DB_PASSWORD}\n",
        "theme: dark\n",
        "listen: :8080\n",
    ] {
        assert!(web.contains(want), "{want:?} not in\n{web}");
    }
    // The placeholder Namespace `_` takes each kustomization's namespace, as kustomize does.
    let apps = render_flux(&root, "kubernetes/flux/cluster/flux-system/cluster-apps");
    assert!(apps.contains("kind: Namespace\nmetadata:\n  labels:\n    kustomize.toolkit.fluxcd.io/name: cluster-apps\n    kustomize.toolkit.fluxcd.io/namespace: flux-system\n  name: media\n"), "{apps}");
    assert!(!apps.contains("name: _\n"), "{apps}");
}

#[test]
fn oci_root_of_a_sub_directory_is_mapped_and_reported() {
    let (code, json) = validate(&fixture("flux-oci-root"));
    assert_eq!(code, Some(0), "{:#}", json["findings"]);
    assert_eq!(
        findings(&json),
        [row(
            "info",
            "flux-source-mapped",
            "kubernetes/clusters/prod/flux-system/apps",
            "OCIRepository 'flux-system/flux-system' of Kustomization flux-system/apps is taken to be directory 'kubernetes' of this repository (the only directory where spec.path './apps/prod' exists)"
        )]
    );
}

#[test]
fn artifact_generator_sources_are_mapped_through_their_copy_rules() {
    let (code, json) = validate(&fixture("flux-artifact-generator"));
    assert_eq!(code, Some(0), "{:#}", json["findings"]);
    let mapped = |ks: &str, ea: &str, dir: &str| {
        row(
            "info",
            "flux-source-mapped",
            &format!("clusters/prod/flux-system/{ks}"),
            &format!(
                "ExternalArtifact 'flux-system/{ea}' of Kustomization flux-system/{ks} is taken to be directory '{dir}' of this repository (copied by ArtifactGenerator 'flux-system/monorepo')"
            ),
        )
    };
    assert_eq!(findings(&json), [mapped("apps", "apps", "apps"), mapped("infra-configs", "infra", "infrastructure")]);
    let names: Vec<&str> = json["entry_points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "flux")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    // The bootstrap sync Kustomization exists although gotk-sync.yaml is a placeholder.
    assert_eq!(
        names,
        [
            "clusters/prod/flux-system/apps",
            "clusters/prod/flux-system/flux-system",
            "clusters/prod/flux-system/infra-configs"
        ]
    );
}
