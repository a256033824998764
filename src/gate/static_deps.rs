//! A static, conservative over-approximation of what each kustomization directory's render
//! reads, from its kustomization files alone (no render): every string in a kustomization that
//! names a path (relative to its directory) is a possible input, and a referenced kustomization
//! directory brings its own inputs. `--base` renders only the directories whose static inputs
//! meet a changed path (a superset of the exact, render-based selection), plus the directories
//! that may read their kustomization files (so leaf detection stays exact).

use crate::kustomize::build::is_remote;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

use crate::discover::{Discovery, Needle};
use crate::flux::entry::{FluxKustomization, RepoIndex};
use crate::flux::tree::SourceMapping;
use crate::kustomize::build::kustomization_file;
use crate::kustomize::kustomization::FILE_NAMES;
use crate::source::yaml::{self, Dialect, Parsed};
use crate::source::{FileId, Node, RelPath, Repo, Value};

/// The static inputs of one directory: path prefixes whose change may change its render.
#[derive(Clone, Debug, Default)]
struct Inputs {
    prefixes: BTreeSet<RelPath>,
    /// Unparseable, remote, or part of a cycle: always a candidate.
    unknown: bool,
    /// The kustomization directories among the prefixes (besides its own).
    subs: Vec<RelPath>,
}

/// Static inputs of every kustomization directory of a repository.
pub struct StaticGraph {
    closure: BTreeMap<RelPath, Inputs>,
}

/// Keys whose listed files hold plugin configurations (which name files themselves).
const PLUGIN_KEYS: [&str; 3] = ["generators", "transformers", "validators"];

/// Every string value (not keys) of a node.
fn strings<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
    match &node.value {
        Value::Str(s) => out.push(s),
        Value::Map(m) => m.values().for_each(|v| strings(v, out)),
        Value::Seq(s) => s.iter().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The paths a string may name, relative to `dir` (`key=path` generator entries included).
fn resolve(dir: &RelPath, s: &str, inputs: &mut Inputs) {
    if s.contains('\n') || s.is_empty() {
        return;
    }
    if is_remote(s) {
        inputs.unknown = true;
        return;
    }
    for cand in std::iter::once(s).chain(s.split_once('=').map(|(_, p)| p)) {
        if let Some(p) = dir.join(cand.trim()) {
            inputs.prefixes.insert(p);
        }
    }
}

/// The direct static inputs of one directory (its own directory, and every path its
/// kustomization names).
fn direct(repo: &Repo, dir: &RelPath, known: &HashSet<&RelPath>) -> Inputs {
    let mut inputs = Inputs::default();
    inputs.prefixes.insert(dir.clone());
    let Some(parsed) = parse_kustomization(repo, dir) else {
        inputs.unknown = true;
        return inputs;
    };
    for doc in &parsed.docs {
        let mut all = Vec::new();
        strings(doc, &mut all);
        for s in all {
            resolve(dir, s, &mut inputs);
        }
        // Plugin configuration files name files relative to the kustomization directory.
        for key in PLUGIN_KEYS {
            let mut listed = Vec::new();
            if let Some(n) = doc.get(key) {
                strings(n, &mut listed);
            }
            for s in listed {
                let Some(p) = dir.join(s.trim()) else { continue };
                if !repo.is_file(&p) {
                    continue;
                }
                match repo.load_yaml(&p) {
                    Ok(c) if c.error.is_none() => {
                        for d in &c.docs {
                            let mut inner = Vec::new();
                            strings(d, &mut inner);
                            for s in inner {
                                resolve(dir, s, &mut inputs);
                            }
                        }
                    }
                    _ => inputs.unknown = true,
                }
            }
        }
    }
    // Only these keys can name a directory that is built (a base, a component, a directory of
    // plugin configurations): testing just their entries saves a `stat` per other string.
    let mut refs = Vec::new();
    for doc in &parsed.docs {
        for key in ["resources", "bases", "components"].iter().chain(PLUGIN_KEYS.iter()) {
            if let Some(n) = doc.get(key) {
                strings(n, &mut refs);
            }
        }
    }
    let refs: BTreeSet<RelPath> = refs.iter().filter_map(|s| dir.join(s.trim())).collect();
    inputs.subs = refs.into_iter().filter(|p| p != dir && is_kustomize_dir(repo, p, known)).collect();
    inputs
}

/// Parses a directory's kustomization file on its own (not kept: most are never rendered).
/// A regular file is read directly ([`Repo::peek`]); anything else goes through [`Repo`]'s
/// checks.
fn parse_kustomization(repo: &Repo, dir: &RelPath) -> Option<Parsed> {
    for name in FILE_NAMES {
        let p = dir.join(name)?;
        let text = if let Some(bytes) = repo.peek(&p) {
            String::from_utf8(bytes).ok()?
        } else if repo.is_file(&p) {
            repo.read(&p).ok()?.text.clone()
        } else {
            continue;
        };
        let parsed = yaml::parse(&text, FileId(u32::MAX), Dialect::Yaml12, &repo.limits);
        return parsed.error.is_none().then_some(parsed);
    }
    None
}

impl StaticGraph {
    /// Builds the graph of `dirs` (and of any kustomization directory they name).
    pub fn build(repo: &Repo, dirs: &[RelPath]) -> StaticGraph {
        let known: HashSet<&RelPath> = dirs.iter().collect();
        let mut direct_of: HashMap<RelPath, Inputs> =
            dirs.par_iter().map(|d| (d.clone(), direct(repo, d, &known))).collect::<Vec<_>>().into_iter().collect();
        let mut closure: HashMap<RelPath, Inputs> = HashMap::new();
        let mut on_stack: HashSet<RelPath> = HashSet::new();
        for d in dirs {
            close(repo, d, &known, &mut direct_of, &mut closure, &mut on_stack);
        }
        StaticGraph { closure: closure.into_iter().filter(|(d, _)| known.contains(d)).collect() }
    }

    /// The directories whose static inputs meet a changed path (or that are unknown).
    pub fn candidates(&self, changed: &BTreeSet<RelPath>) -> BTreeSet<RelPath> {
        self.closure.iter().filter(|(_, i)| i.unknown || meets(&i.prefixes, changed)).map(|(d, _)| d.clone()).collect()
    }

    /// The static inputs of any directory a build may start from: a kustomization directory's
    /// closure; for a directory without a kustomization file (Flux generates one from the YAML
    /// files below it and the kustomization directories it finds there), the directory itself
    /// and the closures of every kustomization directory below it. `None`: unknown (not
    /// discovered, unparseable, remote, cyclic).
    fn inputs_of(&self, repo: &Repo, dir: &RelPath) -> Option<BTreeSet<RelPath>> {
        if let Some(i) = self.closure.get(dir) {
            return (!i.unknown).then(|| i.prefixes.clone());
        }
        if kustomization_file(repo, dir).is_some() {
            return None;
        }
        let mut out = BTreeSet::from([dir.clone()]);
        let below = self.closure.range(dir.clone()..).take_while(|(d, _)| d.as_str().starts_with(dir.as_str()));
        for (_, i) in below.filter(|(d, _)| d.starts_with(dir)) {
            if i.unknown {
                return None;
            }
            out.extend(i.prefixes.iter().cloned());
        }
        Some(out)
    }
}

/// Whether a path prefix meets a changed path (one lies under the other).
fn meets(prefixes: &BTreeSet<RelPath>, changed: &BTreeSet<RelPath>) -> bool {
    prefixes.iter().any(|p| changed.iter().any(|c| c.starts_with(p) || p.starts_with(c)))
}

/// Which Flux Kustomizations below the cluster roots `validate --base` must render: those whose
/// static inputs (their `spec.path` and `spec.components`) meet the change, and those that may
/// render further Flux Kustomizations (so the tree below is found as in a full run). Built
/// only when that is safe; otherwise every entry point is rendered:
///
/// - no changed file may define a Flux Kustomization, and no change may reach a directory that
///   renders some (the children's effective specs would change);
/// - every `substituteFrom` must resolve to a ConfigMap/Secret written in a repository file
///   (one produced by a render could come from a leaf that is not rendered).
///
/// Cross-entry findings between a changed entry point and one the change cannot affect (an
/// object applied by both) are left to a full run.
pub struct FluxScope<'g> {
    graph: &'g StaticGraph,
    changed: BTreeSet<RelPath>,
    /// YAML files that may hold a Flux Kustomization.
    flux_files: Vec<RelPath>,
}

impl<'g> FluxScope<'g> {
    /// The scope of a change, or `None` when every Flux entry point must be rendered.
    pub fn new(
        repo: &Repo,
        graph: &'g StaticGraph,
        changed: &BTreeSet<RelPath>,
        discovery: &Discovery,
        index: &RepoIndex,
        sources: &[SourceMapping],
    ) -> Option<FluxScope<'g>> {
        let flux_files = discovery.files_with(&[Needle::FluxKustomization]);
        if flux_files.iter().any(|f| changed.contains(f)) {
            return None;
        }
        let scope = FluxScope { graph, changed: changed.clone(), flux_files };
        let roots: Vec<RelPath> = std::iter::once(RelPath::root())
            .chain(sources.iter().filter_map(|m| {
                let p = m.path.trim_start_matches("./").trim_end_matches('/');
                if p.is_empty() || p == "." { Some(RelPath::root()) } else { RelPath::parse(p) }
            }))
            .collect();
        for found in &index.kustomizations {
            let ns = found.doc.str_at(&["metadata", "namespace"]).unwrap_or("default");
            let Ok(fk) = FluxKustomization::parse(&found.doc, ns) else { return None };
            for from in fk.post_build.iter().flat_map(|pb| pb.substitute_from.iter()) {
                if !index.config.contains_key(&(from.kind.clone(), fk.key.namespace.clone(), from.name.clone())) {
                    return None;
                }
            }
            for root in &roots {
                let Some(dir) = fk.dir_in(root) else { continue };
                let inputs = scope.inputs(repo, &fk, &dir)?;
                if scope.renders_flux(&inputs) && meets(&inputs, changed) {
                    return None;
                }
            }
        }
        Some(scope)
    }

    /// The static inputs of a Flux Kustomization building `dir` (`None`: unknown).
    fn inputs(&self, repo: &Repo, fk: &FluxKustomization, dir: &RelPath) -> Option<BTreeSet<RelPath>> {
        let mut out = self.graph.inputs_of(repo, dir)?;
        for c in &fk.components {
            let p = dir.join(c.value.trim())?;
            out.extend(self.graph.inputs_of(repo, &p)?);
        }
        Some(out)
    }

    /// Whether a build with these inputs may render Flux Kustomizations.
    fn renders_flux(&self, inputs: &BTreeSet<RelPath>) -> bool {
        self.flux_files.iter().any(|f| inputs.iter().any(|p| f.starts_with(p)))
    }

    /// Whether a Flux Kustomization that builds `dir` must be rendered.
    pub fn wants(&self, repo: &Repo, fk: &FluxKustomization, dir: &RelPath) -> bool {
        match self.inputs(repo, fk, dir) {
            None => true,
            Some(inputs) => meets(&inputs, &self.changed) || self.renders_flux(&inputs),
        }
    }
}

impl StaticGraph {
    /// The directories that may read the kustomization file of one of `dirs` (their bases'
    /// users), besides those directories themselves.
    pub fn users_of(&self, repo: &Repo, dirs: &BTreeSet<RelPath>) -> BTreeSet<RelPath> {
        let mut ancestors: HashSet<RelPath> = HashSet::new();
        for d in dirs {
            let Some(mut p) = kustomization_file(repo, d) else { continue };
            loop {
                ancestors.insert(p.clone());
                if p.is_root() {
                    break;
                }
                p = p.parent();
            }
        }
        self.closure
            .iter()
            .filter(|(d, i)| !dirs.contains(*d) && (i.unknown || i.prefixes.iter().any(|p| ancestors.contains(p))))
            .map(|(d, _)| d.clone())
            .collect()
    }
}

/// Whether a referenced path is a kustomization directory (answered from the cached
/// directory listings for a path that names nothing, as most strings of a kustomization do).
fn is_kustomize_dir(repo: &Repo, p: &RelPath, known: &HashSet<&RelPath>) -> bool {
    known.contains(p) || (repo.is_dir(p) && kustomization_file(repo, p).is_some())
}

fn close(
    repo: &Repo,
    dir: &RelPath,
    known: &HashSet<&RelPath>,
    direct_of: &mut HashMap<RelPath, Inputs>,
    closure: &mut HashMap<RelPath, Inputs>,
    on_stack: &mut HashSet<RelPath>,
) -> Inputs {
    if let Some(c) = closure.get(dir) {
        return c.clone();
    }
    if on_stack.contains(dir) {
        // A cycle: the render fails; stay conservative.
        return Inputs { unknown: true, ..Inputs::default() };
    }
    let own = match direct_of.get(dir) {
        Some(i) => i.clone(),
        None => {
            let i = direct(repo, dir, known);
            direct_of.insert(dir.clone(), i.clone());
            i
        }
    };
    on_stack.insert(dir.clone());
    let mut out = Inputs { subs: Vec::new(), ..own.clone() };
    for p in &own.subs {
        {
            let sub = close(repo, p, known, direct_of, closure, on_stack);
            out.unknown |= sub.unknown;
            out.prefixes.extend(sub.prefixes);
        }
    }
    on_stack.remove(dir);
    closure.insert(dir.clone(), out.clone());
    out
}
