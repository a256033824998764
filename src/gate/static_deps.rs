//! A static, conservative over-approximation of what each kustomization directory's render
//! reads, from its kustomization files alone (no render): every string in a kustomization that
//! names a path (relative to its directory) is a possible input, and a referenced kustomization
//! directory brings its own inputs. `--base` renders only the directories whose static inputs
//! meet a changed path (a superset of the exact, render-based selection), plus the directories
//! that may read their kustomization files (so leaf detection stays exact).

use crate::kustomize::build::is_remote;
use std::collections::{BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

use super::scan;
use crate::discover::{Discovery, Needle};
use crate::flux::entry::{FluxKustomization, RepoIndex};
use crate::flux::tree::SourceMapping;
use crate::kustomize::build::kustomization_file;
use crate::source::yaml::{self, Dialect};
use crate::source::{FileId, Node, RelPath, Repo, Value};

/// The static inputs of one directory: path prefixes whose change may change its render.
#[derive(Clone, Debug, Default, PartialEq)]
struct Inputs {
    prefixes: BTreeSet<RelPath>,
    /// Unparseable, remote, or part of a cycle: always a candidate.
    unknown: bool,
    /// The kustomization directories among the prefixes (besides its own).
    subs: Vec<RelPath>,
}

/// Static inputs of every kustomization directory of a repository: each directory's direct
/// inputs and the directories it builds. The transitive inputs are never collected: every
/// question asked of them ("does one meet the change?", "does one hold a Flux
/// Kustomization?") is a property of single paths, answered once per directory by
/// [`StaticGraph::reach`], not by copying each base's inputs into every overlay that builds it.
pub struct StaticGraph {
    /// Direct inputs of the given directories and of every kustomization directory they name.
    direct: HashMap<RelPath, Inputs>,
    /// The given directories, the ones the graph answers for.
    known: BTreeSet<RelPath>,
}

/// What a directory's transitive inputs say about a property of paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Unparseable, remote, or part of (or building) a cycle: anything may hold.
    Unknown,
    /// Some input has the property.
    Hit,
    Miss,
}

impl Reach {
    fn or(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::Unknown, _) | (_, Reach::Unknown) => Reach::Unknown,
            (Reach::Hit, _) | (_, Reach::Hit) => Reach::Hit,
            _ => Reach::Miss,
        }
    }
}

/// Up to this many paths, a set is searched in one pass (no allocation); above, by range.
const SCAN_LIMIT: usize = 32;

/// Whether a sorted set holds `p` or a path below it.
fn any_under(sorted: &BTreeSet<RelPath>, p: &RelPath) -> bool {
    if sorted.len() <= SCAN_LIMIT {
        return sorted.iter().any(|f| f.starts_with(p));
    }
    if p.is_root() {
        return !sorted.is_empty();
    }
    if sorted.contains(p) {
        return true;
    }
    let below = format!("{}/", p.as_str());
    sorted.range(RelPath::from_components([below.clone()])..).next().is_some_and(|f| f.as_str().starts_with(&below))
}

/// Whether a path prefix meets a changed path (one lies under the other).
fn meets_one(p: &RelPath, changed: &BTreeSet<RelPath>) -> bool {
    if changed.len() <= SCAN_LIMIT {
        return changed.iter().any(|c| c.starts_with(p) || p.starts_with(c));
    }
    if any_under(changed, p) {
        return true;
    }
    let mut at = p.clone();
    while !at.is_root() {
        at = at.parent();
        if changed.contains(&at) {
            return true;
        }
    }
    false
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

/// The paths outside `dir` a string may name, relative to `dir` (`key=path` generator
/// entries included).
///
/// Why only outside: `dir` itself is always an input, and every question asked of inputs
/// (does one meet a changed path, hold a Flux file, lie above a kustomization file) holds for
/// `dir` whenever it holds for a path below it. Only a `..` segment leaves `dir`.
fn resolve(dir: &RelPath, s: &str, inputs: &mut Inputs) {
    if s.contains('\n') || s.is_empty() {
        return;
    }
    if is_remote(s) {
        inputs.unknown = true;
        return;
    }
    if !s.contains("..") {
        return;
    }
    for cand in std::iter::once(s).chain(s.split_once('=').map(|(_, p)| p)) {
        if let Some(p) = dir.join(cand.trim()).filter(|p| !p.starts_with(dir)) {
            inputs.prefixes.insert(p);
        }
    }
}

/// Keys whose entries may name a directory that is built (a base, a component, a directory of
/// plugin configurations).
const BUILT_KEYS: [&str; 6] = ["resources", "bases", "components", "generators", "transformers", "validators"];

/// The direct static inputs of one directory (its own directory, and every path its
/// kustomization names).
fn direct(repo: &Repo, dir: &RelPath, known: &HashSet<&RelPath>) -> Inputs {
    direct_by(repo, dir, known, true)
}

/// [`direct`], with the line scan tried first (`scan_first`) or the full parse alone (to test
/// that both agree).
fn direct_by(repo: &Repo, dir: &RelPath, known: &HashSet<&RelPath>, scan_first: bool) -> Inputs {
    let mut inputs = Inputs::default();
    inputs.prefixes.insert(dir.clone());
    let Some(file) = kustomization_file(repo, dir).and_then(|p| repo.read(&p).ok()) else {
        inputs.unknown = true;
        return inputs;
    };
    // The line scan where the file is simple enough for it; the full parse otherwise.
    let scanned = scan_first.then(|| scanned(&file.text)).flatten();
    let parsed;
    let sections: Vec<(Option<&str>, Vec<&str>)> = match &scanned {
        Some(s) => s.iter().map(|x| (Some(x.key.as_ref()), x.values.iter().map(|v| v.as_ref()).collect())).collect(),
        None => {
            parsed = yaml::parse(&file.text, FileId(u32::MAX), Dialect::Yaml12, &repo.limits);
            if parsed.error.is_some() {
                inputs.unknown = true;
                return inputs;
            }
            parsed.docs.iter().flat_map(doc_sections).collect()
        }
    };
    let mut refs = BTreeSet::new();
    for (key, values) in &sections {
        for s in values {
            resolve(dir, s, &mut inputs);
        }
        if key.is_some_and(|k| PLUGIN_KEYS.contains(&k)) {
            // Plugin configuration files name files relative to the kustomization directory.
            for s in values {
                plugin_inputs(repo, dir, s, &mut inputs);
            }
        }
        if key.is_some_and(|k| BUILT_KEYS.contains(&k)) {
            refs.extend(values.iter().filter_map(|s| dir.join(s.trim())));
        }
    }
    inputs.subs = refs.into_iter().filter(|p| p != dir && is_kustomize_dir(repo, p, known)).collect();
    inputs
}

/// A kustomization's sections by [`scan::sections`], when the line scan says all the graph
/// needs of them.
fn scanned(text: &str) -> Option<Vec<scan::Section<'_>>> {
    scan::sections(text).filter(|s| s.iter().all(scan_is_enough))
}

/// Whether a scanned section says all the graph needs: a block scalar's value is not
/// computed, so it may only stand where it can name no input (outside [`BUILT_KEYS`], without
/// a `..` or anything remote in its text).
fn scan_is_enough(section: &scan::Section) -> bool {
    section.blocks.is_empty()
        || (!BUILT_KEYS.contains(&section.key.as_ref())
            && section.blocks.iter().all(|b| {
                !["..", "://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/"].iter().any(|m| b.contains(m))
            }))
}

/// A parsed document as (top-level key, every string below it); a document that is not a
/// mapping is one keyless section.
fn doc_sections(doc: &Node) -> Vec<(Option<&str>, Vec<&str>)> {
    match doc.as_map() {
        Some(m) => m
            .iter()
            .map(|(k, v)| {
                let mut all = Vec::new();
                strings(v, &mut all);
                (Some(k.as_str()), all)
            })
            .collect(),
        None => {
            let mut all = Vec::new();
            strings(doc, &mut all);
            vec![(None, all)]
        }
    }
}

/// The inputs a plugin configuration file listed in a kustomization names.
fn plugin_inputs(repo: &Repo, dir: &RelPath, listed: &str, inputs: &mut Inputs) {
    let Some(p) = dir.join(listed.trim()) else { return };
    if !repo.is_file(&p) {
        return;
    }
    match repo.load_yaml(&p) {
        Ok(c) if c.error.is_none() => {
            for d in &c.docs {
                let mut inner = Vec::new();
                strings(d, &mut inner);
                for s in inner {
                    resolve(dir, s, inputs);
                }
            }
        }
        _ => inputs.unknown = true,
    }
}

impl StaticGraph {
    /// Builds the graph of `dirs` (and of any kustomization directory they name).
    pub fn build(repo: &Repo, dirs: &[RelPath]) -> StaticGraph {
        let known: HashSet<&RelPath> = dirs.iter().collect();
        let mut direct_of: HashMap<RelPath, Inputs> =
            dirs.par_iter().map(|d| (d.clone(), direct(repo, d, &known))).collect::<Vec<_>>().into_iter().collect();
        // Kustomization directories named but not given (ignored, in a dot-directory).
        let mut missing: Vec<RelPath> =
            direct_of.values().flat_map(|i| i.subs.iter()).filter(|s| !direct_of.contains_key(*s)).cloned().collect();
        while let Some(d) = missing.pop() {
            if direct_of.contains_key(&d) {
                continue;
            }
            let i = direct(repo, &d, &known);
            missing.extend(i.subs.iter().filter(|s| !direct_of.contains_key(*s)).cloned());
            direct_of.insert(d, i);
        }
        StaticGraph { direct: direct_of, known: dirs.iter().cloned().collect() }
    }

    /// For every given directory: whether one of its transitive inputs has the property `hit`.
    fn reach(&self, hit: &dyn Fn(&RelPath) -> bool) -> HashMap<&RelPath, Reach> {
        let mut memo: HashMap<&RelPath, Reach> = HashMap::new();
        let mut on_stack: HashSet<&RelPath> = HashSet::new();
        for d in &self.known {
            self.reach_from(d, hit, &mut memo, &mut on_stack);
        }
        memo.retain(|d, _| self.known.contains(*d));
        memo
    }

    fn reach_from<'a>(
        &'a self,
        dir: &'a RelPath,
        hit: &dyn Fn(&RelPath) -> bool,
        memo: &mut HashMap<&'a RelPath, Reach>,
        on_stack: &mut HashSet<&'a RelPath>,
    ) -> Reach {
        if let Some(r) = memo.get(dir) {
            return *r;
        }
        // A cycle: the render fails; stay conservative.
        let Some(own) = self.direct.get(dir).filter(|_| !on_stack.contains(dir)) else { return Reach::Unknown };
        let mut out = if own.unknown {
            Reach::Unknown
        } else if own.prefixes.iter().any(hit) {
            Reach::Hit
        } else {
            Reach::Miss
        };
        on_stack.insert(dir);
        for sub in &own.subs {
            out = out.or(self.reach_from(sub, hit, memo, on_stack));
        }
        on_stack.remove(dir);
        memo.insert(dir, out);
        out
    }

    /// The directories whose static inputs meet a changed path (or that are unknown).
    pub fn candidates(&self, changed: &BTreeSet<RelPath>) -> BTreeSet<RelPath> {
        let reach = self.reach(&|p| meets_one(p, changed));
        reach.into_iter().filter(|(_, r)| *r != Reach::Miss).map(|(d, _)| d.clone()).collect()
    }

    /// What the static inputs of any directory a build may start from say about a property
    /// (`reach` from [`StaticGraph::reach`], `hit` the property itself): a kustomization
    /// directory's own answer; for a directory without a kustomization file (Flux generates one
    /// from the YAML files below it and the kustomization directories it finds there), the
    /// directory itself and every kustomization directory below it. Unknown when not
    /// discovered, unparseable, remote, cyclic.
    fn reach_of(
        &self,
        repo: &Repo,
        dir: &RelPath,
        reach: &HashMap<&RelPath, Reach>,
        hit: &dyn Fn(&RelPath) -> bool,
    ) -> Reach {
        if let Some(r) = reach.get(dir) {
            return *r;
        }
        if kustomization_file(repo, dir).is_some() {
            return Reach::Unknown;
        }
        let mut out = if hit(dir) { Reach::Hit } else { Reach::Miss };
        let below = self.known.range(dir.clone()..).take_while(|d| d.as_str().starts_with(dir.as_str()));
        for d in below.filter(|d| d.starts_with(dir)) {
            out = out.or(reach.get(d).copied().unwrap_or(Reach::Unknown));
        }
        out
    }
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
    flux_files: BTreeSet<RelPath>,
    /// Whether each kustomization directory's inputs meet the change.
    meets: HashMap<&'g RelPath, Reach>,
    /// Whether each kustomization directory's inputs hold a file in `flux_files`.
    flux: HashMap<&'g RelPath, Reach>,
}

/// What a Flux Kustomization's build inputs say: whether they meet the change, and whether
/// they may render Flux Kustomizations (`None`: unknown).
struct BuildReach {
    meets: bool,
    renders_flux: bool,
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
        let flux_files: BTreeSet<RelPath> = discovery.files_with(&[Needle::FluxKustomization]).into_iter().collect();
        if flux_files.iter().any(|f| changed.contains(f)) {
            return None;
        }
        let meets = graph.reach(&|p| meets_one(p, changed));
        let flux = graph.reach(&|p| any_under(&flux_files, p));
        let scope = FluxScope { graph, changed: changed.clone(), flux_files, meets, flux };
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
                if inputs.renders_flux && inputs.meets {
                    return None;
                }
            }
        }
        Some(scope)
    }

    /// What the static inputs of a Flux Kustomization building `dir` say (`None`: unknown).
    fn inputs(&self, repo: &Repo, fk: &FluxKustomization, dir: &RelPath) -> Option<BuildReach> {
        let changed = |p: &RelPath| meets_one(p, &self.changed);
        let flux = |p: &RelPath| any_under(&self.flux_files, p);
        let mut meets = self.graph.reach_of(repo, dir, &self.meets, &changed);
        let mut renders_flux = self.graph.reach_of(repo, dir, &self.flux, &flux);
        for c in &fk.components {
            let p = dir.join(c.value.trim())?;
            meets = meets.or(self.graph.reach_of(repo, &p, &self.meets, &changed));
            renders_flux = renders_flux.or(self.graph.reach_of(repo, &p, &self.flux, &flux));
        }
        if meets == Reach::Unknown || renders_flux == Reach::Unknown {
            return None;
        }
        Some(BuildReach { meets: meets == Reach::Hit, renders_flux: renders_flux == Reach::Hit })
    }

    /// Whether a Flux Kustomization that builds `dir` must be rendered.
    pub fn wants(&self, repo: &Repo, fk: &FluxKustomization, dir: &RelPath) -> bool {
        self.inputs(repo, fk, dir).is_none_or(|i| i.meets || i.renders_flux)
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
        let reach = self.reach(&|p| ancestors.contains(p));
        reach.into_iter().filter(|(d, r)| !dirs.contains(*d) && *r != Reach::Miss).map(|(d, _)| d.clone()).collect()
    }
}

/// Whether a referenced path is a kustomization directory (answered from the cached
/// directory listings for a path that names nothing, as most strings of a kustomization do).
fn is_kustomize_dir(repo: &Repo, p: &RelPath, known: &HashSet<&RelPath>) -> bool {
    known.contains(p) || (repo.is_dir(p) && kustomization_file(repo, p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> BTreeSet<RelPath> {
        paths.iter().map(|p| RelPath::parse(p).unwrap()).collect()
    }

    #[test]
    fn paths_under_and_meeting_are_found_by_components() {
        let files = set(&["a-b/x.yaml", "a/c/k.yaml", "ab/y.yaml"]);
        let p = |s: &str| RelPath::parse(s).unwrap();
        assert!(any_under(&files, &p("a")) && any_under(&files, &p("a/c")) && any_under(&files, &p("a/c/k.yaml")));
        assert!(!any_under(&files, &p("a/b")) && !any_under(&files, &p("a/c/k")) && any_under(&files, &p("")));
        assert!(!any_under(&set(&["a-b/x.yaml"]), &p("a")));
        let changed = set(&["apps/base/app/deployment.yaml"]);
        assert!(meets_one(&p("apps/base"), &changed) && meets_one(&p("apps/base/app/deployment.yaml/x"), &changed));
        assert!(!meets_one(&p("apps/base/app2"), &changed) && !meets_one(&p("apps/base/ap"), &changed));
        // Above the scan limit, the range search gives the same answers.
        let many: BTreeSet<RelPath> = (0..100).map(|i| p(&format!("apps/a-{i}/x.yaml"))).chain(files.clone()).collect();
        for q in ["a", "a/c", "a/b", "apps", "apps/a-1", "apps/a-1/x.yaml/y", "apps/a", "", "ab", "a-b/x.yaml"] {
            let scanned = many.iter().any(|c| c.starts_with(&p(q)) || p(q).starts_with(c));
            assert_eq!(meets_one(&p(q), &many), scanned, "{q}");
            assert_eq!(any_under(&many, &p(q)), many.iter().any(|f| f.starts_with(&p(q))), "{q}");
        }
    }

    /// Transitive inputs: a base's change reaches the overlays that build it; a cycle, and
    /// whatever builds it, is unknown.
    #[test]
    fn reach_follows_bases_and_cycles_are_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let write = |p: &str, t: &str| {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, t).unwrap();
        };
        write("base/kustomization.yaml", "resources: [cm.yaml]\n");
        write("base/cm.yaml", "kind: ConfigMap\n");
        write("dev/kustomization.yaml", "resources: [../base]\n");
        write("other/kustomization.yaml", "resources: [cm.yaml]\n");
        write("other/cm.yaml", "kind: ConfigMap\n");
        write("loop-a/kustomization.yaml", "resources: [../loop-b]\n");
        write("loop-b/kustomization.yaml", "resources: [../loop-a]\n");
        write("uses-loop/kustomization.yaml", "resources: [../loop-a]\n");
        let repo = Repo::open(dir.path()).unwrap();
        let dirs: Vec<RelPath> = ["base", "dev", "loop-a", "loop-b", "other", "uses-loop"]
            .iter()
            .map(|d| RelPath::parse(d).unwrap())
            .collect();
        let graph = StaticGraph::build(&repo, &dirs);
        let cands = graph.candidates(&set(&["base/cm.yaml"]));
        assert_eq!(cands, set(&["base", "dev", "loop-a", "loop-b", "uses-loop"]));
        assert_eq!(graph.users_of(&repo, &set(&["base"])), set(&["dev", "loop-a", "loop-b", "uses-loop"]));
    }

    /// The line scan and the full parse give every kustomization directory the same direct
    /// inputs: on every fixture, and on the checkouts listed in `FLUXGATE_SCAN_ROOTS`
    /// (`:`-separated, for local runs on public repositories).
    #[test]
    fn the_line_scan_and_the_full_parse_agree() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut roots: Vec<std::path::PathBuf> =
            std::fs::read_dir(&fixtures).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
        roots.extend(
            std::env::var("FLUXGATE_SCAN_ROOTS")
                .unwrap_or_default()
                .split(':')
                .filter(|s| !s.is_empty())
                .map(Into::into),
        );
        roots.sort();
        let (mut scanned_files, mut total) = (0, 0);
        for root in &roots {
            let Ok(repo) = Repo::open(root) else { continue };
            let dirs = crate::discover::discover(&repo, &crate::config::Config::default()).kustomize_dirs;
            let known: HashSet<&RelPath> = dirs.iter().collect();
            for d in &dirs {
                total += 1;
                let text = kustomization_file(&repo, d).and_then(|p| repo.read(&p).ok());
                if text.is_some_and(|f| scanned(&f.text).is_some()) {
                    scanned_files += 1;
                }
                let full = direct_by(&repo, d, &known, false);
                // A file the parser refuses renders nothing; the scan may still read it.
                if full.unknown && !direct_by(&repo, d, &known, true).unknown {
                    continue;
                }
                assert_eq!(direct_by(&repo, d, &known, true), full, "{} {d}", root.display());
            }
        }
        eprintln!("line scan used for {scanned_files} of {total} kustomizations");
        assert!(total > 500 && scanned_files * 2 > total, "{scanned_files} of {total}");
    }
}
