//! `fluxgate hook install|uninstall`: the pre-push hook lets good pushes through and blocks a
//! push that breaks an overlay; a hook fluxgate did not write is never replaced silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fluxgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgate")).args(args).output().unwrap()
}

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // The hook must find fluxgate on its own (the path written at install time), and the
        // test must not depend on the user's git configuration.
        .env_remove("FLUXGATE")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap()
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// A git repository holding a copy of fixtures/flux-gsf (one commit on `main`), and a bare
/// remote `origin` for it.
fn repo_with_remote(tmp: &Path) -> (PathBuf, PathBuf) {
    let repo = tmp.join("repo");
    let remote = tmp.join("remote.git");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flux-gsf");
    ok(Command::new("cp").arg("-R").arg(&fixture).arg(&repo).output().unwrap());
    ok(git(tmp, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]));
    ok(git(&repo, &["init", "-q", "-b", "main"]));
    ok(git(&repo, &["add", "-A"]));
    ok(git(&repo, &["commit", "-q", "-m", "initial"]));
    ok(git(&repo, &["remote", "add", "origin", remote.to_str().unwrap()]));
    (repo, remote)
}

#[test]
fn hook_lets_good_pushes_through_and_blocks_a_broken_overlay() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _) = repo_with_remote(tmp.path());
    let out = ok(fluxgate(&["hook", "install", repo.to_str().unwrap()]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pre-push"));
    let hook = repo.join(".git/hooks/pre-push");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_ne!(std::fs::metadata(&hook).unwrap().permissions().mode() & 0o111, 0, "hook is executable");
    }

    // A new remote branch, good content: the push goes through.
    ok(git(&repo, &["push", "-q", "origin", "main"]));

    // A typo'd kustomization field: the push is blocked and says why.
    let k = repo.join("infrastructure/development/kustomization.yaml");
    let text = std::fs::read_to_string(&k).unwrap().replace("resources:", "resourcs:");
    std::fs::write(&k, text).unwrap();
    ok(git(&repo, &["commit", "-q", "-am", "break the development overlay"]));
    let out = git(&repo, &["push", "origin", "main"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "push of a broken overlay must fail:\n{stderr}");
    assert!(stderr.contains("resourcs"), "{stderr}");
    assert!(stderr.contains("infrastructure/development/kustomization.yaml"), "{stderr}");
    assert!(stderr.contains("push blocked"), "{stderr}");

    // Uninstalled, the hook no longer gates.
    ok(fluxgate(&["hook", "uninstall", repo.to_str().unwrap()]));
    assert!(!hook.exists());
    ok(git(&repo, &["push", "-q", "origin", "main"]));
}

#[test]
fn a_foreign_hook_is_never_replaced_or_removed_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _) = repo_with_remote(tmp.path());
    let hook = repo.join(".git/hooks/pre-push");
    let foreign = "#!/bin/sh\n# my own hook\nexit 0\n";
    std::fs::write(&hook, foreign).unwrap();

    let out = fluxgate(&["hook", "install", repo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);

    let out = fluxgate(&["hook", "uninstall", repo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);

    ok(fluxgate(&["hook", "install", "--force", repo.to_str().unwrap()]));
    assert!(std::fs::read_to_string(&hook).unwrap().contains("fluxgate-managed"));
    // Reinstalling over our own hook needs no --force.
    ok(fluxgate(&["hook", "install", repo.to_str().unwrap()]));
}

#[test]
fn install_outside_a_git_repository_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fluxgate(&["hook", "install", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
