//! The bundled CRD catalog against one valid and one invalid object per project: every
//! `fixtures/catalog/<project>.yaml` holds objects of that project's kinds; a line carrying
//! `# error: <rule>` is where a finding of that rule must be, and no other line may have one.
//! Also the precedence of repository CRDs and the repository's catalog over the bundled one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluxgate::schema::registry::{Origin, Registry, Resolved};
use fluxgate::schema::{catalog, loc_at};
use fluxgate::source::yaml::{Dialect, parse};
use fluxgate::source::{FileId, Limits};

/// The default catalog, plus every opt-in release pinned (pinning one project changes no other).
fn registry() -> Registry {
    let mut r = Registry::new(None).unwrap();
    let opt_in = catalog::projects().iter().filter(|p| p.opt_in).map(|p| (p.name.clone(), p.release.clone()));
    r.add_bundled_catalog(&opt_in.collect()).unwrap();
    r
}

/// (line, rule) of every finding on the objects of one fixture file, and the projects whose
/// bundled schemas checked them, with the count of objects per project that had no finding.
/// (line, rule) pairs: where a finding is, and of which rule.
type Found = BTreeSet<(u32, String)>;

fn check_file(reg: &Registry, text: &str) -> (Found, BTreeMap<String, (usize, usize)>) {
    let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
    assert!(parsed.error.is_none(), "{:?}", parsed.error.map(|e| e.message));
    let mut found = BTreeSet::new();
    let mut per_project: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for doc in &parsed.docs {
        let (av, kind) = (doc.str_at(&["apiVersion"]).unwrap(), doc.str_at(&["kind"]).unwrap());
        let resolved = reg.lookup(av, kind);
        let Resolved::Schema { origin: Origin::Bundled { project, .. }, schema, cel, .. } = &*resolved else {
            panic!("{av} {kind}: not from the bundled catalog");
        };
        let mut violations = schema.as_ref().unwrap().validate(doc);
        if let Some(c) = cel {
            violations.extend(c.evaluate(doc).violations);
        }
        let e = per_project.entry(project.clone()).or_default();
        if violations.is_empty() {
            e.0 += 1
        } else {
            e.1 += 1
        }
        for v in violations {
            found.insert((loc_at(doc, &v.path).line, v.rule.id().to_string()));
        }
    }
    (found, per_project)
}

fn expected(text: &str) -> BTreeSet<(u32, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| Some((i as u32 + 1, l.split_once("# error: ")?.1.trim().to_string())))
        .collect()
}

#[test]
fn one_valid_and_one_invalid_object_per_project_at_their_lines() {
    let reg = registry();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/catalog");
    let mut covered = BTreeSet::new();
    let mut mismatches = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(f).unwrap();
        let (found, per_project) = check_file(&reg, &text);
        if found != expected(&text) {
            mismatches.push(format!("{}: found {found:?}, expected {:?}", f.display(), expected(&text)));
        }
        for (project, (valid, invalid)) in per_project {
            if valid == 0 || invalid == 0 {
                mismatches.push(format!("{}: {project} needs a valid and an invalid object", f.display()));
            }
            covered.insert(project);
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let defaults: BTreeSet<String> =
        catalog::projects().iter().filter(|p| p.default || p.opt_in).map(|p| p.name.clone()).collect();
    let missing: Vec<_> = defaults.difference(&covered).collect();
    assert!(missing.is_empty(), "projects without a fixture: {missing:?}");
}

const CERT_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
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
              properties:
                onlyInRepo: {type: string}
";

#[test]
fn repository_crds_win_over_the_bundled_catalog() {
    let mut reg = Registry::new(None).unwrap();
    let crd = parse(CERT_CRD, FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0);
    reg.add_repo_crd(&crd, "crds/cert.yaml");
    reg.add_bundled_catalog(&BTreeMap::new()).unwrap();
    let Resolved::Schema { origin, .. } = &*reg.lookup("cert-manager.io/v1", "Certificate") else { panic!() };
    assert_eq!(origin, &Origin::RepoCrd("crds/cert.yaml".into()));
    // Other kinds of the project still come from the catalog.
    let Resolved::Schema { origin, .. } = &*reg.lookup("cert-manager.io/v1", "ClusterIssuer") else { panic!() };
    assert_eq!(origin, &Origin::Bundled { project: "cert-manager".into(), release: "v1.21.1".into() });
}

#[test]
fn a_project_turned_off_has_no_schema_and_says_why() {
    let mut reg = Registry::new(None).unwrap();
    reg.add_bundled_catalog(&BTreeMap::from([("cert-manager".into(), "off".into())])).unwrap();
    assert!(matches!(&*reg.lookup("cert-manager.io/v1", "Certificate"), Resolved::Missing { .. }));
    assert!(reg.missing_hint("cert-manager.io/v1", "Certificate").contains("schemas.projects.cert-manager: off"));
    let e = registry().add_bundled_catalog(&BTreeMap::from([("cert-manager".into(), "v0".into())])).unwrap_err();
    assert!(e.contains("v1.21.1"), "{e}");
}

#[test]
fn the_bundled_catalog_is_not_advertised_to_helm() {
    let reg = registry();
    let apis = reg.api_versions();
    assert!(
        !apis.iter().any(|a| a.starts_with("cert-manager.io/")),
        "a chart would render for a CRD the cluster may lack"
    );
    assert!(reg.is_namespaced("cert-manager.io/v1", "Certificate"));
    assert!(!reg.is_namespaced("cert-manager.io/v1", "ClusterIssuer"));
    assert_eq!(reg.resource_of("cilium.io/v2", "CiliumIdentity"), "ciliumidentities");
}

#[test]
fn schemas_list_names_each_kind_and_its_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-gsf");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["schemas", "list", "--format", "json"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |av: &str, kind: &str| rows.iter().find(|r| r["apiVersion"] == av && r["kind"] == kind).cloned();
    let cert = find("cert-manager.io/v1", "Certificate").unwrap();
    assert_eq!(cert["sourceType"], "bundled-catalog");
    assert_eq!(cert["source"], "bundled cert-manager v1.21.1 CRDs");
    assert!(find("kustomize.toolkit.fluxcd.io/v1", "Kustomization").is_some());
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgate"))
        .args(["schemas", "list"])
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("built-in kinds: Kubernetes 1."), "{text}");
    assert!(text.lines().any(|l| l.starts_with("gateway.networking.k8s.io/v1 ")
        && l.contains("HTTPRoute")
        && l.ends_with("bundled gateway-api v1.6.1-experimental CRDs")));
}
