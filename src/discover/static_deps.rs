//! A static, conservative over-approximation of what each kustomization directory's render
//! reads, from its kustomization files alone (no render): every string in a kustomization that
//! names a path (relative to its directory) is a possible input, and a referenced kustomization
//! directory brings its own inputs. `--base` renders only the directories whose static inputs
//! meet a changed path (a superset of the exact, render-based selection), plus the directories
//! that may read their kustomization files (so leaf detection stays exact).

use crate::kustomize::build::is_remote;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

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
    inputs.subs = inputs.prefixes.iter().filter(|p| *p != dir && is_kustomize_dir(repo, p, known)).cloned().collect();
    inputs
}

/// Parses a directory's kustomization file on its own (not kept: most are never rendered).
/// A regular file is read directly (the walk follows no symlinked directory); anything else
/// goes through [`Repo`]'s checks.
fn parse_kustomization(repo: &Repo, dir: &RelPath) -> Option<Parsed> {
    for name in FILE_NAMES {
        let p = dir.join(name)?;
        let abs = repo.abs(&p);
        let Ok(meta) = std::fs::symlink_metadata(&abs) else { continue };
        let text = if meta.file_type().is_file() && meta.len() <= repo.limits.max_file_bytes {
            std::fs::read_to_string(&abs).ok()?
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
        self.closure
            .iter()
            .filter(|(_, i)| {
                i.unknown || i.prefixes.iter().any(|p| changed.iter().any(|c| c.starts_with(p) || p.starts_with(c)))
            })
            .map(|(d, _)| d.clone())
            .collect()
    }

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

/// Whether a referenced path is a kustomization directory (a single `stat` for a path that
/// names nothing, as most strings of a kustomization do).
fn is_kustomize_dir(repo: &Repo, p: &RelPath, known: &HashSet<&RelPath>) -> bool {
    known.contains(p)
        || (std::fs::metadata(repo.abs(p)).is_ok_and(|m| m.is_dir())
            && repo.is_dir(p)
            && kustomization_file(repo, p).is_some())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::discover::{affected::Selection, discover};
    use crate::run::{Renders, render_entry_points, selected_names};

    fn fixture(name: &str) -> (Repo, Config) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
        let config = match std::fs::read_to_string(root.join(crate::config::FILE_NAME)) {
            Ok(t) => Config::parse(&t).expect("config"),
            Err(_) => Config::default(),
        };
        (Repo::open(&root).expect("repo"), config)
    }

    /// The static candidates contain the exact selection for every single-file change, and the
    /// users of the selected overlays' kustomization files.
    #[test]
    fn static_candidates_contain_the_exact_selection() {
        let (repo, config) = fixture("flux-gsf");
        let d = discover(&repo, &config);
        let graph = StaticGraph::build(&repo, &d.kustomize_dirs);
        let all: Renders = render_entry_points(&repo, &config, &d);
        let plain: BTreeSet<String> = all.plain.iter().map(|(dir, _)| dir.to_string()).collect();
        let mut nonempty = 0;
        for f in &d.yaml_files {
            let sel = Selection { everything: None, changed: [f.clone()].into() };
            let exact: BTreeSet<String> =
                selected_names(&repo, &all, &sel).into_iter().filter(|n| plain.contains(n)).collect();
            let cands = graph.candidates(&sel.changed);
            let names: BTreeSet<String> = cands.iter().map(|c| c.to_string()).collect();
            assert!(exact.is_subset(&names), "{f}: exact {exact:?} not within static {names:?}");
            nonempty += usize::from(!exact.is_empty());
            let users = graph.users_of(&repo, &cands);
            for (dir, r) in &all.plain {
                let Some(Ok(r)) = r else { continue };
                for x in &cands {
                    let k = kustomization_file(&repo, x);
                    if dir != x && k.as_ref().is_some_and(|k| r.files.contains(k)) {
                        assert!(cands.contains(dir) || users.contains(dir), "{dir} reads {x} but is not rendered");
                    }
                }
            }
        }
        assert!(nonempty >= 5, "too few selecting changes: {nonempty}");
    }
}
