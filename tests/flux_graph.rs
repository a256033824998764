//! Every case under `fixtures/flux-graph/` is one cluster: all documents of all its YAML files
//! (each file its own entry point). The Flux graph checks and the image marker check over it
//! report exactly the errors its `EXPECTED` file lists (`rule file:line`, one per line). Each
//! case is also a valid Flux repository: `tests/flux_graph_e2e.rs` runs it end to end.

use std::path::{Path, PathBuf};

use fluxgate::flux::graph::{ClusterObject, GraphFinding, check_cluster};
use fluxgate::flux::markers::{check_markers, image_policies};
use fluxgate::kustomize::resource::Resource;
use fluxgate::source::{RelPath, Repo};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-graph");
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// Every `.yaml`/`.yml` file below `dir`, sorted.
fn yaml_files(repo: &Repo, dir: &RelPath, out: &mut Vec<RelPath>) {
    for (name, is_dir) in repo.list_dir(dir).unwrap() {
        let p = dir.join(&name).unwrap();
        if is_dir {
            yaml_files(repo, &p, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(p);
        }
    }
}

fn run(case: &Path) -> Vec<String> {
    let repo = Repo::open(case).unwrap();
    let mut files = Vec::new();
    yaml_files(&repo, &RelPath::root(), &mut files);
    let mut resources: Vec<(String, Resource)> = Vec::new();
    for f in &files {
        let parsed = repo.load_yaml(f).unwrap();
        assert!(parsed.error.is_none(), "{f}: {:?}", parsed.error);
        for doc in &parsed.docs {
            // Chart.yaml and values.yaml are YAML but not Kubernetes objects.
            if doc.str_at(&["apiVersion"]).is_some() && doc.str_at(&["metadata", "name"]).is_some() {
                resources.push((f.to_string(), Resource::new(doc.clone())));
            }
        }
    }
    let objects: Vec<ClusterObject> =
        resources.iter().map(|(ep, r)| ClusterObject { entry_point: ep, resource: r }).collect();
    let mut found: Vec<GraphFinding> = check_cluster(&repo, &RelPath::parse("clusters/dev").unwrap(), &objects);
    let policies = image_policies(resources.iter().map(|(_, r)| r));
    found.extend(check_markers(&repo, &files, &policies));
    for f in &found {
        let l = f.finding.location.as_ref().unwrap();
        eprintln!("  {}:{}:{} {} [{}] {}", l.file, l.line, l.column, f.finding.rule, f.entry_point, f.finding.message);
    }
    let mut got: Vec<String> = found
        .iter()
        .map(|f| {
            let l = f.finding.location.as_ref().unwrap();
            format!("{} {}:{}", f.finding.rule, l.file, l.line)
        })
        .collect();
    got.sort();
    got
}

#[test]
fn every_rule_has_a_case_and_a_clean_case_exists() {
    let names: Vec<String> = cases().iter().map(|c| c.file_name().unwrap().to_string_lossy().to_string()).collect();
    for rule in [
        "dependency-missing",
        "dependency-cycle",
        "source-missing",
        "path-missing",
        "duplicate-object",
        "values-from-missing",
        "image-policy-missing",
        "automation-path-missing",
        "helm-values-invalid",
        "clean",
    ] {
        assert!(names.iter().any(|n| n.ends_with(rule)), "no case for {rule}");
    }
}

#[test]
fn each_case_reports_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        eprintln!("{name}:");
        let mut want: Vec<String> = std::fs::read_to_string(case.join("EXPECTED"))
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        want.sort();
        let got = run(&case);
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
