//! Finding what to check: every kustomization directory in the repository (skipping
//! dot-directories and ignored paths), and every YAML file (for CRDs).

use rayon::prelude::*;

use crate::config::Config;
use crate::kustomize::kustomization::FILE_NAMES;
use crate::source::{RelPath, Repo};

/// Text that marks a YAML file as worth parsing for a repository-wide index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needle {
    Crd,
    FluxKustomization,
    ConfigMap,
    Secret,
    ImagePolicy,
    ImageMarker,
    /// A Flux Operator install: a FluxInstance object.
    FluxInstance,
    /// A Flux Operator install: a HelmRelease of the flux-instance chart.
    FluxInstanceChart,
    /// An admission webhook that mutates Flux Kustomizations (`kustomize-mutating-webhook`).
    KustomizationWebhook,
}

impl Needle {
    const ALL: [Needle; 9] = [
        Needle::Crd,
        Needle::FluxKustomization,
        Needle::ConfigMap,
        Needle::Secret,
        Needle::ImagePolicy,
        Needle::ImageMarker,
        Needle::FluxInstance,
        Needle::FluxInstanceChart,
        Needle::KustomizationWebhook,
    ];

    fn text(self) -> &'static str {
        match self {
            Needle::Crd => "CustomResourceDefinition",
            Needle::FluxKustomization => "kustomize.toolkit.fluxcd.io",
            Needle::ConfigMap => "ConfigMap",
            Needle::Secret => "Secret",
            Needle::ImagePolicy => "ImagePolicy",
            Needle::ImageMarker => "$imagepolicy",
            Needle::FluxInstance => "FluxInstance",
            Needle::FluxInstanceChart => "flux-instance",
            Needle::KustomizationWebhook => "kustomize-mutating-webhook",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What a walk of the repository found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Directories holding a kustomization file, sorted.
    pub kustomize_dirs: Vec<RelPath>,
    /// Every `.yaml`/`.yml` file, sorted.
    pub yaml_files: Vec<RelPath>,
    /// Which [`Needle`]s each of `yaml_files` may contain (same order): every file is read once
    /// here, so the CRD registry, the Flux index and the image-marker check do not each re-read
    /// the whole repository.
    contents: Vec<u16>,
}

impl Discovery {
    /// A discovery of given YAML files (no kustomization directories), scanned for needles.
    pub fn of_files(repo: &Repo, yaml_files: Vec<RelPath>) -> Discovery {
        let contents = scan(repo, &yaml_files);
        Discovery { kustomize_dirs: Vec::new(), yaml_files, contents }
    }

    /// The YAML files that may contain any of `needles`.
    pub fn files_with(&self, needles: &[Needle]) -> Vec<RelPath> {
        let mask = needles.iter().fold(0, |m, n| m | n.bit());
        self.yaml_files.iter().zip(&self.contents).filter(|(_, c)| *c & mask != 0).map(|(p, _)| p.clone()).collect()
    }
}

fn scan(repo: &Repo, files: &[RelPath]) -> Vec<u16> {
    let finders = needle_finders();
    files.par_iter().map(|p| needles_of(repo, p, &finders)).collect()
}

/// One searcher per [`Needle`], in [`Needle::ALL`]'s order.
fn needle_finders() -> Vec<memchr::memmem::Finder<'static>> {
    finders(&Needle::ALL.map(Needle::text))
}

/// The needles a file may contain, as bits.
fn needles_of(repo: &Repo, p: &RelPath, finders: &[memchr::memmem::Finder]) -> u16 {
    contains_each(repo, p, finders).iter().zip(Needle::ALL).filter(|(hit, _)| **hit).fold(0, |m, (_, n)| m | n.bit())
}

/// One SIMD substring searcher per needle, built once per scan (a naive window compare of
/// every file against every needle was a quarter of a `--base` run).
fn finders<'n>(needles: &[&'n str]) -> Vec<memchr::memmem::Finder<'n>> {
    needles.iter().map(|n| memchr::memmem::Finder::new(n.as_bytes())).collect()
}

/// Walks the repository. Symlinked directories are not followed (no loops, no escapes).
/// Directories are listed and files scanned in parallel, as the walk finds them (listing
/// alone is a third of a `--base` run on a large repository when done one directory at a
/// time); the result is sorted, so it does not depend on the order of completion.
pub fn discover(repo: &Repo, config: &Config) -> Discovery {
    let mut found = walk(repo, config, &needle_finders(), RelPath::root());
    found.kustomize_dirs.sort();
    found.files.sort_by(|a, b| a.0.cmp(&b.0));
    let (yaml_files, contents) = found.files.into_iter().unzip();
    Discovery { kustomize_dirs: found.kustomize_dirs, yaml_files, contents }
}

/// What the walk of one directory tree found: kustomization directories and scanned YAML
/// files, in no particular order.
#[derive(Default)]
struct Walked {
    kustomize_dirs: Vec<RelPath>,
    files: Vec<(RelPath, u16)>,
}

impl Walked {
    fn merge(mut self, mut other: Walked) -> Walked {
        if self.files.len() < other.files.len() {
            std::mem::swap(&mut self, &mut other);
        }
        self.kustomize_dirs.append(&mut other.kustomize_dirs);
        self.files.append(&mut other.files);
        self
    }
}

fn walk(repo: &Repo, config: &Config, finders: &[memchr::memmem::Finder], dir: RelPath) -> Walked {
    let Ok(entries) = repo.list_dir(&dir) else { return Walked::default() };
    let mut here = Walked::default();
    if entries.iter().any(|(n, is_dir)| !is_dir && FILE_NAMES.contains(&n.as_str())) {
        here.kustomize_dirs.push(dir.clone());
    }
    let mut subdirs = Vec::new();
    let mut yaml = Vec::new();
    for (name, is_dir) in entries {
        if name.starts_with('.') {
            continue;
        }
        let Some(p) = dir.join(&name) else { continue };
        if config.is_ignored(&p) {
            continue;
        }
        if is_dir {
            subdirs.push(p);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            yaml.push(p);
        }
    }
    let (below, scanned) = rayon::join(
        || subdirs.into_par_iter().map(|d| walk(repo, config, finders, d)).reduce(Walked::default, Walked::merge),
        || {
            yaml.into_par_iter()
                .map(|p| {
                    let bits = needles_of(repo, &p, finders);
                    (p, bits)
                })
                .collect()
        },
    );
    here.files = scanned;
    here.merge(below)
}

/// Every `.yaml`/`.yml` file below `dir` (dot-directories skipped, symlinks not followed).
pub fn walk_yaml(repo: &Repo, dir: &RelPath, out: &mut Vec<RelPath>) {
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = repo.list_dir(&d) else { continue };
        for (name, is_dir) in entries {
            if name.starts_with('.') {
                continue;
            }
            let Some(p) = d.join(&name) else { continue };
            if is_dir {
                stack.push(p);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(p);
            }
        }
    }
    out.sort();
}

/// Whether a file's text may contain one of `needles`, in a plain read of a regular file
/// (no text kept; the walk follows no symlinked directory). Anything else answers `true`, so
/// the caller reads it through [`Repo`]'s checks.
pub fn may_contain(repo: &Repo, p: &RelPath, needles: &[&str]) -> Vec<bool> {
    contains_each(repo, p, &finders(needles))
}

fn contains_each(repo: &Repo, p: &RelPath, finders: &[memchr::memmem::Finder]) -> Vec<bool> {
    // Symlinks, special and over-size files also go through Repo, which reports them instead
    // of scanning 50 MB.
    repo.peek_with(p, |bytes| finders.iter().map(|f| f.find(bytes).is_some()).collect())
        .unwrap_or_else(|| vec![true; finders.len()])
}
