//! Which entry points a change set affects: an entry point is checked when one of its inputs
//! changed. Inputs come from the head render itself (every file the render read), so the
//! dependency graph is exact and needs no second parser: a base shared by ten overlays is an
//! input of all ten because each render read it.
//!
//! - plain overlay: `Rendered.files` (kustomization files, resources, patches, generator files);
//! - Flux entry point: its render's files, plus the file(s) defining the Flux Kustomization
//!   object (and any patch that changed it), plus the files of its `substituteFrom` sources;
//! - a render that failed: every file it read or tried to read up to the failure
//!   (`Failed.files`), and the files the failure and its notes point into; it is also checked
//!   when a changed path lies under its directory;
//! - an input names a file, or a directory (a missing one, or a Flux path listed for its YAML):
//!   a changed path at or below it selects; a kustomization file stands for all three names
//!   kustomize probes (adding `kustomization.yaml` next to a `Kustomization` changes the render).
//!
//! Why that is sound: a render is a deterministic function of what it reads. If no file it
//! read or tried to read at head changed, the base render read the same files in the same
//! order with the same contents, and so rendered (or failed) the same.
//! - some files change the meaning of every check (`.fluxgate.yaml`, CRDs used for schemas,
//!   the schema catalog): then everything is checked.

use std::collections::{BTreeMap, BTreeSet};

use super::changes::Changes;
use crate::config::{Config, FILE_NAME};
use crate::flux::entry::{FluxKustomization, RepoIndex, cluster_of};
use crate::flux::tree::FluxEntry;
use crate::kustomize::build::{Failed, Rendered, kustomization_file};
use crate::kustomize::kustomization::FILE_NAMES;
use crate::source::yaml::Dialect;
use crate::source::{Node, RelPath, Repo, Value};

/// The part of a change set that selects entry points.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Why every entry point is checked (`".fluxgate.yaml changed"`), if so.
    pub everything: Option<String>,
    /// The changed paths (root-relative), deleted ones included.
    pub changed: BTreeSet<RelPath>,
    /// Directories a changed kustomization file names at head but not at the base, or the
    /// reverse: whether they are a base of another overlay (so whether leaf-only checks
    /// apply) may have changed.
    pub referenced: BTreeSet<RelPath>,
    /// The ConfigMaps and Secrets (kind, name) a changed file defines at head or defined at
    /// the base: a Flux Kustomization that substitutes from one of that name may change even
    /// when no file it reads now changed (its source renamed or deleted).
    pub config_names: BTreeSet<(String, String)>,
    /// Flux Kustomizations (namespace, name) that a changed file defined at the base and no
    /// changed file defines at head (renamed or deleted, so their entry point may be gone),
    /// with the file that defined them.
    pub flux_removed: BTreeMap<(String, String), RelPath>,
    /// Flux Kustomizations (namespace, name) whose `spec.path` a changed file moved, with that
    /// file and the base path (as written, `./clusters/a`). A root (a Kustomization whose path
    /// holds its own file) is named after its path, so its old entry point may be gone.
    pub flux_moved: BTreeMap<(String, String), (RelPath, String)>,
}

impl Selection {
    /// Whether the change may move what the Flux trees read: a Flux Kustomization's definition
    /// changed, or one was renamed or deleted.
    pub fn touches_flux_definitions(&self, index: &RepoIndex) -> bool {
        !self.flux_removed.is_empty() || index.kustomizations.iter().any(|k| self.changed.contains(&k.file))
    }

    /// Whether an entry point with these inputs (and, for a failed render, this directory and
    /// these failure locations) must be checked.
    pub fn selects(&self, inputs: &BTreeSet<RelPath>, dir: &RelPath, failed: bool) -> bool {
        if self.everything.is_some() {
            return true;
        }
        if self.changed.iter().any(|c| reads(inputs, c)) {
            return true;
        }
        failed && self.changed.iter().any(|c| c.starts_with(dir))
    }
}

/// Whether a render with these inputs read `changed`: it, a directory above it, or (for a
/// kustomization file) another of the names kustomize probes in its directory.
fn reads(inputs: &BTreeSet<RelPath>, changed: &RelPath) -> bool {
    if inputs.contains(changed) {
        return true;
    }
    let mut dir = changed.parent();
    if FILE_NAMES.contains(&changed.file_name())
        && FILE_NAMES.iter().filter_map(|n| dir.join(n)).any(|k| inputs.contains(&k))
    {
        return true;
    }
    loop {
        if inputs.contains(&dir) {
            return true;
        }
        if dir.is_root() {
            return false;
        }
        dir = dir.parent();
    }
}

/// The existing directories a kustomization's `resources`, `bases` and `components` name.
fn referenced_dirs(repo: &Repo, dir: &RelPath, text: &str, out: &mut BTreeSet<RelPath>) {
    let parsed = crate::source::yaml::parse(text, crate::source::FileId(u32::MAX), Dialect::Yaml12, &repo.limits);
    // A kustomization that does not parse, or holds more than one document, fails before it
    // reads anything: it references nothing, so its bases may turn into leaves.
    if parsed.error.is_some() || parsed.docs.len() > 1 {
        return;
    }
    for doc in &parsed.docs {
        for key in ["resources", "bases", "components"] {
            for item in doc.get(key).and_then(Node::as_seq).into_iter().flatten() {
                let target = item.as_str().and_then(|v| dir.join(v.trim()));
                if let Some(p) = target.filter(|p| repo.is_dir(p)) {
                    out.insert(p);
                }
            }
        }
    }
}

/// The ConfigMaps and Secrets (kind, name) a YAML text defines (a parse only when it may).
fn config_names(repo: &Repo, text: &str, out: &mut BTreeSet<(String, String)>) {
    if !text.contains("ConfigMap") && !text.contains("Secret") {
        return;
    }
    let parsed = crate::source::yaml::parse(text, crate::source::FileId(u32::MAX), Dialect::Yaml12, &repo.limits);
    for doc in &parsed.docs {
        if let (Some(kind @ ("ConfigMap" | "Secret")), Some(name)) =
            (doc.str_at(&["kind"]), doc.str_at(&["metadata", "name"]))
        {
            out.insert((kind.to_string(), name.to_string()));
        }
    }
}

/// The Flux Kustomizations (namespace, name) a YAML text at `file` defines. One with no
/// namespace gets the `namespace:` of the nearest kustomization above it (as applied), else
/// `default`.
fn flux_keys(repo: &Repo, file: &RelPath, text: &str, out: &mut BTreeMap<(String, String), (RelPath, String)>) {
    if !text.contains("kustomize.toolkit.fluxcd.io") {
        return;
    }
    let parsed = crate::source::yaml::parse(text, crate::source::FileId(u32::MAX), Dialect::Yaml12, &repo.limits);
    for doc in parsed.docs.iter().filter(|d| crate::flux::entry::is_flux_kustomization(d)) {
        let Some(name) = doc.str_at(&["metadata", "name"]) else { continue };
        let ns = match doc.str_at(&["metadata", "namespace"]) {
            Some(ns) => ns.to_string(),
            None => applied_namespace(repo, &file.parent()).unwrap_or_else(|| "default".to_string()),
        };
        let path = doc.str_at(&["spec", "path"]).unwrap_or("").to_string();
        out.insert((ns, name.to_string()), (file.clone(), path));
    }
}

/// The `namespace:` of the nearest kustomization file at or above `dir`.
fn applied_namespace(repo: &Repo, dir: &RelPath) -> Option<String> {
    let mut at = dir.clone();
    loop {
        if let Some(k) = kustomization_file(repo, &at) {
            let text = repo.read(&k).ok()?.text.clone();
            let parsed =
                crate::source::yaml::parse(&text, crate::source::FileId(u32::MAX), Dialect::Yaml12, &repo.limits);
            if let Some(ns) = parsed.docs.first().and_then(|d| d.str_at(&["namespace"])) {
                return Some(ns.to_string());
            }
        }
        if at.is_root() {
            return None;
        }
        at = at.parent();
    }
}

/// The `substituteFrom` sources (kind, name) of every Flux entry point: of its definitions in
/// the repository and of the object as its parent rendered it.
pub fn flux_substitutes(index: &RepoIndex, entries: &[FluxEntry]) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut docs: BTreeMap<(&str, &str), Vec<&Node>> = BTreeMap::new();
    for k in &index.kustomizations {
        let name = k.doc.str_at(&["metadata", "name"]).unwrap_or("");
        let ns = k.doc.str_at(&["metadata", "namespace"]).unwrap_or("default");
        docs.entry((ns, name)).or_default().push(&k.doc);
    }
    for r in entries.iter().filter_map(|e| e.result.as_ref().ok()).flat_map(|r| r.resources.iter()) {
        if crate::flux::entry::is_flux_kustomization(&r.node) {
            let ns = if r.namespace().is_empty() { "default" } else { r.namespace() };
            docs.entry((ns, r.name())).or_default().push(&r.node);
        }
    }
    let mut out = BTreeMap::new();
    for e in entries {
        let mut names = BTreeSet::new();
        for doc in docs.get(&(e.key.namespace.as_str(), e.key.name.as_str())).into_iter().flatten() {
            let Ok(fk) = FluxKustomization::parse(doc, &e.key.namespace) else { continue };
            for from in fk.post_build.iter().flat_map(|pb| pb.substitute_from.iter()) {
                names.insert((from.kind.clone(), from.name.clone()));
            }
        }
        if !names.is_empty() {
            out.insert(e.name.clone(), names);
        }
    }
    out
}

/// Whether a file defines CRDs (cheap text test first; a parse only when it may).
fn has_crd(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("kind:")
            && l.trim_start_matches("kind:").trim().trim_matches(['"', '\'']) == "CustomResourceDefinition"
    })
}

/// Builds the selection of a change set. `base_text` gives a deleted file's text at the merge
/// base (a deleted CRD removes a schema, which changes every check).
pub fn selection(
    repo: &Repo,
    config: &Config,
    changes: &Changes,
    base_text: &dyn Fn(&RelPath) -> Option<String>,
) -> Selection {
    let mut s = Selection { changed: changes.files.clone(), ..Selection::default() };
    // Each changed file's text on both sides, read once (the base side is a `git show`).
    let texts: Vec<(&RelPath, Option<String>, Option<String>)> =
        changes.files.iter().map(|f| (f, repo.read(f).ok().map(|t| t.text.clone()), base_text(f))).collect();
    let (mut flux_head, mut flux_base) = (BTreeMap::new(), BTreeMap::new());
    for (f, head, base) in &texts {
        for (text, keys) in [(head, &mut flux_head), (base, &mut flux_base)] {
            let Some(text) = text else { continue };
            config_names(repo, text, &mut s.config_names);
            flux_keys(repo, f, text, keys);
        }
        if FILE_NAMES.contains(&f.file_name()) {
            // Only a reference added or removed changes whether a directory is a base.
            let (mut h, mut b) = (BTreeSet::new(), BTreeSet::new());
            if let Some(t) = head {
                referenced_dirs(repo, &f.parent(), t, &mut h);
            }
            if let Some(t) = base {
                referenced_dirs(repo, &f.parent(), t, &mut b);
            }
            s.referenced.extend(h.symmetric_difference(&b).cloned());
        }
    }
    for (k, (file, base_path)) in flux_base {
        match flux_head.get(&k) {
            None => {
                s.flux_removed.insert(k, file);
            }
            Some((_, head_path)) if *head_path != base_path => {
                s.flux_moved.insert(k, (file, base_path));
            }
            Some(_) => {}
        }
    }
    let catalog = RelPath::parse(&config.schema_catalog);
    let crds: Vec<RelPath> = config.crds.iter().filter_map(|c| RelPath::parse(c)).collect();
    for (f, head, base) in &texts {
        let reason = if f.as_str() == FILE_NAME {
            Some(format!("{FILE_NAME} changed"))
        } else if catalog.as_ref().is_some_and(|c| f.starts_with(c)) {
            Some(format!("the schema catalog changed ({f})"))
        } else if crds.iter().any(|c| f.starts_with(c)) {
            Some(format!("a schemas.crds file changed ({f})"))
        } else if !(f.as_str().ends_with(".yaml") || f.as_str().ends_with(".yml")) || config.is_ignored(f) {
            None
        } else {
            let head = head.as_deref().is_some_and(has_crd);
            let base = changes.deleted.contains(*f) && base.as_deref().is_some_and(has_crd);
            (head || base).then(|| format!("a CRD file changed ({f})"))
        };
        if reason.is_some() {
            s.everything = reason;
            break;
        }
    }
    s
}

/// Every file some value of `node` came from (a patch's file for patched fields).
pub fn node_files(repo: &Repo, node: &Node, out: &mut BTreeSet<RelPath>) {
    if let Some(f) = repo.file_of(node.loc) {
        out.insert(f.path.clone());
    }
    match &node.value {
        Value::Map(m) => m.values().for_each(|v| node_files(repo, v, out)),
        Value::Seq(s) => s.iter().for_each(|v| node_files(repo, v, out)),
        _ => {}
    }
}

/// The inputs of a failed render: what it read or tried to read, its kustomization file, and
/// every file the failure and its notes point into.
pub fn failed_inputs(repo: &Repo, dir: &RelPath, failed: &Failed) -> BTreeSet<RelPath> {
    let mut out: BTreeSet<RelPath> = failed.files.clone();
    out.extend(kustomization_file(repo, dir));
    for d in failed.notes.iter().chain(std::iter::once(&failed.error)) {
        if let Some(f) = repo.file_of(d.loc) {
            out.insert(f.path.clone());
        }
    }
    out
}

/// The inputs of a plain entry point's render (successful or not).
pub fn plain_inputs(repo: &Repo, dir: &RelPath, result: Option<&Result<Rendered, Failed>>) -> BTreeSet<RelPath> {
    match result {
        Some(Ok(r)) => r.files.clone(),
        Some(Err(f)) => failed_inputs(repo, dir, f),
        None => kustomization_file(repo, dir).into_iter().collect(),
    }
}

/// The inputs of every Flux entry point, by name. The files that define an entry point's Flux
/// Kustomization object, and those of every ancestor's, are inputs too: a parent whose spec
/// changes (another `path`, `targetNamespace`, patches) can add, move or change its children.
pub fn flux_inputs(repo: &Repo, index: &RepoIndex, entries: &[FluxEntry]) -> BTreeMap<String, BTreeSet<RelPath>> {
    let mut out = BTreeMap::new();
    let mut defs: BTreeMap<&str, BTreeSet<RelPath>> = BTreeMap::new();
    let mut parents: BTreeMap<&str, &str> = BTreeMap::new();
    for e in entries {
        let mut def = BTreeSet::new();
        let cluster = RelPath::parse(cluster_of(&e.name)).unwrap_or_default();
        let mut files = match &e.result {
            Ok(r) => r.files.clone(),
            Err(f) => {
                let dir = RelPath::parse(&e.dir).unwrap_or_default();
                failed_inputs(repo, &dir, f)
            }
        };
        // A path without a kustomization file is built from a listing of its YAML files:
        // whatever is added below it is an input.
        if let Some(dir) = RelPath::parse(&e.dir).filter(|d| kustomization_file(repo, d).is_none()) {
            files.insert(dir);
        }
        // The files that define this Flux Kustomization object, preferring the cluster's own.
        let found: Vec<_> = index
            .kustomizations
            .iter()
            .filter(|k| {
                k.doc.str_at(&["metadata", "name"]) == Some(e.key.name.as_str())
                    && k.doc.str_at(&["metadata", "namespace"]).unwrap_or("default") == e.key.namespace
            })
            .collect();
        let own: Vec<_> = found.iter().filter(|k| k.file.starts_with(&cluster)).collect();
        let chosen: Vec<_> = if own.is_empty() { found.iter().collect() } else { own };
        for k in &chosen {
            def.insert(k.file.clone());
            // A root (nothing here renders it) substitutes from what the repository defines.
            if let Ok(fk) = FluxKustomization::parse(&k.doc, &e.key.namespace) {
                substitute_inputs(repo, index, entries, &fk, &e.key.namespace, &mut files);
            }
        }
        // The object as rendered by its parent (patched, substituted): every file it came from,
        // and its substituteFrom sources.
        for parent in entries.iter().filter(|p| cluster_of(&p.name) == cluster_of(&e.name)) {
            let Ok(r) = &parent.result else { continue };
            for res in &r.resources {
                let is_it = crate::flux::entry::is_flux_kustomization(&res.node)
                    && res.name() == e.key.name
                    && (if res.namespace().is_empty() { "default" } else { res.namespace() }) == e.key.namespace;
                if !is_it {
                    continue;
                }
                if parent.name != e.name {
                    parents.insert(&e.name, &parent.name);
                }
                node_files(repo, &res.node, &mut def);
                let Ok(fk) = FluxKustomization::parse(&res.node, &e.key.namespace) else { continue };
                substitute_inputs(repo, index, entries, &fk, &e.key.namespace, &mut files);
            }
        }
        files.extend(def.iter().cloned());
        defs.insert(&e.name, def);
        out.insert(e.name.clone(), files);
    }
    for (name, files) in out.iter_mut() {
        let mut at = name.as_str();
        let mut seen = BTreeSet::from([at]);
        while let Some(&p) = parents.get(at) {
            if !seen.insert(p) {
                break;
            }
            files.extend(defs.get(p).into_iter().flatten().cloned());
            at = p;
        }
    }
    out
}

/// The files that define the `substituteFrom` sources of `fk` (applied in `namespace`): every
/// definition in the repository, and every rendered object of that kind and name.
fn substitute_inputs(
    repo: &Repo,
    index: &RepoIndex,
    entries: &[FluxEntry],
    fk: &FluxKustomization,
    namespace: &str,
    files: &mut BTreeSet<RelPath>,
) {
    for from in fk.post_build.iter().flat_map(|pb| pb.substitute_from.iter()) {
        let key = (from.kind.clone(), namespace.to_string(), from.name.clone());
        for (_, n) in index.config_defs.get(&key).into_iter().flatten() {
            node_files(repo, n, files);
        }
        for o in entries.iter().filter_map(|p| p.result.as_ref().ok()).flat_map(|r| r.resources.iter()) {
            if o.kind() == from.kind && o.name() == from.name && o.namespace() == namespace {
                node_files(repo, &o.node, files);
            }
        }
    }
}

/// Plain entry points that the change removed: a deleted kustomization file whose directory
/// has none any more.
pub fn removed_dirs(repo: &Repo, config: &Config, changes: &Changes) -> Vec<RelPath> {
    let mut out: BTreeSet<RelPath> = BTreeSet::new();
    for f in &changes.deleted {
        if FILE_NAMES.contains(&f.file_name()) {
            let dir = f.parent();
            if kustomization_file(repo, &dir).is_none() && !config.is_ignored(&dir) {
                out.insert(dir);
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_detection_reads_the_kind_line() {
        assert!(has_crd("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"));
        assert!(!has_crd("kind: ConfigMap\ndata:\n  x: CustomResourceDefinition\n"));
    }

    #[test]
    fn cluster_dir_of_a_flux_name() {
        assert_eq!(cluster_of("clusters/production/flux-system/apps"), "clusters/production");
    }

    #[test]
    fn directories_and_probed_kustomization_names_are_inputs() {
        let p = |s: &str| RelPath::parse(s).unwrap();
        let inputs: BTreeSet<RelPath> = [p("apps/missing"), p("base/Kustomization")].into();
        assert!(reads(&inputs, &p("apps/missing/kustomization.yaml")));
        assert!(reads(&inputs, &p("base/kustomization.yaml")));
        assert!(!reads(&inputs, &p("base/deployment.yaml")));
        assert!(!reads(&inputs, &p("apps/other.yaml")));
    }

    #[test]
    fn failed_renders_are_selected_by_directory() {
        let s = Selection { changed: [RelPath::parse("apps/x/patch.yaml").unwrap()].into(), ..Selection::default() };
        let dir = RelPath::parse("apps/x").unwrap();
        assert!(s.selects(&BTreeSet::new(), &dir, true));
        assert!(!s.selects(&BTreeSet::new(), &dir, false));
    }
}
