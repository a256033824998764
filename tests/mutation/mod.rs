//! Mutation testing of the PR gate (`validate --base`): copy a repository into a throwaway
//! git repository, commit it, apply one single-file change of a kind pull requests make, and
//! check that every entry point whose full render (the emitted YAML, or the failure) or whose
//! findings changed is among the entry points `--base` checks (or, when it is gone, among
//! the removed ones). Shared by `tests/gate_mutation.rs` (a bounded run over the fixtures)
//! and `examples/mutate.rs` (any checkout, any number).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fluxgate::config::Config;
use fluxgate::pipeline::{RunOptions, render_entry_points, validate_with};
use fluxgate::source::{Repo, emit::emit_documents};

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// The kinds of single-file change a pull request makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    RenameObject,
    ChangeImage,
    BreakPatchTarget,
    DeleteFile,
    AddDocument,
    AddFile,
    FluxPath,
    FluxSubstitution,
    FluxPatches,
    HelmValue,
    EditScalar,
}

const KINDS: [Kind; 11] = [
    Kind::RenameObject,
    Kind::ChangeImage,
    Kind::BreakPatchTarget,
    Kind::DeleteFile,
    Kind::AddDocument,
    Kind::AddFile,
    Kind::FluxPath,
    Kind::FluxSubstitution,
    Kind::FluxPatches,
    Kind::HelmValue,
    Kind::EditScalar,
];

/// Every entry point's render digest and findings: what a change must not alter unchecked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    pub entries: BTreeMap<String, (String, Vec<String>)>,
    /// Findings of Flux entry points, without the entry point's name: the report drops a plain
    /// overlay's finding that a Flux entry point reports too, so such a finding moving between
    /// the two is not a change of the plain overlay.
    pub flux_findings: BTreeSet<String>,
    /// The Flux Kustomizations and HelmReleases each Flux entry point renders, named as entry
    /// points: when one vanishes (its parent now fails or no longer renders it), checking the
    /// parent is what checks the change.
    pub children: BTreeMap<String, BTreeSet<String>>,
}

impl State {
    /// Whether entry point `name` differs between `self` and `other`.
    fn differs(&self, other: &State, name: &str) -> bool {
        let (a, b) = (self.entries.get(name), other.entries.get(name));
        let (Some(a), Some(b)) = (a, b) else { return a != b };
        if a.0 != b.0 {
            return true;
        }
        let (fa, fb): (BTreeSet<&String>, BTreeSet<&String>) = (a.1.iter().collect(), b.1.iter().collect());
        fa.symmetric_difference(&fb).any(|f| {
            let bare = strip(f);
            !self.flux_findings.contains(&bare) && !other.flux_findings.contains(&bare)
        })
    }
}

impl State {
    /// The Flux entry points rendered below `roots`, at any depth: when a checked parent now
    /// fails, everything below it vanishes with it, and checking the parent checks them.
    fn descendants(&self, roots: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<&String> = roots.iter().collect();
        while let Some(p) = stack.pop() {
            for c in self.children.get(p).into_iter().flatten() {
                if out.insert(c.clone()) {
                    stack.push(c);
                }
            }
        }
        out
    }
}

/// A serialized finding without its entry point.
fn strip(finding: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(finding).unwrap();
    v["entry_point"] = serde_json::Value::Null;
    v.to_string()
}

/// The outcome of one mutation.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub kind: Kind,
    pub file: String,
    /// Entry points whose render or findings changed.
    pub changed: BTreeSet<String>,
    /// Changed but not checked by `--base`: must stay empty.
    pub missed: BTreeSet<String>,
    /// Checked by `--base` but unchanged.
    pub over: usize,
    pub base_time: Duration,
}

/// Totals over many mutations.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub mutations: usize,
    pub changed: usize,
    pub missed: Vec<String>,
    pub over: usize,
    pub checked: usize,
    pub base_time: Duration,
}

impl Totals {
    pub fn add(&mut self, o: &Outcome) {
        self.mutations += 1;
        self.changed += o.changed.len();
        self.over += o.over;
        self.checked += o.over + o.changed.len() - o.missed.len();
        self.base_time += o.base_time;
        for m in &o.missed {
            self.missed.push(format!("{:?} {}: {m}", o.kind, o.file));
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "m")
        .env("GIT_AUTHOR_EMAIL", "m@example.com")
        .env("GIT_COMMITTER_NAME", "m")
        .env("GIT_COMMITTER_EMAIL", "m@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == ".git" {
            continue;
        }
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&e.path(), &to.join(&name));
        } else if ty.is_file() {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

/// A temporary git repository holding `files` (path, text), committed.
#[allow(dead_code)] // used by tests/gate_mutation.rs; examples/mutate.rs includes this module too
pub fn committed_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    for (p, text) in files {
        let p = src.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    committed_copy(src.path())
}

/// A committed copy of `src` in a temporary git repository.
pub fn committed_copy(src: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(src, tmp.path());
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-qm", "base", "--allow-empty"]);
    tmp
}

fn open(root: &Path) -> (Repo, Config) {
    let config = match std::fs::read_to_string(root.join(".fluxgate.yaml")) {
        Ok(t) => Config::parse(&t).unwrap_or_default(),
        Err(_) => Config::default(),
    };
    let mut repo = Repo::open(root).unwrap();
    repo.limits = config.limits.clone();
    (repo, config)
}

/// Every entry point's full render and findings (no `--base`).
pub fn state(root: &Path) -> State {
    let (repo, config) = open(root);
    let discovery = fluxgate::discover::discover(&repo, &config);
    let renders = render_entry_points(&repo, &config, &discovery);
    let mut s = State::default();
    let digest = |r: &Result<fluxgate::kustomize::build::Rendered, fluxgate::kustomize::build::Failed>| match r {
        Ok(r) => emit_documents(&r.resources.iter().map(|x| &x.node).collect::<Vec<_>>()),
        Err(f) => format!("failed: {:?} {}", f.error.rule, f.error.message),
    };
    for (dir, r) in &renders.plain {
        let d = r.as_ref().map(digest).unwrap_or_default();
        s.entries.insert(dir.to_string(), (d, Vec::new()));
    }
    let flux_names: BTreeSet<&String> = renders.flux.iter().map(|e| &e.name).collect();
    for e in &renders.flux {
        s.entries.insert(e.name.clone(), (digest(&e.result), Vec::new()));
        let cluster = fluxgate::flux::entry::cluster_of(&e.name);
        for r in e.result.iter().flat_map(|r| r.resources.iter()) {
            if matches!(r.kind(), "Kustomization" | "HelmRelease") && r.api_version().contains("fluxcd.io") {
                let ns = if r.namespace().is_empty() { "default" } else { r.namespace() };
                let mut child = format!("{cluster}/{ns}/{}", r.name());
                // A Kustomization applied to another cluster (kubeConfig) starts a cluster named
                // by its own directory.
                let remote = renders.flux.iter().find(|c| {
                    c.key.namespace == ns && c.key.name == r.name() && c.name == format!("{}/{ns}/{}", c.dir, r.name())
                });
                if let (Some(c), "Kustomization") = (remote, r.kind()) {
                    child = c.name.clone();
                }
                // A HelmRelease named like a Flux Kustomization of its namespace is entry point
                // `helmrelease-<name>` (as helm::release names it).
                if r.kind() == "HelmRelease" && flux_names.contains(&child) {
                    child = format!("{cluster}/{ns}/helmrelease-{}", r.name());
                }
                s.children.entry(e.name.clone()).or_default().insert(child);
            }
        }
    }
    let report = validate_with(&repo, &config, &RunOptions::default()).unwrap();
    for e in &report.entry_points {
        s.entries.entry(e.name.clone()).or_default();
    }
    let flux: BTreeSet<&String> = renders.flux.iter().map(|e| &e.name).collect();
    // Without a helm binary, which HelmReleases carry the "not rendered" note depends on the
    // whole run, not on the entry point: an environment note, not a finding of its render.
    for f in report.findings.iter().filter(|f| f.rule.id() != "helm-skipped") {
        if let Some(ep) = &f.entry_point {
            let text = serde_json::to_string(f).unwrap();
            if flux.contains(ep) {
                s.flux_findings.insert(strip(&text));
            }
            s.entries.entry(ep.clone()).or_default().1.push(text);
        }
    }
    s
}

/// The YAML files of a tree, root-relative, sorted.
fn yaml_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(root.join(&rel)) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let p = rel.join(&name);
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t)
                    if t.is_file()
                        && (name.ends_with(".yaml") || name.ends_with(".yml"))
                        && name != ".fluxgate.yaml" =>
                {
                    out.push(p.to_string_lossy().into_owned())
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Line indexes of `lines` for which `f` holds.
fn matching(lines: &[&str], f: impl Fn(usize, &str) -> bool) -> Vec<usize> {
    lines.iter().enumerate().filter(|(i, l)| f(*i, l)).map(|(i, _)| i).collect()
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// Whether line `i` lies in a block opened by a line ending with `key:` above it.
fn under(lines: &[&str], i: usize, key: &str) -> bool {
    let mut want = indent(lines[i]);
    for l in lines[..i].iter().rev() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indent(l) < want {
            if l.trim_start().trim_start_matches("- ") == key {
                return true;
            }
            want = indent(l);
            if want == 0 {
                return false;
            }
        }
    }
    false
}

/// A `key: value` line's value replaced (`key:` kept).
fn with_value(l: &str, value: &str) -> Option<String> {
    let (k, v) = l.split_once(": ")?;
    let v = v.trim();
    if v.is_empty() || v.starts_with(['|', '>', '&', '*', '{', '[']) {
        return None;
    }
    Some(format!("{k}: {value}"))
}

/// Applies one mutation of `kind` to a file chosen by `rng`; `None` when none applies.
pub fn mutate(root: &Path, kind: Kind, rng: &mut Rng) -> Option<String> {
    let files = yaml_files(root);
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(root.join(f)).ok().map(|t| (f.clone(), t)))
        .filter(|(_, t)| t.len() < 200_000)
        .collect();
    let is_flux_ks = |t: &str| t.contains("kustomize.toolkit.fluxcd.io") && t.contains("kind: Kustomization");
    let edit_line =
        |rng: &mut Rng, pred: &dyn Fn(&[&str], usize, &str) -> bool, new: &dyn Fn(&str) -> Option<String>| {
            let cands: Vec<(&String, usize)> = texts
                .iter()
                .flat_map(|(f, t)| {
                    let lines: Vec<&str> = t.lines().collect();
                    matching(&lines, |i, l| pred(&lines, i, l)).into_iter().map(move |i| (f, i))
                })
                .collect();
            let &(file, i) = rng.pick(&cands)?;
            let text = &texts.iter().find(|(f, _)| f == file)?.1;
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines[i] = new(&lines[i])?;
            std::fs::write(root.join(file), lines.join("\n") + "\n").ok()?;
            Some(file.clone())
        };
    match kind {
        Kind::RenameObject => edit_line(
            rng,
            &|ls, i, l| l.trim_start().starts_with("name: ") && indent(l) == 2 && under(ls, i, "metadata:"),
            &|l| Some(format!("{l}-mut")),
        ),
        Kind::ChangeImage => {
            edit_line(rng, &|_, _, l| l.trim_start().trim_start_matches("- ").starts_with("image: "), &|l| {
                with_value(l, "registry.example.com/mutant:9.9.9")
            })
        }
        Kind::BreakPatchTarget => edit_line(
            rng,
            &|ls, i, l| {
                let t = l.trim_start().trim_start_matches("- ");
                (t.starts_with("name: ") || t.starts_with("kind: ")) && under(ls, i, "target:")
            },
            &|l| Some(format!("{l}X")),
        ),
        Kind::DeleteFile => {
            let f = rng.pick(&files)?.clone();
            std::fs::remove_file(root.join(&f)).ok()?;
            Some(f)
        }
        Kind::AddDocument => {
            let (f, t) = rng.pick(&texts)?;
            let doc = format!(
                "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mutant-{}\ndata:\n  a: b\n",
                if t.ends_with('\n') || t.is_empty() { "" } else { "\n" },
                rng.below(1000)
            );
            std::fs::write(root.join(f), format!("{t}{doc}")).ok()?;
            Some(f.clone())
        }
        Kind::AddFile => {
            let dirs: BTreeSet<String> = files
                .iter()
                .map(|f| Path::new(f).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default())
                .collect();
            let dirs: Vec<String> = dirs.into_iter().collect();
            let d = rng.pick(&dirs)?.clone();
            let f = Path::new(&d).join("zz-mutant.yaml").to_string_lossy().into_owned();
            let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mutant-added\ndata:\n  a: b\n";
            std::fs::write(root.join(&f), text).ok()?;
            Some(f)
        }
        Kind::FluxPath => {
            let dirs: Vec<String> = files
                .iter()
                .filter(|f| f.ends_with("kustomization.yaml"))
                .map(|f| Path::new(f).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default())
                .collect();
            let target = match rng.pick(&dirs) {
                Some(d) if rng.below(3) > 0 => format!("./{d}"),
                _ => "./does-not-exist".to_string(),
            };
            edit_line(
                rng,
                &|ls, i, l| l.starts_with("  path: ") && is_flux_ks(&ls.join("\n")) && under(ls, i, "spec:"),
                &|l| with_value(l, &target),
            )
        }
        Kind::FluxSubstitution => edit_line(
            rng,
            &|ls, i, l| l.contains(": ") && (under(ls, i, "substitute:") || under(ls, i, "data:")),
            &|l| with_value(l, "\"mutated\""),
        ),
        Kind::FluxPatches => edit_line(
            rng,
            &|ls, i, l| {
                let t = l.trim_start().trim_start_matches("- ");
                is_flux_ks(&ls.join("\n"))
                    && (t.starts_with("value: ") || t.starts_with("name: "))
                    && under(ls, i, "patch: |")
                    || is_flux_ks(&ls.join("\n")) && t.starts_with("name: ") && under(ls, i, "target:")
                    || is_flux_ks(&ls.join("\n")) && t.starts_with("newTag: ")
            },
            &|l| Some(format!("{l}-mut")),
        ),
        Kind::HelmValue => {
            edit_line(rng, &|ls, i, l| l.contains(": ") && under(ls, i, "values:"), &|l| with_value(l, "\"mutated\""))
        }
        Kind::EditScalar => edit_line(
            rng,
            &|_, _, l| {
                let t = l.trim_start().trim_start_matches("- ");
                t.contains(": ") && !t.starts_with("apiVersion:") && !t.starts_with('#')
            },
            &|l| with_value(l, "mutated-value"),
        ),
    }
}

/// The names `validate --base HEAD` checks, the removed entry points, and how long it took.
fn gate(root: &Path) -> (BTreeSet<String>, BTreeSet<String>, Duration) {
    let (repo, config) = open(root);
    let start = Instant::now();
    let options = RunOptions { base: Some("HEAD".into()), ..RunOptions::default() };
    let report = validate_with(&repo, &config, &options).unwrap();
    let took = start.elapsed();
    let checked = report.entry_points.iter().map(|e| e.name.clone()).collect();
    let removed = report
        .findings
        .iter()
        .filter(|f| f.rule.id() == "entry-point-removed")
        .filter_map(|f| f.entry_point.clone())
        .collect();
    (checked, removed, took)
}

/// Judges the change in the working tree of `root` (committed state `before`): which entry
/// points changed, and which of them `--base HEAD` did not check.
pub fn judge(root: &Path, before: &State, kind: Kind, file: String) -> Outcome {
    let after = state(root);
    let (checked, removed, base_time) = gate(root);
    let names: BTreeSet<&String> = before.entries.keys().chain(after.entries.keys()).collect();
    let changed: BTreeSet<String> = names.into_iter().filter(|n| before.differs(&after, n)).cloned().collect();
    let below_checked = before.descendants(&checked.union(&removed).cloned().collect());
    let vanished_under_checked = |n: &String| !after.entries.contains_key(n) && below_checked.contains(n);
    let missed = changed
        .iter()
        .filter(|n| !checked.contains(*n) && !removed.contains(*n) && !vanished_under_checked(n))
        .cloned()
        .collect();
    let over = checked.iter().filter(|n| !changed.contains(*n)).count();
    Outcome { kind, file, changed, missed, over, base_time }
}

/// Runs `n` mutations (seeded) on a committed copy of `src`; `before` is the copy's state.
pub fn run(src: &Path, n: usize, seed: u64, mut each: impl FnMut(&Outcome)) -> Totals {
    let tmp = committed_copy(src);
    let root = tmp.path();
    let before = state(root);
    let mut rng = Rng::new(seed);
    let mut totals = Totals::default();
    let mut tries = 0;
    while totals.mutations < n && tries < n * 4 {
        tries += 1;
        let kind = KINDS[rng.below(KINDS.len())];
        let Some(file) = mutate(root, kind, &mut rng) else { continue };
        let o = judge(root, &before, kind, file);
        each(&o);
        totals.add(&o);
        git(root, &["checkout", "-q", "--", "."]);
        git(root, &["clean", "-qfd"]);
    }
    totals
}
