//! The schema registry of a run: bundled schemas for the target Kubernetes version, every CRD
//! in the repository (and `schemas.crds`), the schema catalog, then the bundled CRD catalog.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::discover::{Discovery, Needle};
use crate::schema::registry::Registry;
use crate::source::{RelPath, Repo};

/// Builds the schema registry: bundled schemas for the target version, every CRD in the
/// repository's YAML files (and `schemas.crds`), and the schema catalog.
pub fn build_registry(repo: &Repo, config: &Config, d: &Discovery) -> Result<Registry, String> {
    let mut reg = Registry::new(config.kubernetes_version.as_deref())?;
    if crate::flux::version::installed(repo, d).iter().any(|i| i.by_operator) {
        reg.accept_flux_operator_kinds();
    }
    let mut files: BTreeSet<RelPath> = d.files_with(&[Needle::Crd]).into_iter().collect();
    let mut extra_files = Vec::new();
    for extra in &config.crds {
        let p = RelPath::parse(extra).ok_or_else(|| format!("schemas.crds path '{extra}' leaves the repository"))?;
        if repo.is_dir(&p) {
            crate::discover::walk_yaml(repo, &p, &mut extra_files);
        } else if repo.is_file(&p) {
            extra_files.push(p);
        } else {
            return Err(format!("schemas.crds path '{extra}' does not exist"));
        }
    }
    extra_files.retain(|p| !d.yaml_files.contains(p));
    files.extend(Discovery::of_files(repo, extra_files).files_with(&[Needle::Crd]));
    for p in &files {
        let Ok(f) = repo.read(p) else { continue };
        if !f.text.contains("CustomResourceDefinition") {
            continue;
        }
        if let Ok(parsed) = repo.load_yaml(p) {
            for doc in &parsed.docs {
                reg.add_repo_crd(doc, p.as_str());
            }
        }
    }
    if let Some(catalog) = RelPath::parse(&config.schema_catalog) {
        reg.load_catalog(repo, &catalog);
    }
    if let Some(lookup) = &config.cluster
        && let crate::cluster::lookup::Fact::Known(items) = lookup.crds()
    {
        let nodes: Vec<crate::source::Node> =
            items.iter().map(|j| crate::source::Node::from_json(j, crate::source::Loc::default())).collect();
        reg.add_cluster_crds(&nodes, lookup.client().context());
    }
    reg.add_bundled_catalog(&config.schema_projects)?;
    Ok(reg)
}
