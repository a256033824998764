//! `fluxgate diff --base REF`: what a change does to the rendered output, object by object.
//!
//! The base side is the tree of `git merge-base REF HEAD` exported into a temporary directory
//! (`git archive | tar -x`; the user's checkout is never touched); the head side is the working
//! tree. Only affected entry points are compared (see [`crate::gate::affected`]): those whose
//! head inputs or base inputs include a changed file. Secret values and SOPS-encrypted values
//! are masked before anything is diffed, so a report can be published as a PR comment.

pub mod format;
pub mod live;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::{self, Config};
use crate::discover::discover;
use crate::gate::changes;
use crate::kustomize::build::{Failed, Rendered};
use crate::kustomize::resource::Resource;
use crate::pipeline::{self, Renders};
use crate::report::EntryPointKind;
use crate::source::{Node, Repo, Value, emit};

/// What every masked value is replaced with.
pub const MASK: &str = "***";

/// Default limit of diff text in a report: below the comment size limits of common code hosts.
pub const DEFAULT_MAX_BYTES: usize = 60_000;

/// An object's identity across the two sides: API group (not version, so an apiVersion bump is
/// a change, not a remove + add), kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectId {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() { String::new() } else { format!(".{}", self.group) };
        if self.namespace.is_empty() {
            write!(f, "{}{group}/{}", self.kind, self.name)
        } else {
            write!(f, "{}{group}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// How an object or an entry point differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One object that differs.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectDiff {
    #[serde(flatten)]
    pub id: ObjectId,
    pub change: Change,
    /// Unified diff of the masked YAML (changed objects only; `null` when omitted by the size
    /// limit or when only masked values differ).
    pub diff: Option<String>,
    /// A Secret value or SOPS-encrypted value changed; the diff cannot show it.
    pub masked_values_changed: bool,
}

/// One affected entry point.
#[derive(Clone, Debug, Serialize)]
pub struct EntryDiff {
    pub name: String,
    pub kind: EntryPointKind,
    /// `added` (only at head), `removed` (only at base), `changed` or `unchanged`.
    pub status: Change,
    /// Why the base render failed (`rule: message`), if it did.
    pub base_error: Option<String>,
    /// Why the head render failed, if it did.
    pub head_error: Option<String>,
    /// Objects that differ, sorted by identity.
    pub objects: Vec<ObjectDiff>,
    /// What reviewers group by: the entry point's environment (`.fluxgate.yaml`
    /// `environments`), else a Flux entry point's cluster directory, else `""`.
    pub group: String,
}

/// The whole diff, as every diff format sees it.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub version: u32,
    pub base: String,
    pub merge_base: String,
    /// Why every entry point was compared, if so.
    pub everything: Option<String>,
    pub entry_points: Vec<EntryDiff>,
    /// Object diffs left out by the size limit (their `diff` is `null`).
    pub truncated: usize,
    /// The limit in bytes of diff text that was applied.
    pub max_bytes: usize,
    /// `diff --cluster`: the live cluster compared with (then `base` is `cluster <context>`,
    /// `added` objects are to be created and `removed` ones to be pruned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<LiveSide>,
}

/// The live side of `diff --cluster`.
#[derive(Clone, Debug, Serialize)]
pub struct LiveSide {
    pub context: String,
    pub server: String,
    /// The Flux tree (directory) the cluster syncs, when found; only its entry points compared.
    pub tree: Option<String>,
}

/// Masks what must not appear in a PR comment: Secret `data`/`stringData` values, SOPS
/// ciphertexts (`ENC[...]`) and the `sops` metadata block.
pub fn mask(node: &mut Node, is_secret: bool) {
    fn scalars(n: &mut Node) {
        match &mut n.value {
            Value::Map(m) => m.values_mut().for_each(scalars),
            Value::Seq(s) => s.iter_mut().for_each(scalars),
            Value::Null(_) => {}
            v => *v = Value::Str(MASK.into()),
        }
    }
    fn enc(n: &mut Node) {
        match &mut n.value {
            Value::Map(m) => m.values_mut().for_each(enc),
            Value::Seq(s) => s.iter_mut().for_each(enc),
            Value::Str(s) if s.starts_with("ENC[") => *s = MASK.into(),
            _ => {}
        }
    }
    enc(node);
    if let Some(m) = node.as_map_mut() {
        if let Some(sops) = m.get_mut("sops") {
            scalars(sops);
        }
        if is_secret {
            for key in ["data", "stringData"] {
                if let Some(d) = m.get_mut(key).and_then(Node::as_map_mut) {
                    d.values_mut().for_each(scalars);
                }
            }
        }
    }
}

fn object_id(r: &Resource) -> ObjectId {
    ObjectId {
        group: r.gvk().group,
        kind: r.kind().to_string(),
        namespace: r.namespace().to_string(),
        name: r.name().to_string(),
    }
}

/// (masked YAML, raw YAML) of every object of a render, by identity.
fn objects(r: Option<&Result<Rendered, Failed>>) -> BTreeMap<ObjectId, (String, String)> {
    let mut out = BTreeMap::new();
    if let Some(Ok(rendered)) = r {
        for res in &rendered.resources {
            let raw = emit::emit_node(&res.node);
            let mut masked = res.node.clone();
            mask(&mut masked, res.kind() == "Secret" && res.group().is_empty());
            out.insert(object_id(res), (emit::emit_node(&masked), raw));
        }
    }
    out
}

fn error_text(r: Option<&Result<Rendered, Failed>>) -> Option<String> {
    match r {
        Some(Err(f)) => Some(format!("{}: {}", f.error.rule, f.error.message)),
        _ => None,
    }
}

/// Compares one entry point's two renders (`None`: the entry point does not exist there).
pub fn diff_entry(
    name: &str,
    kind: EntryPointKind,
    base: Option<&Result<Rendered, Failed>>,
    head: Option<&Result<Rendered, Failed>>,
) -> EntryDiff {
    let (b, h) = (objects(base), objects(head));
    let ids: BTreeSet<&ObjectId> = b.keys().chain(h.keys()).collect();
    let mut out = Vec::new();
    for id in ids {
        let d = match (b.get(id), h.get(id)) {
            (None, Some(_)) => {
                ObjectDiff { id: id.clone(), change: Change::Added, diff: None, masked_values_changed: false }
            }
            (Some(_), None) => {
                ObjectDiff { id: id.clone(), change: Change::Removed, diff: None, masked_values_changed: false }
            }
            (Some((bm, braw)), Some((hm, hraw))) if braw != hraw => {
                let diff = (bm != hm).then(|| {
                    similar::TextDiff::from_lines(bm.as_str(), hm.as_str())
                        .unified_diff()
                        .context_radius(3)
                        .header("base", "head")
                        .to_string()
                });
                // Values hidden by the mask changed if the raw texts differ more than the masked ones.
                let masked_values_changed = bm == hm || masked_only_differs(bm, hm, braw, hraw);
                ObjectDiff { id: id.clone(), change: Change::Changed, diff, masked_values_changed }
            }
            _ => continue,
        };
        out.push(d);
    }
    let status = match (base, head) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        _ if out.is_empty() && error_text(base) == error_text(head) => Change::Unchanged,
        _ => Change::Changed,
    };
    EntryDiff {
        name: name.to_string(),
        kind,
        status,
        base_error: error_text(base),
        head_error: error_text(head),
        objects: out,
        group: String::new(),
    }
}

/// Whether masked values differ too: unmask-equivalent check by line counts of differing lines.
fn masked_only_differs(bm: &str, hm: &str, braw: &str, hraw: &str) -> bool {
    let changed = |a: &str, b: &str| {
        similar::TextDiff::from_lines(a, b).iter_all_changes().filter(|c| c.tag() != similar::ChangeTag::Equal).count()
    };
    changed(braw, hraw) > changed(bm, hm)
}

/// Leaves out object diffs once `max_bytes` of diff text is reached (in report order), so a
/// report stays publishable; the count of omitted diffs is in `truncated`.
pub fn limit(report: &mut DiffReport, max_bytes: usize) {
    report.max_bytes = max_bytes;
    let mut used = 0usize;
    for o in report.entry_points.iter_mut().flat_map(|e| e.objects.iter_mut()) {
        if let Some(d) = &o.diff {
            if used + d.len() > max_bytes {
                o.diff = None;
                report.truncated += 1;
            } else {
                used += d.len();
            }
        }
    }
}

/// Each entry point's kind, rendered directory and render.
type Results<'a> = BTreeMap<String, (EntryPointKind, String, Option<&'a Result<Rendered, Failed>>)>;

fn results(r: &Renders) -> Results<'_> {
    let mut out = BTreeMap::new();
    for (dir, res) in &r.plain {
        out.insert(dir.to_string(), (EntryPointKind::Kustomize, dir.to_string(), res.as_ref()));
    }
    for e in &r.flux {
        out.insert(e.name.clone(), (EntryPointKind::Flux, e.dir.clone(), Some(&e.result)));
    }
    out
}

/// One side's render of an entry point (`None`: it does not exist on that side).
fn side<'a>(m: &Results<'a>, name: &str) -> Option<&'a Result<Rendered, Failed>> {
    m.get(name).map(|x| x.2.unwrap_or(&CRASHED))
}

/// The group a reviewer reads an entry point under: its environment, else (Flux) its cluster
/// directory, else none.
pub fn group_of(config: &Config, kind: EntryPointKind, name: &str, path: &str) -> String {
    if let Some(env) = crate::policy::environment(config, kind, name, path) {
        return env.to_string();
    }
    match kind {
        EntryPointKind::Kustomize => String::new(),
        _ => crate::flux::entry::cluster_of(name).to_string(),
    }
}

/// Renders the affected entry points at the merge base and in the working tree and compares
/// them. Errors only when the run cannot be set up (no git, bad ref, export failed).
pub fn pr_diff(repo: &Repo, config: &Config, base: &str, max_bytes: usize) -> Result<DiffReport, String> {
    let (c, sel) = pipeline::change_selection(repo, config, base)?;
    let head = pipeline::render_entry_points(repo, config, &discover(repo, config));
    let mut names = pipeline::selected_names(repo, &head, &sel);
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let base_root =
        changes::export_tree(repo.root(), &c.merge_base, &c.prefix, tmp.path()).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&base_root).map_err(|e| format!("cannot create {}: {e}", base_root.display()))?;
    let base_repo = Repo::open(&base_root).map_err(|e| format!("cannot open {}: {e}", base_root.display()))?;
    // The base is rendered with its own config (ignore globs, sources) when it parses.
    let base_config = std::fs::read_to_string(base_root.join(config::FILE_NAME))
        .ok()
        .and_then(|t| Config::parse(&t).ok())
        .unwrap_or_else(|| config.clone());
    let base_renders = pipeline::render_entry_points(&base_repo, &base_config, &discover(&base_repo, &base_config));
    names.extend(pipeline::selected_names(&base_repo, &base_renders, &sel));
    let (b, h) = (results(&base_renders), results(&head));
    let entry_points = names
        .iter()
        .map(|n| {
            let (kind, path) =
                h.get(n).or_else(|| b.get(n)).map_or((EntryPointKind::Kustomize, n.clone()), |x| (x.0, x.1.clone()));
            let mut e = diff_entry(n, kind, side(&b, n), side(&h, n));
            e.group = group_of(config, kind, n, &path);
            e
        })
        .collect();
    let mut report = DiffReport {
        version: 1,
        base: c.base,
        merge_base: c.merge_base,
        everything: sel.everything,
        entry_points,
        truncated: 0,
        max_bytes,
        cluster: None,
    };
    limit(&mut report, max_bytes);
    Ok(report)
}

/// Stands for a render that crashed (reported by `validate` as an internal error).
static CRASHED: std::sync::LazyLock<Result<Rendered, Failed>> = std::sync::LazyLock::new(|| {
    Err(Failed {
        error: crate::kustomize::diag::Diag::fatal(
            crate::rules::Rule::InternalError,
            crate::source::Loc::NONE,
            "fluxgate crashed while rendering this entry point",
        ),
        notes: Vec::new(),
        files: Default::default(),
    })
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Mapping;

    fn s(v: &str) -> Node {
        Node::synthetic(Value::Str(v.into()))
    }

    #[test]
    fn masks_secret_values_and_sops() {
        let mut data = Mapping::default();
        data.insert("password".into(), s("aHVudGVyMg=="));
        let mut sops = Mapping::default();
        sops.insert("mac".into(), s("ENC[AES256_GCM,data:abc]"));
        sops.insert("version".into(), s("3.8.1"));
        let mut top = Mapping::default();
        top.insert("kind".into(), s("Secret"));
        top.insert("data".into(), Node::synthetic(Value::Map(Box::new(data))));
        top.insert("token".into(), s("ENC[AES256_GCM,data:xyz]"));
        top.insert("sops".into(), Node::synthetic(Value::Map(Box::new(sops))));
        let mut n = Node::synthetic(Value::Map(Box::new(top)));
        mask(&mut n, true);
        let text = emit::emit_node(&n);
        assert!(!text.contains("aHVudGVyMg") && !text.contains("xyz") && !text.contains("3.8.1"), "{text}");
        assert!(text.contains("password: '***'") || text.contains("password: \"***\""), "{text}");
    }
}
