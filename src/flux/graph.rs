//! Flux graph checks over one cluster's render: the references between Flux objects
//! (`dependsOn`, `sourceRef`, `valuesFrom`, paths) must resolve inside the cluster, or the
//! controllers stall with "dependency not found" / "source not found" after the merge. These
//! are pure functions over the rendered objects, so the caller decides how clusters are rendered.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use crate::cluster::lookup::Fact;
use crate::finding::Finding;
use crate::kustomize::resource::{Resource, is_cluster_scoped, kustomize_cluster_scoped};
use crate::rules::Rule;
use crate::source::{Loc, Node, RelPath, Repo};

use super::provenance::{Provenance, Resolution};

/// API group of Flux Kustomizations.
pub const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// API group of HelmReleases.
pub const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
/// API group of Flux sources (GitRepository, OCIRepository, Bucket, HelmRepository, HelmChart,
/// ExternalArtifact).
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
/// API group of ImagePolicy and ImageUpdateAutomation.
pub const IMAGE_GROUP: &str = "image.toolkit.fluxcd.io";

/// One object of a cluster's render, with the Flux entry point that applies it.
#[derive(Clone, Copy, Debug)]
pub struct ClusterObject<'a> {
    pub entry_point: &'a str,
    pub resource: &'a Resource,
}

/// A graph finding: the finding (rule, message, help, object, location filled in), the source
/// position it points at, and the entry point it belongs to.
#[derive(Clone, Debug)]
pub struct GraphFinding {
    pub entry_point: String,
    pub finding: Finding,
    pub loc: Loc,
}

/// Settings of the graph checks that depend on how the repository is wired.
#[derive(Clone, Debug, Default)]
pub struct GraphOptions<'a> {
    /// The GitRepositories (namespace, name) that are this repository, whose paths are checked
    /// on disk. `None`: every GitRepository is taken to be this repository (the common
    /// single-repo layout); paths of other sources are never checked.
    pub repo_sources: Option<BTreeSet<(String, String)>>,
    /// What may supply objects the render lacks; decides whether a missing reference is an
    /// error or a [`Rule::FluxReferenceUnresolved`] warning (the default: certain).
    pub provenance: Provenance<'a>,
    /// `validate --cluster`: the live cluster, asked whether a reference the render lacks
    /// exists there, which turns the warning into no finding or a certain one.
    pub cluster: Option<std::sync::Arc<crate::cluster::lookup::Lookup>>,
}

impl GraphOptions<'_> {
    /// Whether a `sourceRef` (kind, namespace, name) points at this repository.
    pub fn is_this_repo(&self, kind: &str, namespace: &str, name: &str) -> bool {
        kind == "GitRepository"
            && self.repo_sources.as_ref().is_none_or(|s| s.contains(&(namespace.to_string(), name.to_string())))
    }
}

/// The sources (namespace, name) of a cluster that are this repository: the sources of the
/// cluster's Flux Kustomizations that were rendered from it (`rendered` holds the entry point
/// names `<dir>/<namespace>/<name>` that rendered). A GitRepository among them is checked as
/// this repository; any of them exists in the cluster even when no object in the repository
/// defines it (the bootstrap source made by `flux bootstrap` or a FluxInstance's `sync`).
pub fn this_repo_sources(
    dir: &str,
    objects: &[ClusterObject],
    rendered: &BTreeSet<&str>,
) -> BTreeSet<(String, String)> {
    let mut sources = BTreeSet::new();
    for o in objects.iter().map(|o| o.resource) {
        let ns = if o.namespace().is_empty() { "default" } else { o.namespace() };
        let is_rendered = o.kind() == "Kustomization"
            && o.group() == KUSTOMIZE_GROUP
            && rendered.contains(format!("{dir}/{ns}/{}", o.name()).as_str());
        let kind = o.node.str_at(&["spec", "sourceRef", "kind"]).unwrap_or("");
        if is_rendered && KUSTOMIZATION_SOURCES.contains(&kind) {
            let src_ns = o.node.str_at(&["spec", "sourceRef", "namespace"]).unwrap_or(ns);
            if let Some(name) = o.node.str_at(&["spec", "sourceRef", "name"]) {
                sources.insert((src_ns.to_string(), name.to_string()));
            }
        }
    }
    sources
}

impl GraphOptions<'_> {
    /// Whether (namespace, name) is a source the cluster's Kustomizations were rendered from:
    /// it exists, whether or not the repository defines it.
    fn is_rendered_source(&self, namespace: &str, name: &str) -> bool {
        self.repo_sources.as_ref().is_some_and(|s| s.contains(&(namespace.to_string(), name.to_string())))
    }
}

/// Checks one cluster with the default options (see [`check_cluster_with`]).
pub fn check_cluster(repo: &Repo, cluster_dir: &RelPath, objects: &[ClusterObject]) -> Vec<GraphFinding> {
    check_cluster_with(repo, cluster_dir, objects, &GraphOptions::default())
}

/// Checks one cluster: all objects rendered by all its Flux Kustomizations, including the Flux
/// objects themselves. Findings are sorted by the report sort key.
pub fn check_cluster_with(
    repo: &Repo,
    cluster_dir: &RelPath,
    objects: &[ClusterObject],
    opts: &GraphOptions,
) -> Vec<GraphFinding> {
    let cluster = Cluster::new(repo, cluster_dir, objects);
    let mut out = Vec::new();
    dependencies(&cluster, opts, &mut out);
    sources(&cluster, opts, &mut out);
    paths(&cluster, opts, &mut out);
    duplicates(&cluster, &mut out);
    values_from(&cluster, opts, &mut out);
    namespaces(&cluster, opts, &mut out);
    out.extend(super::helm_values::check(&cluster, opts));
    sort(&mut out);
    out
}

/// Sorts findings by the one report sort key, so output never depends on input order.
pub fn sort(findings: &mut [GraphFinding]) {
    findings.sort_by(|a, b| {
        a.finding.sort_key().cmp(&b.finding.sort_key()).then_with(|| a.entry_point.cmp(&b.entry_point))
    });
}

/// The identity Flux references resolve against: group, kind, namespace, name (no version:
/// any served version is the same object), borrowed from the object: a cluster's index holds
/// one per object (on huge, 53,000 per cluster, two clusters at once).
type Key<'a> = (&'a str, &'a str, &'a str, &'a str);

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A cluster's objects, indexed for reference lookups.
pub(crate) struct Cluster<'r, 'a> {
    pub repo: &'r Repo,
    pub dir: &'r RelPath,
    pub objects: &'r [ClusterObject<'a>],
    /// Hashed, not ordered: lookups are all it serves but for [`duplicates`], which orders the
    /// few identities held more than once (on large, ordering every key was most of the
    /// graph's index cost).
    index: HashMap<Key<'a>, Vec<usize>>,
}

impl<'r, 'a> Cluster<'r, 'a> {
    pub(crate) fn new(repo: &'r Repo, dir: &'r RelPath, objects: &'r [ClusterObject<'a>]) -> Self {
        let mut index: HashMap<Key<'a>, Vec<usize>> =
            HashMap::with_capacity_and_hasher(objects.len(), Default::default());
        for (i, o) in objects.iter().enumerate() {
            index.entry(key_of(o.resource)).or_default().push(i);
        }
        Cluster { repo, dir, objects, index }
    }

    /// The first object with this identity, if the cluster has one.
    pub fn find(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<&ClusterObject<'a>> {
        let ns = if is_cluster_scoped(kind) { "" } else { namespace };
        self.index.get(&(group, kind, ns, name)).and_then(|v| v.first()).and_then(|&i| self.objects.get(i))
    }

    /// Objects of one Flux group and kind, in input order.
    pub fn of_kind<'s>(&'s self, group: &'s str, kind: &'s str) -> impl Iterator<Item = &'s ClusterObject<'a>> + 's {
        self.objects.iter().filter(move |o| o.resource.kind() == kind && o.resource.group() == group)
    }

    /// A finding about `object`, located at `loc` (or the object's document when unknown).
    pub fn finding(&self, object: &ClusterObject, rule: Rule, message: String, help: &str, loc: Loc) -> GraphFinding {
        let loc = loc.or(object.resource.loc());
        let finding = Finding::new(rule, message)
            .help(help)
            .object(Some(object.resource.object_ref()))
            .entry_point(object.entry_point)
            .at(crate::finding::location(self.repo, loc));
        GraphFinding { entry_point: object.entry_point.to_string(), finding, loc }
    }
}

/// A missing reference's finding: `rule` when nothing can supply the target, a
/// [`Rule::FluxReferenceUnresolved`] warning saying why when something outside the render may,
/// none when an operator makes it from an object of the cluster.
#[allow(clippy::too_many_arguments)]
fn missing_ref(
    c: &Cluster,
    opts: &GraphOptions,
    o: &ClusterObject,
    target: (&str, &str, &str, &str),
    rule: Rule,
    message: String,
    help: &str,
    loc: Loc,
) -> Option<GraphFinding> {
    let (group, kind, namespace, name) = target;
    match opts.provenance.resolve(group, kind, namespace, name) {
        Resolution::Made(_) => None,
        Resolution::Missing => Some(c.finding(o, rule, message, help, loc)),
        Resolution::Unsure(why) => match opts.cluster.as_ref().map(|l| l.exists(group, kind, namespace, name)) {
            Some(Fact::Known(true)) => None,
            Some(Fact::Known(false)) => {
                let context = opts.cluster.as_ref().map(|l| l.client().context().to_string()).unwrap_or_default();
                Some(c.finding(
                    o,
                    rule,
                    format!("{message}; the cluster (context {context}) has none either"),
                    help,
                    loc,
                ))
            }
            _ => Some(c.finding(
                o,
                Rule::FluxReferenceUnresolved,
                format!("{message}; not certain to fail: {why}"),
                help,
                loc,
            )),
        },
    }
}

/// [`Resource::id`]'s group, kind, namespace and name, borrowed.
fn key_of(r: &Resource) -> Key<'_> {
    let kind = r.kind();
    let namespace = if kustomize_cluster_scoped(r.api_version(), kind) { "" } else { r.namespace() };
    (r.group(), kind, namespace, r.name())
}

/// `namespace/name` of an object, for messages.
pub(crate) fn qualified(r: &Resource) -> String {
    format!("{}/{}", r.namespace(), r.name())
}

/// The location of the value at `keys`, or of its nearest located ancestor.
pub(crate) fn field_loc(node: &Node, keys: &[&str]) -> Loc {
    let path: Vec<crate::schema::PathSeg> =
        keys.iter().map(|k| crate::schema::PathSeg::Key((*k).to_string())).collect();
    crate::schema::loc_at(node, &path)
}

/// A reference as written: `namespace` defaults to the referring object's own.
struct Ref<'n> {
    kind: &'n str,
    namespace: &'n str,
    name: &'n str,
    /// Where the reference's `name` is written.
    loc: Loc,
}

fn reference<'n>(item: &'n Node, default_kind: &'n str, default_ns: &'n str) -> Option<Ref<'n>> {
    let name = item.str_at(&["name"])?;
    Some(Ref {
        kind: item.str_at(&["kind"]).unwrap_or(default_kind),
        namespace: item.str_at(&["namespace"]).filter(|s| !s.is_empty()).unwrap_or(default_ns),
        name,
        loc: field_loc(item, &["name"]),
    })
}

/// The dependsOn graph: Kustomizations depend on Kustomizations, HelmReleases on HelmReleases.
const DEPENDENT_KINDS: &[(&str, &str)] = &[(KUSTOMIZE_GROUP, "Kustomization"), (HELM_GROUP, "HelmRelease")];

/// `spec.dependsOn` targets exist, and do not form cycles.
fn dependencies(c: &Cluster, opts: &GraphOptions, out: &mut Vec<GraphFinding>) {
    // Graph nodes are object indices; each edge keeps the location of its dependsOn entry.
    let mut edges: BTreeMap<usize, Vec<(usize, Loc)>> = BTreeMap::new();
    for &(group, kind) in DEPENDENT_KINDS {
        for (i, o) in c.objects.iter().enumerate() {
            let r = o.resource;
            if r.group() != group || r.kind() != kind {
                continue;
            }
            let Some(deps) = r.node.path(&["spec", "dependsOn"]).and_then(Node::as_seq) else { continue };
            for item in deps {
                let Some(d) = reference(item, kind, r.namespace()) else { continue };
                let target = c.index.get(&(group, kind, d.namespace, d.name));
                match target.and_then(|v| v.first()) {
                    Some(&t) => edges.entry(i).or_default().push((t, d.loc)),
                    None => out.extend(missing_ref(
                        c,
                        opts,
                        o,
                        (group, kind, d.namespace, d.name),
                        Rule::FluxDependencyMissing,
                        format!(
                            "{kind} '{}' depends on {kind} '{}/{}', which is not in cluster {}",
                            qualified(r),
                            d.namespace,
                            d.name,
                            c.dir
                        ),
                        "add the dependency to the cluster, or fix the name and namespace in dependsOn",
                        d.loc.or(item.loc),
                    )),
                }
            }
        }
    }
    cycles(c, &edges, out);
}

/// Reports each dependsOn cycle once, at the dependsOn entry of its first member (in input
/// order) that points at the next member, naming every member.
fn cycles(c: &Cluster, edges: &BTreeMap<usize, Vec<(usize, Loc)>>, out: &mut Vec<GraphFinding>) {
    // Peel off nodes that depend on nothing left: what remains is on a cycle or leads into one.
    let mut remaining: BTreeSet<usize> = edges.keys().copied().collect();
    loop {
        let done: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|n| !edges.get(n).is_some_and(|es| es.iter().any(|(t, _)| remaining.contains(t))))
            .collect();
        if done.is_empty() {
            break;
        }
        for n in done {
            remaining.remove(&n);
        }
    }
    let next = |n: usize| -> Option<(usize, Loc)> {
        edges.get(&n)?.iter().filter(|(t, _)| remaining.contains(t)).min_by_key(|(t, _)| *t).copied()
    };
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for &start in &remaining {
        // Every remaining node has a successor that remains, so this walk must revisit a node.
        let mut path: Vec<usize> = Vec::new();
        let mut cur = start;
        let cycle = loop {
            if let Some(pos) = path.iter().position(|&p| p == cur) {
                break path.split_off(pos);
            }
            path.push(cur);
            match next(cur) {
                Some((t, _)) => cur = t,
                None => break Vec::new(),
            }
        };
        let Some(first_pos) = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map(|(i, _)| i) else { continue };
        let mut cycle = cycle;
        cycle.rotate_left(first_pos);
        let mut members = cycle.clone();
        members.sort_unstable();
        if !reported.insert(members) {
            continue;
        }
        let (Some(&head), Some(o)) = (cycle.first(), cycle.first().and_then(|&h| c.objects.get(h))) else { continue };
        let to = cycle.get(1).copied().unwrap_or(head);
        let loc = edges.get(&head).and_then(|es| es.iter().find(|(t, _)| *t == to)).map_or(Loc::NONE, |(_, l)| *l);
        let mut names: Vec<String> =
            cycle.iter().filter_map(|&n| c.objects.get(n)).map(|m| qualified(m.resource)).collect();
        names.push(qualified(o.resource));
        out.push(c.finding(
            o,
            Rule::FluxDependencyCycle,
            format!("dependsOn forms a cycle: {} {}", o.resource.kind(), names.join(" → ")),
            "remove one dependsOn entry of the cycle; until then none of these ever becomes ready",
            loc,
        ));
    }
}

/// Source kinds a Kustomization's `spec.sourceRef` may name.
const KUSTOMIZATION_SOURCES: &[&str] = &["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"];

/// `sourceRef` of Kustomizations and HelmReleases (chart template or chartRef) resolves to a
/// source object of the cluster.
fn sources(c: &Cluster, opts: &GraphOptions, out: &mut Vec<GraphFinding>) {
    let refs: [(&str, &str, &[&str], &str); 3] = [
        (KUSTOMIZE_GROUP, "Kustomization", &["spec", "sourceRef"], "GitRepository"),
        (HELM_GROUP, "HelmRelease", &["spec", "chart", "spec", "sourceRef"], "HelmRepository"),
        (HELM_GROUP, "HelmRelease", &["spec", "chartRef"], "OCIRepository"),
    ];
    for (group, kind, path, default_kind) in refs {
        for o in c.of_kind(group, kind) {
            let r = o.resource;
            let Some(item) = r.node.path(path) else { continue };
            let Some(s) = reference(item, default_kind, r.namespace()) else { continue };
            if c.find(SOURCE_GROUP, s.kind, s.namespace, s.name).is_some()
                || opts.is_rendered_source(s.namespace, s.name)
                || (s.kind == "ExternalArtifact" && generates(c, s.namespace, s.name))
            {
                continue;
            }
            let field = path.join(".");
            let hint = if kind == "Kustomization" && !KUSTOMIZATION_SOURCES.contains(&s.kind) {
                format!("a Kustomization's source is one of {}", KUSTOMIZATION_SOURCES.join(", "))
            } else {
                "add the source to the cluster, or fix the kind, name and namespace of the reference".to_string()
            };
            out.extend(missing_ref(
                c,
                opts,
                o,
                (SOURCE_GROUP, s.kind, s.namespace, s.name),
                Rule::FluxSourceMissing,
                format!(
                    "{kind} '{}' {field} names {} '{}/{}', which is not in cluster {}",
                    qualified(r),
                    s.kind,
                    s.namespace,
                    s.name,
                    c.dir
                ),
                &hint,
                s.loc.or(item.loc),
            ));
        }
    }
}

/// Whether an ArtifactGenerator of the cluster makes ExternalArtifact `namespace/name` (the
/// ExternalArtifact object exists only in the cluster).
fn generates(c: &Cluster, namespace: &str, name: &str) -> bool {
    c.of_kind(super::sources::EXTENSIONS_GROUP, "ArtifactGenerator").any(|g| {
        g.resource.namespace() == namespace
            && g.resource
                .node
                .path(&["spec", "artifacts"])
                .and_then(Node::as_seq)
                .is_some_and(|a| a.iter().any(|a| a.str_at(&["name"]) == Some(name)))
    })
}

/// A Flux path (`./apps/prod`, relative to the source root) as a repository path; `None`
/// when it leaves the root.
pub(crate) fn flux_path(p: &str) -> Option<RelPath> {
    RelPath::parse(p.trim_start_matches("./"))
}

/// `spec.path` of Kustomizations whose source is this repository, and `spec.update.path` of
/// ImageUpdateAutomations, exist as directories.
fn paths(c: &Cluster, opts: &GraphOptions, out: &mut Vec<GraphFinding>) {
    // Both kinds name their source (this repository or not) in `spec.sourceRef`.
    let checks: [(&str, &str, &[&str], Rule); 2] = [
        (KUSTOMIZE_GROUP, "Kustomization", &["spec", "path"], Rule::FluxPathMissing),
        (IMAGE_GROUP, "ImageUpdateAutomation", &["spec", "update", "path"], Rule::FluxAutomationPathMissing),
    ];
    for (group, kind, path, rule) in checks {
        for o in c.of_kind(group, kind) {
            let r = o.resource;
            let source = r.node.path(&["spec", "sourceRef"]);
            let Some(s) = source.and_then(|n| reference(n, "GitRepository", r.namespace())) else {
                continue;
            };
            if !opts.is_this_repo(s.kind, s.namespace, s.name) {
                continue;
            }
            let Some(p) = r.node.str_at(path) else { continue };
            let problem = match flux_path(p) {
                None => "leaves the repository root",
                Some(rel) if c.repo.is_dir(&rel) => continue,
                Some(rel) if c.repo.is_file(&rel) => "is a file, not a directory",
                Some(_) => "does not exist in the repository",
            };
            out.push(c.finding(
                o,
                rule,
                format!("{kind} '{}' {} '{p}' {problem}", qualified(r), path.join(".")),
                "paths are relative to the repository root (the GitRepository's root), e.g. ./apps/production",
                field_loc(&r.node, path),
            ));
        }
    }
}

/// The same object applied by two Flux Kustomizations of one cluster: they take turns
/// overwriting (and pruning) it. The entry point that sorts first keeps it; each other one is
/// reported at its document: an error when the two differ (each apply undoes the other's
/// fields), a warning when they apply the same content.
/// With `--cluster`: namespaced objects whose namespace neither the tree renders (a Namespace,
/// or a HelmRelease that creates its target namespace) nor the live cluster has; one finding
/// per namespace and entry point, on its first object.
fn namespaces(c: &Cluster, opts: &GraphOptions, out: &mut Vec<GraphFinding>) {
    let Some(live) = &opts.cluster else { return };
    let mut made: BTreeSet<&str> = c
        .objects
        .iter()
        .filter(|o| o.resource.kind() == "Namespace" && o.resource.group().is_empty())
        .map(|o| o.resource.name())
        .collect();
    for hr in c.of_kind(HELM_GROUP, "HelmRelease").map(|o| &o.resource.node) {
        if hr.path(&["spec", "install", "createNamespace"]).and_then(Node::as_bool) == Some(true) {
            made.extend(hr.str_at(&["spec", "targetNamespace"]).or(hr.str_at(&["metadata", "namespace"])));
        }
    }
    let mut reported: BTreeSet<(&str, &str)> = BTreeSet::new();
    for o in c.objects {
        let ns = o.resource.namespace();
        if ns.is_empty()
            || made.contains(ns)
            || is_cluster_scoped(o.resource.kind())
            || reported.contains(&(o.entry_point, ns))
        {
            continue;
        }
        if live.namespace_exists(ns) == Fact::Known(false) {
            reported.insert((o.entry_point, ns));
            let count =
                c.objects.iter().filter(|x| x.entry_point == o.entry_point && x.resource.namespace() == ns).count();
            let context = live.client().context().to_string();
            out.push(c.finding(
                o,
                Rule::NamespaceNotFound,
                format!(
                    "namespace '{ns}' of {count} object(s) is neither rendered for cluster {} nor in the cluster (context {context}): applying them fails",
                    c.dir
                ),
                "add the Namespace to the cluster's Flux tree, or fix the namespace",
                field_loc(&o.resource.node, &["metadata", "namespace"]),
            ));
        }
    }
}

fn duplicates(c: &Cluster, out: &mut Vec<GraphFinding>) {
    let mut held_twice: Vec<(&Key, &Vec<usize>)> = c.index.iter().filter(|(_, idx)| idx.len() > 1).collect();
    held_twice.sort_unstable_by_key(|(key, _)| **key);
    for (key, idx) in held_twice {
        let mut by_ep: BTreeMap<&str, Vec<&ClusterObject>> = BTreeMap::new();
        for o in idx.iter().filter_map(|&i| c.objects.get(i)) {
            by_ep.entry(o.entry_point).or_default().push(o);
        }
        let mut eps = by_ep.iter();
        let Some((first, first_objs)) = eps.next() else { continue };
        for (ep, objs) in eps {
            for o in objs {
                let same_content = first_objs.iter().any(|f| same_but_metadata(&f.resource.node, &o.resource.node));
                let ns = if key.2.is_empty() { String::new() } else { format!("{}/", key.2) };
                let mut f = c.finding(
                    o,
                    Rule::FluxDuplicateObject,
                    format!(
                        "{} '{ns}{}' is applied by Flux Kustomization {first} and also by {ep} in cluster {}",
                        key.1, key.3, c.dir
                    ),
                    "apply each object from exactly one Flux Kustomization",
                    o.resource.loc(),
                );
                // A Flux Kustomization whose path holds its own definition applies itself as
                // well as its parent: both apply the same text, nothing fails, the owner label
                // flips between the two.
                let own = format!("/{}/{}", key.2, key.3);
                if key.0 == KUSTOMIZE_GROUP && key.1 == "Kustomization" && (first.ends_with(&own) || ep.ends_with(&own))
                {
                    f.finding.severity = crate::finding::Severity::Warning;
                    f.finding.message.push_str(
                        " (the Kustomization applies itself: nothing fails, but its owner label flips between the two)",
                    );
                } else if same_content {
                    // Both apply the same object (a shared component), at most with other
                    // labels or annotations (each Kustomization's commonMetadata): no apply
                    // fails and no spec flaps; the labels flip, and deleting one
                    // Kustomization can prune it until the other reconciles.
                    f.finding.severity = crate::finding::Severity::Warning;
                    f.finding.message.push_str(
                        " with the same content (labels and annotations aside): nothing fails, but its labels flip between the two, and deleting either Kustomization may prune it until the other reconciles",
                    );
                }
                out.push(f);
            }
        }
    }
}

/// Whether two renders of one object are equal apart from `metadata.labels` and
/// `metadata.annotations`.
fn same_but_metadata(a: &crate::source::Node, b: &crate::source::Node) -> bool {
    if a == b {
        return true;
    }
    let strip = |n: &crate::source::Node| {
        let mut j = n.to_json();
        if let Some(m) = j.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
            m.remove("labels");
            m.remove("annotations");
        }
        j
    };
    strip(a) == strip(b)
}

/// The key helm-controller reads from a valuesFrom ConfigMap or Secret when none is given.
pub(crate) const DEFAULT_VALUES_KEY: &str = "values.yaml";

/// What a HelmRelease `valuesFrom` entry resolves to.
pub(crate) enum ValuesFrom {
    /// The ConfigMap/Secret and the text under the key, located at the key's value.
    Found { text: String, loc: Loc },
    /// The entry is `optional: true` and does not resolve: helm-controller skips it.
    Skipped,
    /// Not resolvable: the message and where the entry names it.
    Missing { message: String, loc: Loc },
    /// Not a ConfigMap/Secret reference this check understands.
    Unknown,
}

/// Whether an ExternalSecret of the cluster makes Secret `namespace/name` (its
/// `spec.target.name`, by default its own name).
pub(crate) fn made_by_external_secret(c: &Cluster, namespace: &str, name: &str) -> bool {
    c.of_kind("external-secrets.io", "ExternalSecret").any(|o| {
        let r = o.resource;
        r.namespace() == namespace && r.node.str_at(&["spec", "target", "name"]).unwrap_or(r.name()) == name
    })
}

/// Resolves one `valuesFrom` entry of `hr` against the cluster.
pub(crate) fn resolve_values_from(c: &Cluster, hr: &Resource, item: &Node) -> ValuesFrom {
    let (Some(kind), Some(name)) = (item.str_at(&["kind"]), item.str_at(&["name"])) else {
        return ValuesFrom::Unknown;
    };
    if kind != "ConfigMap" && kind != "Secret" {
        return ValuesFrom::Unknown;
    }
    let optional = item.get("optional").and_then(Node::as_bool).unwrap_or(false);
    let ns = hr.namespace();
    let key = item.str_at(&["valuesKey"]).filter(|k| !k.is_empty()).unwrap_or(DEFAULT_VALUES_KEY);
    let name_loc = field_loc(item, &["name"]);
    let Some(src) = c.find("", kind, ns, name) else {
        if optional {
            return ValuesFrom::Skipped;
        }
        // Made in the cluster by an ExternalSecret of this cluster: its keys are not known here.
        if kind == "Secret" && made_by_external_secret(c, ns, name) {
            return ValuesFrom::Unknown;
        }
        return ValuesFrom::Missing {
            message: format!(
                "HelmRelease '{}' valuesFrom names {kind} '{ns}/{name}', which is not in cluster {}",
                qualified(hr),
                c.dir
            ),
            loc: name_loc,
        };
    };
    let node = &src.resource.node;
    let plain = if kind == "Secret" { "stringData" } else { "data" };
    let encoded = if kind == "Secret" { "data" } else { "binaryData" };
    if let Some(v) = node.path(&[plain, key]) {
        return ValuesFrom::Found { text: v.scalar_text().unwrap_or_default(), loc: v.loc };
    }
    if let Some(v) = node.path(&[encoded, key]) {
        let text = v
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        return ValuesFrom::Found { text, loc: v.loc };
    }
    if optional {
        return ValuesFrom::Skipped;
    }
    ValuesFrom::Missing {
        message: format!(
            "HelmRelease '{}' valuesFrom reads key '{key}' of {kind} '{ns}/{name}', which has no such key",
            qualified(hr)
        ),
        loc: field_loc(item, if item.get("valuesKey").is_some() { &["valuesKey"] } else { &["name"] }),
    }
}

/// `valuesFrom` ConfigMaps/Secrets (not optional) exist in the HelmRelease's namespace and hold
/// the key read from them.
fn values_from(c: &Cluster, opts: &GraphOptions, out: &mut Vec<GraphFinding>) {
    for o in c.of_kind(HELM_GROUP, "HelmRelease") {
        let Some(items) = o.resource.node.path(&["spec", "valuesFrom"]).and_then(Node::as_seq) else { continue };
        for item in items {
            if let ValuesFrom::Missing { message, loc } = resolve_values_from(c, o.resource, item) {
                let kind = item.str_at(&["kind"]).unwrap_or("");
                let name = item.str_at(&["name"]).unwrap_or("");
                // The object is there but lacks the key: nothing outside the render changes that.
                let certain = GraphOptions::default();
                let opts = if c.find("", kind, o.resource.namespace(), name).is_some() { &certain } else { opts };
                out.extend(missing_ref(
                    c,
                    opts,
                    o,
                    ("", kind, o.resource.namespace(), name),
                    Rule::FluxValuesFromMissing,
                    message,
                    "add the ConfigMap/Secret (with that key) to the HelmRelease's namespace, or mark the entry optional: true",
                    loc.or(item.loc),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` into a fresh repository, takes every object of every file as the cluster
    /// (entry point = file path) and returns `rule file:line` per finding.
    fn check(files: &[(&str, &str)]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let repo = Repo::open(dir.path()).expect("repo");
        let mut res = Vec::new();
        for (path, _) in files {
            let rel = RelPath::parse(path).expect("path");
            for doc in &repo.load_yaml(&rel).expect("yaml").docs {
                res.push((path.to_string(), Resource::new(doc.clone())));
            }
        }
        let objects: Vec<ClusterObject> =
            res.iter().map(|(ep, r)| ClusterObject { entry_point: ep, resource: r }).collect();
        check_cluster(&repo, &RelPath::root(), &objects)
            .iter()
            .map(|f| {
                let l = f.finding.location.as_ref().expect("location");
                format!("{} {}:{}", f.finding.rule, l.file, l.line)
            })
            .collect()
    }

    const GIT: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: repo\n  namespace: flux-system\n";

    fn ks(name: &str, deps: &[&str], path: &str) -> String {
        let deps: String = deps.iter().map(|d| format!("    - name: {d}\n")).collect();
        let deps = if deps.is_empty() { String::new() } else { format!("  dependsOn:\n{deps}") };
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n{deps}  path: {path}\n  sourceRef:\n    kind: GitRepository\n    name: repo\n"
        )
    }

    fn hr(name: &str, extra: &str) -> String {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  chart:\n    spec:\n      chart: podinfo\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n{extra}"
        )
    }

    const HELM_REPO: &str =
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: apps\n";

    #[test]
    fn dependency_present_and_missing() {
        let good = check(&[("git.yaml", GIT), ("a.yaml", &ks("a", &["b"], "./")), ("b.yaml", &ks("b", &[], "./"))]);
        assert!(good.is_empty(), "{good:?}");
        let bad = check(&[("git.yaml", GIT), ("a.yaml", &ks("a", &["nope"], "./"))]);
        assert_eq!(bad, ["flux-dependency-missing a.yaml:8"]);
        // A HelmRelease depends on HelmReleases only: a Kustomization of that name does not count.
        let hr_bad = check(&[
            ("git.yaml", GIT),
            ("repo.yaml", HELM_REPO),
            ("a.yaml", &ks("web", &[], "./")),
            ("hr.yaml", &hr("app", "  dependsOn:\n    - name: web\n      namespace: flux-system\n")),
        ]);
        assert_eq!(hr_bad, ["flux-dependency-missing hr.yaml:14"]);
    }

    #[test]
    fn cycles_are_reported_once_and_self_loops_count() {
        let two = check(&[("git.yaml", GIT), ("a.yaml", &ks("a", &["b"], "./")), ("b.yaml", &ks("b", &["a"], "./"))]);
        assert_eq!(two, ["flux-dependency-cycle a.yaml:8"]);
        let own = check(&[("git.yaml", GIT), ("a.yaml", &ks("a", &["a"], "./"))]);
        assert_eq!(own, ["flux-dependency-cycle a.yaml:8"]);
    }

    #[test]
    fn sources_resolve_by_kind_and_namespace() {
        assert!(check(&[("repo.yaml", HELM_REPO), ("hr.yaml", &hr("app", ""))]).is_empty());
        assert_eq!(check(&[("hr.yaml", &hr("app", ""))]), ["flux-source-missing hr.yaml:12"]);
        assert_eq!(check(&[("a.yaml", &ks("a", &[], "./"))]), ["flux-source-missing a.yaml:10"]);
    }

    #[test]
    fn path_exists_only_when_source_is_this_repo() {
        assert!(check(&[("git.yaml", GIT), ("a.yaml", &ks("a", &[], "./"))]).is_empty());
        assert_eq!(check(&[("git.yaml", GIT), ("a.yaml", &ks("a", &[], "./gone"))]), ["flux-path-missing a.yaml:7"]);
        let opts = GraphOptions {
            repo_sources: Some(BTreeSet::from([("flux-system".into(), "other".into())])),
            ..GraphOptions::default()
        };
        assert!(!opts.is_this_repo("GitRepository", "flux-system", "repo"));
        assert!(!opts.is_this_repo("OCIRepository", "flux-system", "other"));
        assert!(opts.is_this_repo("GitRepository", "flux-system", "other"));
    }

    #[test]
    fn duplicates_only_across_entry_points() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: apps\n";
        assert_eq!(check(&[("a.yaml", cm), ("b.yaml", cm)]), ["flux-duplicate-object b.yaml:1"]);
        assert!(check(&[("a.yaml", &format!("{cm}---\n{cm}"))]).is_empty());
    }

    #[test]
    fn values_from_key_and_optional() {
        let cm =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: v\n  namespace: apps\ndata:\n  values.yaml: 'a: 1'\n";
        let vf = |item: &str| hr("app", &format!("  valuesFrom:\n    - kind: ConfigMap\n      name: v\n{item}"));
        assert!(check(&[("repo.yaml", HELM_REPO), ("cm.yaml", cm), ("hr.yaml", &vf(""))]).is_empty());
        assert_eq!(
            check(&[("repo.yaml", HELM_REPO), ("cm.yaml", cm), ("hr.yaml", &vf("      valuesKey: other\n"))]),
            ["flux-values-from-missing hr.yaml:16"]
        );
        assert_eq!(check(&[("repo.yaml", HELM_REPO), ("hr.yaml", &vf(""))]), ["flux-values-from-missing hr.yaml:15"]);
        assert!(check(&[("repo.yaml", HELM_REPO), ("hr.yaml", &vf("      optional: true\n"))]).is_empty());
        let es = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: v-maker\n  namespace: apps\nspec:\n  target:\n    name: v\n";
        let secret = |item: &str| hr("app", &format!("  valuesFrom:\n    - kind: Secret\n      name: v\n{item}"));
        assert!(check(&[("repo.yaml", HELM_REPO), ("es.yaml", es), ("hr.yaml", &secret(""))]).is_empty());
        assert_eq!(
            check(&[("repo.yaml", HELM_REPO), ("hr.yaml", &secret(""))]),
            ["flux-reference-unresolved hr.yaml:15"]
        );
    }

    #[test]
    fn automation_path() {
        let ua = |path: &str| {
            format!(
                "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\nmetadata:\n  name: u\n  namespace: flux-system\nspec:\n  sourceRef:\n    kind: GitRepository\n    name: repo\n  update:\n    path: {path}\n"
            )
        };
        assert!(check(&[("git.yaml", GIT), ("u.yaml", &ua("./"))]).is_empty());
        assert_eq!(check(&[("git.yaml", GIT), ("u.yaml", &ua("./x"))]), ["flux-automation-path-missing u.yaml:11"]);
    }
}
