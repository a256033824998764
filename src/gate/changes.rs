//! What a pull request changes, asked of the `git` command line.
//!
//! Why the git CLI and not a library: the change set must match what the user's own git sees
//! (`.gitignore`, `core.excludesFile`, sparse checkouts, `info/exclude`, index state), and the
//! CLI is the one implementation guaranteed to agree with itself; CI agents have it anyway.
//!
//! The change set is the difference between `git merge-base BASE HEAD` and the *working tree*:
//! committed, staged, unstaged and untracked-but-not-ignored files, with both sides of a
//! rename. The repository root fluxgate checks may be a subdirectory of the git work tree;
//! paths are mapped with `git rev-parse --show-prefix` and files outside it are dropped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::source::RelPath;

/// Why the change set could not be computed. Every variant means "fluxgate could not run".
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    NoGit(String),
    #[error("{0} is not inside a git work tree")]
    NotAWorkTree(String),
    #[error("'{0}' is not a valid git revision")]
    BadRef(String),
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
}

/// The files a change touches, relative to the fluxgate root.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// The ref the user named (`origin/main`).
    pub base: String,
    /// The commit both sides share, which the head is compared with.
    pub merge_base: String,
    /// Every changed path: added, modified, deleted, both sides of a rename, untracked.
    pub files: BTreeSet<RelPath>,
    /// The paths that no longer exist in the working tree.
    pub deleted: BTreeSet<RelPath>,
    /// The root's path inside the git work tree (`""` or `sub/dir/`).
    pub prefix: String,
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GitError::NoGit(e.to_string()))?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

fn git_line(root: &Path, args: &[&str]) -> Result<String, GitError> {
    Ok(String::from_utf8_lossy(&git(root, args)?).trim_end_matches(['\n', '\r']).to_string())
}

/// Checks that `root` is in a git work tree and returns the root's prefix inside it.
pub fn prefix(root: &Path) -> Result<String, GitError> {
    match git_line(root, &["rev-parse", "--is-inside-work-tree"]) {
        Ok(s) if s == "true" => {}
        Ok(_) | Err(GitError::Failed { .. }) => return Err(GitError::NotAWorkTree(root.display().to_string())),
        Err(e) => return Err(e),
    }
    git_line(root, &["rev-parse", "--show-prefix"])
}

/// The merge base of `base` and `HEAD`, as a full commit id.
pub fn merge_base(root: &Path, base: &str) -> Result<String, GitError> {
    if base.starts_with('-') {
        return Err(GitError::BadRef(base.to_string()));
    }
    let spec = format!("{base}^{{commit}}");
    let commit = git_line(root, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])
        .map_err(|_| GitError::BadRef(base.to_string()))?;
    git_line(root, &["merge-base", &commit, "HEAD"])
}

/// Maps a path relative to the git top level to the fluxgate root (None when outside it).
fn to_root(prefix: &str, path: &str) -> Option<RelPath> {
    let rest = path.strip_prefix(prefix)?;
    RelPath::parse(rest).filter(|p| !p.is_root())
}

/// `git ls-files` arguments for the untracked files that are not ignored, top-level paths.
const UNTRACKED: [&str; 5] = ["ls-files", "--others", "--exclude-standard", "--full-name", "-z"];

/// `git diff` arguments for the changes since `merge_base` (committed, staged and unstaged).
/// `-z`: paths unquoted, NUL separated; `--no-relative`: top-level paths whatever the config
/// says.
fn diff_args(merge_base: &str) -> [&str; 8] {
    ["diff", "--name-status", "-M", "-z", "--no-relative", "--no-ext-diff", merge_base, "--"]
}

/// Computes the change set between `git merge-base BASE HEAD` and the working tree of `root`.
///
/// Why two ways: each `git` process costs a few milliseconds before it does anything, and the
/// questions are mostly independent. [`changes_at_once`] asks them in four processes, three
/// of them running at the same time; when any of them fails, the questions are asked again one
/// by one ([`changes_in_turn`]), so that the error is the one the first failing question gives.
pub fn changes(root: &Path, base: &str) -> Result<Changes, GitError> {
    match changes_at_once(root, base) {
        Some(c) => Ok(c),
        None => changes_in_turn(root, base),
    }
}

/// A `git` process started with its output piped.
fn spawn_git(root: &Path, args: &[&str]) -> Option<std::process::Child> {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// The output of a process from [`spawn_git`], if it ran and succeeded.
fn finish_git(child: Option<std::process::Child>) -> Option<Vec<u8>> {
    let out = child?.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// The change set when every question succeeds: where the root lies, the merge base and the
/// untracked files at once, then the diff from the merge base. `None` when one fails.
fn changes_at_once(root: &Path, base: &str) -> Option<Changes> {
    if base.starts_with('-') {
        return None;
    }
    let spec = format!("{base}^{{commit}}");
    let untracked = spawn_git(root, &UNTRACKED);
    let located = spawn_git(root, &["rev-parse", "--is-inside-work-tree", "--show-prefix"]);
    let merge_base = spawn_git(root, &["merge-base", &spec, "HEAD"]);
    // Every child is waited for, whatever another one answered.
    let merge_base = finish_git(merge_base);
    let diff = merge_base.as_ref().map(|m| {
        let m = String::from_utf8_lossy(m).trim_end_matches(['\n', '\r']).to_string();
        let child = spawn_git(root, &diff_args(&m));
        (m, child)
    });
    let located = finish_git(located);
    let untracked = finish_git(untracked);
    let (merge_base, diff) = match diff {
        Some((m, child)) => (m, finish_git(child)),
        None => (String::new(), None),
    };
    let located = String::from_utf8_lossy(&located?).into_owned();
    let mut lines = located.split('\n');
    if lines.next()?.trim_end_matches('\r') != "true" {
        return None;
    }
    let prefix = lines.next()?.trim_end_matches('\r').to_string();
    if merge_base.is_empty() {
        return None;
    }
    let mut c = Changes { base: base.to_string(), merge_base, prefix, ..Changes::default() };
    add_diff(&mut c, &diff?);
    add_untracked(&mut c, &untracked?);
    Some(c)
}

/// The change set asked one question at a time: the first failure is the error.
fn changes_in_turn(root: &Path, base: &str) -> Result<Changes, GitError> {
    let prefix = prefix(root)?;
    let merge_base = merge_base(root, base)?;
    let mut c = Changes { base: base.to_string(), merge_base: merge_base.clone(), prefix, ..Changes::default() };
    let diff = git(root, &diff_args(&merge_base))?;
    add_diff(&mut c, &diff);
    let untracked = git(root, &UNTRACKED)?;
    add_untracked(&mut c, &untracked);
    Ok(c)
}

/// Adds the paths of `git diff --name-status -z` output.
fn add_diff(c: &mut Changes, diff: &[u8]) {
    let mut fields = diff.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned());
    while let Some(status) = fields.next() {
        if status.is_empty() {
            continue;
        }
        let paths = if status.starts_with('R') || status.starts_with('C') { 2 } else { 1 };
        let names: Vec<String> = fields.by_ref().take(paths).collect();
        for (i, name) in names.iter().enumerate() {
            let Some(p) = to_root(&c.prefix, name) else { continue };
            // The old side of a rename is gone; a copy's source stays.
            let gone = status.starts_with('D') || (status.starts_with('R') && i == 0);
            if gone {
                c.deleted.insert(p.clone());
            }
            c.files.insert(p);
        }
    }
}

/// Adds the paths of `git ls-files -z` output.
fn add_untracked(c: &mut Changes, untracked: &[u8]) {
    for name in untracked.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        if let Some(p) = to_root(&c.prefix, &String::from_utf8_lossy(name)) {
            c.files.insert(p);
        }
    }
}

/// Writes the tree of `commit` into `dest` (which must exist) with `git archive | tar -x`, and
/// returns where the fluxgate root lies inside it. The user's checkout, index and worktree
/// list are never touched.
pub fn export_tree(root: &Path, commit: &str, prefix: &str, dest: &Path) -> Result<PathBuf, GitError> {
    // From a subdirectory `git archive` exports only that subdirectory: run it at the top.
    let top = git_line(root, &["rev-parse", "--show-toplevel"])?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(&top)
        .args(["archive", "--format=tar", commit])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GitError::NoGit(e.to_string()))?;
    let Some(stdout) = archive.stdout.take() else {
        return Err(GitError::Failed { args: "archive".into(), stderr: "no output pipe".into() });
    };
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(stdout)
        .output()
        .map_err(|e| GitError::Failed { args: "archive | tar -x".into(), stderr: e.to_string() })?;
    let archived = archive.wait_with_output().map_err(|e| GitError::NoGit(e.to_string()))?;
    if !archived.status.success() {
        let stderr = String::from_utf8_lossy(&archived.stderr).trim().to_string();
        return Err(GitError::Failed { args: format!("archive {commit}"), stderr });
    }
    if !tar.status.success() {
        let stderr = String::from_utf8_lossy(&tar.stderr).trim().to_string();
        return Err(GitError::Failed { args: "archive | tar -x".into(), stderr });
    }
    let mut out = dest.to_path_buf();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        out.push(part);
    }
    Ok(out)
}

/// The text of a file at `commit` (path relative to the fluxgate root), if it exists there.
pub fn show(root: &Path, commit: &str, prefix: &str, path: &RelPath) -> Option<String> {
    let spec = format!("{commit}:{prefix}{path}");
    git(root, &["show", &spec]).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_under_the_prefix() {
        assert_eq!(to_root("sub/", "sub/a/b.yaml"), RelPath::parse("a/b.yaml"));
        assert_eq!(to_root("sub/", "other/a.yaml"), None);
        assert_eq!(to_root("", "a.yaml"), RelPath::parse("a.yaml"));
    }

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap().status.success();
        assert!(ok, "git {args:?}");
    }

    /// The processes run at once give the change set the questions asked in turn give, from
    /// the top of the work tree and from a subdirectory; a failing question falls back to the
    /// error of the one-by-one order.
    #[test]
    fn at_once_and_in_turn_agree() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::create_dir_all(top.join("sub/apps")).unwrap();
        for f in ["sub/apps/a.yaml", "sub/apps/b.yaml", "sub/apps/gone.yaml", "other.yaml"] {
            std::fs::write(top.join(f), format!("name: {f}\n")).unwrap();
        }
        run(top, &["init", "-q", "-b", "main"]);
        run(top, &["-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"]);
        run(top, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"]);
        run(top, &["checkout", "-q", "-b", "change"]);
        std::fs::write(top.join("sub/apps/a.yaml"), "name: changed\n").unwrap();
        std::fs::remove_file(top.join("sub/apps/gone.yaml")).unwrap();
        std::fs::write(top.join("sub/apps/new.yaml"), "name: new\n").unwrap();
        std::fs::write(top.join("other.yaml"), "name: outside\n").unwrap();
        for root in [top.to_path_buf(), top.join("sub")] {
            let fast = changes_at_once(&root, "main").expect("every question succeeds");
            let slow = changes_in_turn(&root, "main").unwrap();
            assert_eq!(
                (&fast.merge_base, &fast.prefix, &fast.files, &fast.deleted),
                (&slow.merge_base, &slow.prefix, &slow.files, &slow.deleted)
            );
            assert!(!fast.files.is_empty() && fast.deleted.len() == 1);
        }
        assert!(changes_at_once(top, "no-such-ref").is_none());
        assert!(matches!(changes(top, "no-such-ref"), Err(GitError::BadRef(_))));
        assert!(matches!(changes(top, "--output=x"), Err(GitError::BadRef(_))));
        let outside = tempfile::tempdir().unwrap();
        assert!(matches!(changes(outside.path(), "main"), Err(GitError::NotAWorkTree(_))));
    }
}
