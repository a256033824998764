//! `fluxgate hook install|uninstall`: a git pre-push hook that runs the gate before a push
//! leaves the machine, so a broken overlay is caught before CI (and before a reviewer) sees it.
//!
//! The hook is a POSIX shell script. It carries [`MARKER`] so that fluxgate only ever
//! overwrites or removes a hook it wrote itself; someone's own pre-push hook is never lost
//! unless `--force` says so.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The comment that identifies a hook written by fluxgate.
pub const MARKER: &str = "# fluxgate-managed pre-push hook";

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// The hook was written where there was none.
    Created(PathBuf),
    /// An earlier fluxgate hook (or, with `--force`, a foreign one) was replaced.
    Replaced(PathBuf),
}

/// The repository's hooks directory, as git resolves it (honours `core.hooksPath` and
/// linked worktrees, which a plain `.git/hooks` would miss).
pub fn hooks_dir(root: &Path) -> Result<PathBuf, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--git-path", "hooks"])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{} is not a git repository: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Ok(if p.is_absolute() { p } else { root.join(p) })
}

/// Quotes a string for a POSIX shell (single quotes; a `'` becomes `'\''`).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook script, with `exe` (an absolute path) as the default fluxgate binary.
pub fn script(exe: &Path) -> String {
    let exe = shell_quote(&exe.to_string_lossy());
    format!(
        r#"#!/bin/sh
{MARKER} (written by `fluxgate hook install`; `fluxgate hook uninstall` removes it).
# Runs `fluxgate validate` on every pushed ref and blocks the push on error findings.
# Set FLUXGATE to use another fluxgate binary; `git push --no-verify` skips the hook.
default_fluxgate={exe}
FLUXGATE="${{FLUXGATE:-$default_fluxgate}}"
remote="$1"
zero=0000000000000000000000000000000000000000
root=$(git rev-parse --show-toplevel) || exit 2
# fluxgate builds without `validate --base` (checks only what changed since a base) still
# gate the push: they validate the whole repository instead.
if "$FLUXGATE" validate --help 2>/dev/null | grep -q -e '--base'; then has_base=1; else has_base=0; fi
status=0
while read -r local_ref local_sha remote_ref remote_sha; do
    # A deleted ref pushes nothing to check.
    [ "$local_sha" = "$zero" ] && continue
    if [ "$remote_sha" = "$zero" ]; then
        # A new remote ref: compare with the remote's default branch.
        base=$(git rev-parse --abbrev-ref "refs/remotes/$remote/HEAD" 2>/dev/null) || base=""
        if [ -z "$base" ]; then
            for b in main master; do
                if git rev-parse -q --verify "refs/remotes/$remote/$b" >/dev/null; then base="$remote/$b"; break; fi
            done
        fi
    else
        base="$remote_sha"
    fi
    set --
    if [ "$has_base" = 1 ] && [ -n "$base" ]; then set -- --base "$base"; fi
    echo "fluxgate: checking $local_ref${{base:+ against $base}}" >&2
    if [ "$local_sha" = "$(git rev-parse HEAD)" ]; then
        # The checked-out commit: validate the work tree.
        (unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE; "$FLUXGATE" validate "$@" --color never "$root") >&2 || status=1
    else
        # Another ref: validate exactly the pushed commit in a throw-away worktree.
        tmp=$(mktemp -d) || exit 2
        if git worktree add -q --detach "$tmp/tree" "$local_sha" >/dev/null 2>&1; then
            (unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE; "$FLUXGATE" validate "$@" --color never "$tmp/tree") >&2 || status=1
            git worktree remove --force "$tmp/tree" >/dev/null 2>&1
        else
            echo "fluxgate: cannot check out $local_sha to validate it" >&2
            status=1
        fi
        rm -rf "$tmp"
    fi
done
if [ "$status" != 0 ]; then
    echo "fluxgate: push blocked (fix the findings above, or push with --no-verify)" >&2
fi
exit $status
"#
    )
}

/// Writes the pre-push hook of the repository at `root`. Refuses to replace a hook fluxgate
/// did not write unless `force`.
pub fn install(root: &Path, exe: &Path, force: bool) -> Result<Installed, String> {
    let dir = hooks_dir(root)?;
    let path = dir.join("pre-push");
    let existed = match std::fs::read(&path) {
        Ok(old) => {
            if !force && !String::from_utf8_lossy(&old).contains(MARKER) {
                return Err(format!(
                    "{} exists and was not written by fluxgate; use --force to replace it",
                    path.display()
                ));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(&path, script(exe)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    make_executable(&path)?;
    Ok(if existed { Installed::Replaced(path) } else { Installed::Created(path) })
}

/// Removes the pre-push hook if fluxgate wrote it. `Ok(None)` when there is none; an error
/// when the hook there is someone else's.
pub fn uninstall(root: &Path) -> Result<Option<PathBuf>, String> {
    let path = hooks_dir(root)?.join("pre-push");
    match std::fs::read(&path) {
        Ok(old) if String::from_utf8_lossy(&old).contains(MARKER) => {
            std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            Ok(Some(path))
        }
        Ok(_) => Err(format!("{} was not written by fluxgate; leaving it alone", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make {} executable: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_the_binary_path_and_carries_the_marker() {
        let s = script(Path::new("/opt/it's here/fluxgate"));
        assert!(s.contains(MARKER));
        assert!(s.contains(r#"default_fluxgate='/opt/it'\''s here/fluxgate'"#), "{s}");
    }
}
