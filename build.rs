//! Build script: records the git commit fluxgate is built from, for `fluxgate --version`.
//!
//! The commit comes from `FLUXGATE_COMMIT` when set (packagers building from a tarball), else
//! from `git rev-parse HEAD` when this source directory is itself the top of a git work tree
//! (not a tarball unpacked inside some other repository, such as a GitOps checkout), else it
//! is `unknown`. Cargo re-runs this script when HEAD or the branch it points at moves.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn commit(dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={}", dir.join(p).display());
        }
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(dir, &["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={}", dir.join(p).display());
    }
    git(dir, &["rev-parse", "--short=12", "HEAD"])
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FLUXGATE_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("FLUXGATE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty() && c.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)))
        .or_else(|| commit(&dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=FLUXGATE_COMMIT={commit}");
}
