//! Flux `Kustomization` objects (`kustomize.toolkit.fluxcd.io`, any served version): finding
//! them in the repository's YAML files, and reading the spec fields that decide what the
//! kustomize-controller builds. Only the fields that change the render are modelled; the rest
//! of the object is checked against its CRD schema like any other object.

use crate::discover::{Discovery, Needle};
use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::kustomize::diag::Diag;
use crate::kustomize::kustomization::{
    ImageSpec, Located, PatchKind, PatchSource, PatchSpec, parse_patch, parse_selector,
};
use crate::rules::Rule;
use crate::source::{Loc, Node, RelPath, Repo};

/// The API group of Flux Kustomizations.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";

/// The labels kustomize-controller sets on every object it applies: the name and namespace of
/// the Flux Kustomization that owns it.
pub const NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
/// See [`NAME_LABEL`].
pub const NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// Whether a document is a Flux Kustomization (any version of the group).
pub fn is_flux_kustomization(doc: &Node) -> bool {
    doc.str_at(&["kind"]) == Some("Kustomization")
        && doc.str_at(&["apiVersion"]).is_some_and(|a| a.split_once('/').is_some_and(|(g, _)| g == GROUP))
}

/// `namespace/name` of a Flux object; the key Flux itself uses for references.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// `spec.sourceRef`, with the namespace defaulted to the Kustomization's own (as Flux does).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One `spec.postBuild.substituteFrom` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct SubstituteFrom {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub name: String,
    pub optional: bool,
    pub loc: Loc,
}

/// `spec.postBuild`: present means the controller runs substitution on every object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostBuild {
    /// Inline variables, in file order.
    pub substitute: Vec<(String, String)>,
    pub substitute_from: Vec<SubstituteFrom>,
    /// `substituteStrategy: Always`: substitute even with no variables at all (by default,
    /// `WithVariables`, the controller skips substitution when it has none).
    pub always: bool,
    pub loc: Loc,
}

/// The effective spec of one Flux Kustomization (as found in a render or a file).
#[derive(Clone, Debug)]
pub struct FluxKustomization {
    pub key: ObjKey,
    /// `spec.path` as written (`./apps/production`); empty means the source root.
    pub path: String,
    pub path_loc: Loc,
    pub source: SourceRef,
    pub target_namespace: Option<Located>,
    pub name_prefix: Option<Located>,
    pub name_suffix: Option<Located>,
    /// `spec.patches`, then the legacy `patchesStrategicMerge` and `patchesJson6902`.
    pub patches: Vec<PatchSpec>,
    pub images: Vec<ImageSpec>,
    pub components: Vec<Located>,
    /// `spec.commonMetadata` labels and annotations (set on every object at apply time).
    pub common_labels: Vec<(String, Node)>,
    pub common_annotations: Vec<(String, Node)>,
    pub post_build: Option<PostBuild>,
    /// `spec.kubeConfig` is set: it applies to another cluster (hub and spoke), whose objects
    /// are a cluster of their own for the graph checks.
    pub remote: bool,
    /// Where the object starts.
    pub loc: Loc,
}

fn bad(loc: Loc, msg: impl Into<String>) -> Diag {
    Diag::fatal(Rule::KustomizationInvalid, loc, msg)
}

fn opt_string(spec: &Node, key: &str) -> Option<Located> {
    spec.get(key).and_then(|n| n.as_str().map(|s| Located { value: s.to_string(), loc: n.loc }))
}

/// Scalar values of a string map as text (Flux reads `map[string]string`; YAML scalars that
/// are not strings still arrive as their text).
fn string_pairs(n: Option<&Node>) -> Vec<(String, Node)> {
    let Some(m) = n.and_then(Node::as_map) else { return Vec::new() };
    m.iter().filter_map(|(k, v)| v.text_or_empty().map(|s| (k.clone(), Node::string(s, v.loc)))).collect()
}

/// The cluster directory of a Flux entry point name (`clusters/production/flux-system/apps`
/// → `clusters/production`).
pub fn cluster_of(name: &str) -> &str {
    let mut it = name.rsplitn(3, '/');
    let _ = (it.next(), it.next());
    it.next().unwrap_or("")
}

impl FluxKustomization {
    /// Reads the render-relevant spec of a Flux Kustomization document. A Kustomization with
    /// no namespace lands in `default_namespace` (where it is applied).
    pub fn parse(doc: &Node, default_namespace: &str) -> Result<FluxKustomization, Diag> {
        let name = doc.str_at(&["metadata", "name"]).unwrap_or("").to_string();
        let namespace = doc.str_at(&["metadata", "namespace"]).unwrap_or(default_namespace).to_string();
        let empty = Node::empty_map(doc.loc);
        let spec = doc.get("spec").unwrap_or(&empty);
        let path_node = spec.get("path");
        let src = spec.get("sourceRef");
        let source = SourceRef {
            kind: src.and_then(|s| s.str_at(&["kind"])).unwrap_or("").to_string(),
            namespace: src.and_then(|s| s.str_at(&["namespace"])).unwrap_or(&namespace).to_string(),
            name: src.and_then(|s| s.str_at(&["name"])).unwrap_or("").to_string(),
        };
        let mut patches = Vec::new();
        for p in spec.get("patches").and_then(Node::as_seq).into_iter().flatten() {
            patches.push(parse_patch(p)?);
        }
        for p in spec.get("patchesStrategicMerge").and_then(Node::as_seq).into_iter().flatten() {
            patches.push(PatchSpec {
                source: PatchSource::Node(p.clone()),
                target: None,
                kind: PatchKind::LegacyStrategicMerge,
                allow_name_change: false,
                allow_kind_change: false,
                loc: p.loc,
            });
        }
        for p in spec.get("patchesJson6902").and_then(Node::as_seq).into_iter().flatten() {
            let target = p.get("target").map(parse_selector).transpose()?;
            let ops = p.get("patch").ok_or_else(|| bad(p.loc, "a patchesJson6902 entry needs a 'patch'"))?;
            patches.push(PatchSpec {
                source: PatchSource::Node(ops.clone()),
                target,
                kind: PatchKind::Json6902,
                allow_name_change: false,
                allow_kind_change: false,
                loc: p.loc,
            });
        }
        let mut images = Vec::new();
        for i in spec.get("images").and_then(Node::as_seq).into_iter().flatten() {
            let get = |k: &str| i.str_at(&[k]).map(str::to_string);
            images.push(ImageSpec {
                name: get("name").ok_or_else(|| bad(i.loc, "an images entry needs a 'name'"))?,
                new_name: get("newName"),
                new_tag: get("newTag"),
                digest: get("digest"),
                tag_suffix: None,
                loc: i.loc,
            });
        }
        let components = spec
            .get("components")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(|s| Located { value: s.to_string(), loc: c.loc }))
            .collect();
        let cm = spec.get("commonMetadata");
        let post_build = spec.get("postBuild").filter(|p| !p.is_null()).map(|pb| {
            let substitute = string_pairs(pb.get("substitute"))
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or("").to_string()))
                .collect();
            let substitute_from = pb
                .get("substituteFrom")
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
                .map(|r| SubstituteFrom {
                    kind: r.str_at(&["kind"]).unwrap_or("").to_string(),
                    name: r.str_at(&["name"]).unwrap_or("").to_string(),
                    optional: r.get("optional").and_then(Node::as_bool).unwrap_or(false),
                    loc: r.loc,
                })
                .collect();
            let always = pb.str_at(&["substituteStrategy"]) == Some("Always");
            PostBuild { substitute, substitute_from, always, loc: pb.loc }
        });
        Ok(FluxKustomization {
            key: ObjKey { namespace, name },
            path: path_node.and_then(Node::as_str).unwrap_or("").to_string(),
            path_loc: path_node.map_or(spec.loc, |p| p.loc),
            source,
            target_namespace: opt_string(spec, "targetNamespace").filter(|l| !l.value.is_empty()),
            name_prefix: opt_string(spec, "namePrefix").filter(|l| !l.value.is_empty()),
            name_suffix: opt_string(spec, "nameSuffix").filter(|l| !l.value.is_empty()),
            patches,
            images,
            components,
            common_labels: string_pairs(cm.and_then(|c| c.get("labels"))),
            common_annotations: string_pairs(cm.and_then(|c| c.get("annotations"))),
            post_build,
            remote: spec.get("kubeConfig").is_some_and(|k| !k.is_null()),
            loc: doc.loc,
        })
    }

    /// The `flux-system` Kustomization that `flux bootstrap` creates for cluster directory `dir`
    /// (syncing it from the `flux-system` GitRepository), with nothing else set.
    pub fn bootstrap(dir: &RelPath) -> FluxKustomization {
        let key = ObjKey { namespace: "flux-system".into(), name: "flux-system".into() };
        FluxKustomization {
            source: SourceRef {
                kind: "GitRepository".into(),
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            },
            key,
            path: format!("./{}", dir.as_str()),
            path_loc: Loc::NONE,
            target_namespace: None,
            name_prefix: None,
            name_suffix: None,
            patches: Vec::new(),
            images: Vec::new(),
            components: Vec::new(),
            common_labels: Vec::new(),
            common_annotations: Vec::new(),
            post_build: None,
            remote: false,
            loc: Loc::NONE,
        }
    }

    /// `spec.path` resolved inside a source whose artifact root is `root`.
    pub fn dir_in(&self, root: &RelPath) -> Option<RelPath> {
        let p = self.path.trim_start_matches("./");
        if p.is_empty() || p == "." { Some(root.clone()) } else { root.join(p) }
    }
}

/// A Flux Kustomization document found in a repository file.
#[derive(Clone, Debug)]
pub struct Found {
    pub file: RelPath,
    pub doc: Node,
}

/// What the repository's YAML files hold that the Flux render needs: every Flux
/// Kustomization, and every ConfigMap and Secret (for `substituteFrom`), by
/// `(kind, namespace, name)`; the first definition in path order wins.
#[derive(Clone, Debug, Default)]
pub struct RepoIndex {
    pub kustomizations: Vec<Found>,
    pub config: BTreeMap<(String, String, String), Node>,
    /// Every definition of each key with the file holding it (several clusters of one
    /// repository each define their `flux-system/cluster-settings`).
    pub config_defs: BTreeMap<(String, String, String), Vec<(RelPath, Node)>>,
    /// Cluster directories laid out by `flux bootstrap` (`<dir>/flux-system/gotk-*.yaml`):
    /// the bootstrap creates a `flux-system` Kustomization of `<dir>`, which the repository may
    /// not hold (an empty `gotk-sync.yaml` placeholder).
    pub bootstrap_dirs: Vec<RelPath>,
}

impl RepoIndex {
    /// The definition of a ConfigMap/Secret key nearest to directory `dir` (the longest common
    /// path prefix; the first in path order on a tie).
    pub fn config_near(&self, key: &(String, String, String), dir: &str) -> Option<&Node> {
        let defs = self.config_defs.get(key)?;
        let shared = |p: &RelPath| p.as_str().split('/').zip(dir.split('/')).take_while(|(a, b)| a == b).count();
        let mut best: Option<&(RelPath, Node)> = None;
        for d in defs {
            if best.is_none_or(|b| shared(&d.0) > shared(&b.0)) {
                best = Some(d);
            }
        }
        best.map(|(_, n)| n)
    }
}

/// Reads every YAML file once (the parse is cached by the repository) and indexes it.
/// Files that do not parse are skipped here: the plain render reports them.
pub fn index(repo: &Repo, discovery: &Discovery) -> RepoIndex {
    let mut out = RepoIndex::default();
    for f in &discovery.yaml_files {
        let dir = f.parent();
        if matches!(f.file_name(), "gotk-sync.yaml" | "gotk-components.yaml")
            && dir.file_name() == "flux-system"
            && !out.bootstrap_dirs.contains(&dir.parent())
        {
            out.bootstrap_dirs.push(dir.parent());
        }
    }
    // Without a Flux Kustomization or a bootstrapped cluster directory (Flux syncs it even
    // when nothing else is left in it), ConfigMaps and Secrets are not needed.
    let has_flux = !out.bootstrap_dirs.is_empty()
        || discovery.files_with(&[Needle::FluxKustomization]).iter().any(|p| {
            repo.load_yaml(p)
                .is_ok_and(|parsed| parsed.error.is_none() && parsed.docs.iter().any(is_flux_kustomization))
        });
    if !has_flux {
        return out;
    }
    // Parsed in parallel (a serial step before the Flux walk), indexed in file order.
    let files = discovery.files_with(&[Needle::FluxKustomization, Needle::ConfigMap, Needle::Secret]);
    let parsed: Vec<_> = files.into_par_iter().map(|p| (repo.load_yaml(&p), p)).collect();
    for (parsed, p) in parsed {
        let Ok(parsed) = parsed else { continue };
        if parsed.error.is_some() {
            continue;
        }
        for doc in &parsed.docs {
            if is_flux_kustomization(doc) {
                out.kustomizations.push(Found { file: p.clone(), doc: doc.clone() });
            }
            if let Some(kind @ ("ConfigMap" | "Secret")) = doc.str_at(&["kind"]) {
                let ns = doc.str_at(&["metadata", "namespace"]).unwrap_or("").to_string();
                let name = doc.str_at(&["metadata", "name"]).unwrap_or("").to_string();
                let key = (kind.to_string(), ns, name);
                out.config_defs.entry(key.clone()).or_default().push((p.clone(), doc.clone()));
                out.config.entry(key).or_insert_with(|| doc.clone());
            }
        }
    }
    out
}
