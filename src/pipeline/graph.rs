//! The checks of a repository's Flux graph as a whole (dependsOn, sourceRef, paths,
//! duplicates, valuesFrom, chart values, image automation markers), kept to the entry points
//! this run reports.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use crate::discover::{Discovery, Needle};
use crate::finding::Finding;
use crate::flux;
use crate::flux::tree::FluxEntry;
use crate::gate::{affected, changes};
use crate::source::{RelPath, Repo};

use super::select::Scope;

/// The graph's findings and the admission policies' own, without those that belong to the
/// base's state rather than this change: findings of unselected entry points, and run-level
/// ones in unchanged files.
pub(super) fn graph_findings(
    repo: &Repo,
    config: &crate::config::Config,
    discovery: &Discovery,
    entries: &[FluxEntry],
    admission_findings: Vec<Finding>,
    scope: &Scope,
    change: Option<&(changes::Changes, affected::Selection)>,
) -> Vec<Finding> {
    let mut out = if entries.is_empty() { Vec::new() } else { flux_graph_checks(repo, config, discovery, entries) };
    out.extend(admission_findings);
    if let Some((_, sel)) = change {
        out.retain(|f| match &f.entry_point {
            Some(ep) => scope.is_selected(ep),
            None => {
                sel.everything.is_some()
                    || f.location
                        .as_ref()
                        .and_then(|l| RelPath::parse(&l.file))
                        .is_none_or(|p| sel.changed.contains(&p))
            }
        });
    }
    out
}

/// What may supply one cluster's objects beyond its render: operators fed by its objects,
/// the other cluster trees of the repository, and the gaps of its own render (entry points
/// that did not render, around or inside it; children whose source is not this repository).
fn cluster_provenance<'a>(
    dir: &str,
    objects: &[flux::graph::ClusterObject],
    repo_objects: &std::sync::Arc<flux::provenance::RepoObjects<'a>>,
    entries: &[FluxEntry],
) -> flux::provenance::Provenance<'a> {
    let mut gaps = Vec::new();
    // A failed render whose directory holds this tree's root directory: this "cluster" is
    // then most likely a child of that tree, whose other objects fluxgate has not seen.
    let inside = |d: &str| d == "." || d.is_empty() || dir == d || dir.starts_with(&format!("{d}/"));
    let cluster_of = flux::entry::cluster_of;
    for e in entries.iter().filter(|e| e.result.is_err() && cluster_of(&e.name) != dir && inside(&e.dir)) {
        gaps.push(format!("Flux Kustomization {}, which builds {} around this tree, did not render", e.key, e.dir));
    }
    for e in entries.iter().filter(|e| cluster_of(&e.name) == dir) {
        if e.result.is_err() {
            gaps.push(format!("Flux Kustomization {} did not render", e.key));
        }
        for (d, child) in &e.child_notes {
            // A child built from another source adds objects only if that source exists (a
            // missing one is itself reported, and then the child builds nothing).
            let src = |k: &str| child.node.str_at(&["spec", "sourceRef", k]);
            let source_exists = repo_objects.has(
                "source.toolkit.fluxcd.io",
                src("kind").unwrap_or("GitRepository"),
                src("namespace").unwrap_or(child.namespace()),
                src("name").unwrap_or(""),
            );
            if d.rule == crate::rules::Rule::FluxSourceOutOfScope && source_exists {
                gaps.push(format!(
                    "Kustomization '{}/{}' is built from a source that is not this repository",
                    child.namespace(),
                    child.name()
                ));
            }
        }
    }
    flux::provenance::Provenance::new(dir, objects.iter().map(|o| o.resource), repo_objects.clone(), gaps)
}

/// Graph checks per cluster (dependsOn, sourceRef, paths, duplicates, valuesFrom, chart values)
/// and image automation markers across the repository.
fn flux_graph_checks(
    repo: &Repo,
    config: &crate::config::Config,
    discovery: &Discovery,
    entries: &[FluxEntry],
) -> Vec<Finding> {
    let mut clusters: BTreeMap<&str, Vec<flux::graph::ClusterObject>> = BTreeMap::new();
    for e in entries {
        let objects = clusters.entry(flux::entry::cluster_of(&e.name)).or_default();
        if let Ok(r) = &e.result {
            objects.extend(
                r.resources.iter().map(|resource| flux::graph::ClusterObject { entry_point: &e.name, resource }),
            );
        }
    }
    // The GitRepositories whose Kustomizations were rendered from this repository.
    let rendered: BTreeSet<&str> = entries.iter().filter(|e| e.result.is_ok()).map(|e| e.name.as_str()).collect();
    let repo_objects = std::sync::Arc::new(flux::provenance::RepoObjects::new(
        clusters.iter().flat_map(|(d, objs)| objs.iter().map(move |o| (*d, o.resource))),
    ));
    let mut out: Vec<Finding> = clusters
        .par_iter()
        .flat_map_iter(|(dir, objects)| {
            let sources = flux::graph::this_repo_sources(dir, objects, &rendered);
            let provenance = cluster_provenance(dir, objects, &repo_objects, entries);
            let opts = flux::graph::GraphOptions {
                repo_sources: Some(sources),
                provenance,
                cluster: config.cluster.clone().filter(|l| l.syncs(dir)),
            };
            let dir = RelPath::parse(dir).unwrap_or_default();
            flux::graph::check_cluster_with(repo, &dir, objects, &opts).into_iter().map(|g| g.finding)
        })
        .collect();
    let mut policies = flux::markers::image_policies(
        entries.iter().filter_map(|e| e.result.as_ref().ok()).flat_map(|r| r.resources.iter()),
    );
    for p in &discovery.files_with(&[Needle::ImagePolicy]) {
        if let Ok(parsed) = repo.load_yaml(p) {
            for doc in &parsed.docs {
                if doc.str_at(&["kind"]) == Some("ImagePolicy")
                    && doc.str_at(&["apiVersion"]).is_some_and(|a| a.starts_with("image.toolkit.fluxcd.io/"))
                    && let Some(name) = doc.str_at(&["metadata", "name"])
                {
                    let ns = doc.str_at(&["metadata", "namespace"]).unwrap_or("default");
                    policies.insert((ns.to_string(), name.to_string()));
                }
            }
        }
    }
    out.extend(
        flux::markers::check_markers(repo, &discovery.files_with(&[Needle::ImageMarker]), &policies)
            .into_iter()
            .map(|g| g.finding),
    );
    out
}
