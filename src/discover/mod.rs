//! Finding what to check: every kustomization directory in the repository (skipping
//! dot-directories and ignored paths), and every YAML file (for CRDs).

pub mod affected;
pub mod changes;
pub mod static_deps;

use crate::config::Config;
use crate::kustomize::kustomization::FILE_NAMES;
use crate::source::{RelPath, Repo};

/// What a walk of the repository found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Directories holding a kustomization file, sorted.
    pub kustomize_dirs: Vec<RelPath>,
    /// Every `.yaml`/`.yml` file, sorted.
    pub yaml_files: Vec<RelPath>,
}

/// Walks the repository. Symlinked directories are not followed (no loops, no escapes).
pub fn discover(repo: &Repo, config: &Config) -> Discovery {
    let mut d = Discovery::default();
    let mut stack = vec![RelPath::root()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = repo.list_dir(&dir) else { continue };
        if entries.iter().any(|(n, is_dir)| !is_dir && FILE_NAMES.contains(&n.as_str())) {
            d.kustomize_dirs.push(dir.clone());
        }
        for (name, is_dir) in entries {
            if name.starts_with('.') {
                continue;
            }
            let Some(p) = dir.join(&name) else { continue };
            if config.is_ignored(&p) {
                continue;
            }
            if is_dir {
                stack.push(p);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                d.yaml_files.push(p);
            }
        }
    }
    d.kustomize_dirs.sort();
    d.yaml_files.sort();
    d
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
    let abs = repo.abs(p);
    if !std::fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_file()) {
        return vec![true; needles.len()];
    }
    match std::fs::read(&abs) {
        Ok(bytes) => needles.iter().map(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes())).collect(),
        Err(_) => vec![true; needles.len()],
    }
}
