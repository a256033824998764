//! Whether a Flux reference that the cluster's render does not resolve is certain to fail.
//!
//! fluxgate sees what the repository renders; the cluster has more: objects an operator makes
//! from objects of the repository (the Flux Operator's sync source, the Secret of an
//! `ExternalSecret`), objects of a part of the tree that did not render or whose source is not
//! this repository, objects a `ResourceSet` generates, and Secrets kept outside Git. A missing
//! `dependsOn`, `sourceRef` or `valuesFrom` target is an error only when none of these can
//! supply it; otherwise it is a warning that says where the object may come from.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::kustomize::resource::{Resource, is_cluster_scoped};
use crate::source::Node;

/// group, kind, namespace (empty when cluster-scoped), name, in one string: the lengths of
/// the first three, then the four side by side (so two identities never share a key). One
/// allocation rather than four: the repository's index holds a key per object of every Flux
/// entry point while the graph is checked (on huge, 159,000 of them), and is only looked up.
type Key = Box<str>;

fn key(group: &str, kind: &str, namespace: &str, name: &str) -> Key {
    let ns = if is_cluster_scoped(kind) { "" } else { namespace };
    format!("{}/{}/{}/{group}{kind}{ns}{name}", group.len(), kind.len(), ns.len()).into_boxed_str()
}

/// The trees that render or make one object: each tree's directory (shared by its objects)
/// and, when an operator makes it, what does.
type Trees = Vec<(Arc<str>, Option<String>)>;

/// The API group of the Flux Operator's kinds.
const OPERATOR_GROUP: &str = "fluxcd.controlplane.io";
const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";

/// How an unresolved reference stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// An operator makes it from an object of this cluster (named in the text): no finding.
    Made(String),
    /// It may exist in the cluster; the text says why (a warning, not an error).
    Unsure(String),
    /// Nothing in or around the repository can supply it: the controller will fail.
    Missing,
}

/// Every object the repository's Flux trees render or make, with the trees that do: shared
/// by the clusters, and indexed only when a reference does not resolve in its own cluster
/// (a healthy repository never asks, and indexing every object was a serial step of each run).
#[derive(Debug, Default)]
pub struct RepoObjects<'a> {
    /// `(tree directory, object)` pairs, in order.
    objects: Vec<(&'a str, &'a Resource)>,
    /// Per object, the trees (directory, and what makes it when an operator does), in order.
    /// A tree's directory is shared by all its objects.
    trees: OnceLock<BTreeMap<Key, Trees>>,
}

impl<'a> RepoObjects<'a> {
    /// The objects of `(tree directory, object)` pairs; each object, and what operators make
    /// from it, is indexed on first use.
    pub fn new(objects: impl Iterator<Item = (&'a str, &'a Resource)>) -> RepoObjects<'a> {
        RepoObjects { objects: objects.collect(), trees: OnceLock::new() }
    }

    fn trees(&self) -> &BTreeMap<Key, Trees> {
        self.trees.get_or_init(|| {
            let mut trees: BTreeMap<Key, Trees> = BTreeMap::new();
            // A tree's objects come together: one shared directory string per run of them.
            let mut dir: Arc<str> = Arc::from("");
            for &(tree, r) in &self.objects {
                if *dir != *tree {
                    dir = Arc::from(tree);
                }
                let tree = Arc::clone(&dir);
                trees.entry(key(r.group(), r.kind(), r.namespace(), r.name())).or_default().push((tree.clone(), None));
                for (k, why) in made_by(r) {
                    trees.entry(k).or_default().push((tree.clone(), Some(why)));
                }
            }
            trees
        })
    }

    /// Whether some tree of the repository renders or makes (group, kind, namespace, name).
    pub fn has(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.trees().contains_key(&key(group, kind, namespace, name))
    }
}

/// What may supply objects to one cluster beyond its own render.
#[derive(Clone, Debug, Default)]
pub struct Provenance<'a> {
    /// The cluster's tree directory.
    tree: String,
    /// Objects operators make from this cluster's objects, with what makes them.
    made: BTreeMap<Key, String>,
    /// The whole repository's objects (other trees may belong to the same cluster).
    repo: Arc<RepoObjects<'a>>,
    /// Why this cluster's render may lack objects the cluster has (empty: it is complete).
    gaps: Vec<String>,
}

impl<'a> Provenance<'a> {
    /// `own`: the cluster's rendered objects (tree directory `tree`); `repo`: every tree's
    /// objects; `gaps`: why the cluster's own render may be incomplete (Flux Kustomizations
    /// that did not render, sources that are not this repository).
    pub fn new<'o>(
        tree: &str,
        own: impl Iterator<Item = &'o Resource>,
        repo: Arc<RepoObjects<'a>>,
        mut gaps: Vec<String>,
    ) -> Provenance<'a> {
        let mut made = BTreeMap::new();
        for r in own {
            for (k, why) in made_by(r) {
                made.entry(k).or_insert(why);
            }
            if r.group() == OPERATOR_GROUP && r.kind() == "ResourceSet" {
                gaps.push(format!(
                    "ResourceSet '{}/{}' generates objects fluxgate does not render",
                    r.namespace(),
                    r.name()
                ));
            }
        }
        gaps.sort();
        gaps.dedup();
        Provenance { tree: tree.to_string(), made, repo, gaps }
    }

    /// How a reference to (group, kind, namespace, name) that the cluster's render lacks stands.
    pub fn resolve(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Resolution {
        let k = key(group, kind, namespace, name);
        if let Some(why) = self.made.get(&k) {
            return Resolution::Made(why.clone());
        }
        let elsewhere = self.repo.trees().get(&k).and_then(|v| v.iter().find(|(t, _)| **t != *self.tree));
        if let Some((tree, why)) = elsewhere {
            let how = why.as_ref().map(|w| format!(", made by {w}")).unwrap_or_default();
            return Resolution::Unsure(format!(
                "the Flux tree {tree} of the repository has it{how}; if that tree is applied to this cluster, the reference resolves"
            ));
        }
        if group.is_empty() && kind == "Secret" {
            return Resolution::Unsure(
                "Secrets are often made outside Git (a bootstrap script, an operator, a chart), so its absence from the repository is not certain to fail".to_string(),
            );
        }
        match self.gaps.first() {
            Some(gap) => Resolution::Unsure(format!("the cluster's render is incomplete: {gap}")),
            None => Resolution::Missing,
        }
    }
}

/// The objects an operator makes from `r`, each with a phrase saying what makes it.
fn made_by(r: &Resource) -> Vec<(Key, String)> {
    let (group, kind) = (r.group(), r.kind());
    let ns = r.namespace();
    let node = &r.node;
    // Formatted only for an operator's kind: this runs for every object of the repository.
    let who = || format!("{} '{}/{}'", kind, ns, r.name());
    match (group, kind) {
        (OPERATOR_GROUP, "FluxInstance") => sync_objects(node.path(&["spec", "sync"]), ns, &who()),
        ("helm.toolkit.fluxcd.io", "HelmRelease") if super::version::installs_flux_instance(node) => {
            let ns = node.str_at(&["spec", "targetNamespace"]).unwrap_or(ns);
            sync_objects(
                node.path(&["spec", "values", "instance", "sync"]),
                ns,
                &format!("{} (flux-instance chart)", who()),
            )
        }
        ("external-secrets.io", "ExternalSecret") => {
            let name = node.str_at(&["spec", "target", "name"]).unwrap_or(r.name());
            vec![(key("", "Secret", ns, name), who())]
        }
        ("bitnami.com", "SealedSecret") => {
            let name = node.str_at(&["spec", "template", "metadata", "name"]).unwrap_or(r.name());
            vec![(key("", "Secret", ns, name), who())]
        }
        ("cert-manager.io", "Certificate") => {
            node.str_at(&["spec", "secretName"]).map(|s| (key("", "Secret", ns, s), who())).into_iter().collect()
        }
        // The bucket provisioner (Rook, NooBaa) writes the endpoint to a ConfigMap and the
        // credentials to a Secret, both named after the claim.
        ("objectbucket.io", "ObjectBucketClaim") => {
            vec![(key("", "ConfigMap", ns, r.name()), who()), (key("", "Secret", ns, r.name()), who())]
        }
        _ => Vec::new(),
    }
}

/// The source and the Kustomization a FluxInstance's `sync` makes (both named `sync.name`,
/// by default `flux-system`, in the instance's namespace).
fn sync_objects(sync: Option<&Node>, ns: &str, who: &str) -> Vec<(Key, String)> {
    let Some(sync) = sync else { return Vec::new() };
    let name = sync.str_at(&["name"]).unwrap_or("flux-system");
    let kind = sync.str_at(&["kind"]).unwrap_or("GitRepository");
    vec![
        (key(SOURCE_GROUP, kind, ns, name), who.to_string()),
        (key(KUSTOMIZE_GROUP, "Kustomization", ns, name), who.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{RelPath, Repo};

    fn resources(text: &str) -> Vec<Resource> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.yaml"), text).expect("write");
        let repo = Repo::open(dir.path()).expect("repo");
        let docs = repo.load_yaml(&RelPath::parse("a.yaml").expect("path")).expect("yaml").docs.clone();
        docs.into_iter().map(Resource::new).collect()
    }

    #[test]
    fn operator_made_objects_resolve_and_the_rest_depends_on_gaps() {
        let own = resources(
            "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: {name: flux, namespace: flux-system}\nspec:\n  sync: {kind: OCIRepository, name: cluster, url: oci://x}\n---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db, namespace: app}\nspec: {target: {name: db-creds}}\n---\napiVersion: objectbucket.io/v1alpha1\nkind: ObjectBucketClaim\nmetadata: {name: chunks, namespace: app}\nspec: {bucketName: chunks}\n",
        );
        let none = Arc::new(RepoObjects::default());
        let p = Provenance::new("c", own.iter(), none.clone(), Vec::new());
        assert!(matches!(p.resolve(SOURCE_GROUP, "OCIRepository", "flux-system", "cluster"), Resolution::Made(_)));
        assert!(matches!(p.resolve("", "Secret", "app", "db-creds"), Resolution::Made(_)));
        assert!(matches!(p.resolve("", "Secret", "app", "other"), Resolution::Unsure(_)));
        assert!(matches!(p.resolve("", "ConfigMap", "app", "chunks"), Resolution::Made(_)));
        assert!(matches!(p.resolve("", "Secret", "app", "chunks"), Resolution::Made(_)));
        assert_eq!(p.resolve(SOURCE_GROUP, "HelmRepository", "flux-system", "charts"), Resolution::Missing);
        let gap = Provenance::new("c", own.iter(), none, vec!["Kustomization 'a/b' did not render".into()]);
        match gap.resolve(SOURCE_GROUP, "HelmRepository", "flux-system", "charts") {
            Resolution::Unsure(why) => assert!(why.contains("did not render"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flux_instance_chart_values_and_other_trees_count() {
        let own = resources(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: flux-instance, namespace: flux-system}\nspec:\n  chartRef: {kind: OCIRepository, name: flux-instance}\n  values:\n    instance:\n      sync: {kind: GitRepository, name: home, url: https://x}\n",
        );
        let other = resources(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: app-template, namespace: flux-system}\n",
        );
        let repo = Arc::new(RepoObjects::new(own.iter().map(|r| ("c", r)).chain(other.iter().map(|r| ("setup", r)))));
        let p = Provenance::new("c", own.iter(), repo, Vec::new());
        assert!(matches!(p.resolve(SOURCE_GROUP, "GitRepository", "flux-system", "home"), Resolution::Made(_)));
        match p.resolve(SOURCE_GROUP, "OCIRepository", "flux-system", "app-template") {
            Resolution::Unsure(why) => assert!(why.contains("setup"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
