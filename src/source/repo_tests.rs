//! [`Repo`]'s containment guarantees with the cached directory listings: a path through a
//! symlink is still resolved by the OS and refused when it leaves the root; plain paths give
//! the answers (and error messages) they gave before the cache.

use super::*;

fn rel(s: &str) -> RelPath {
    RelPath::parse(s).unwrap()
}

/// A repository with plain files, a symlink inside the root, and symlinks leaving it.
fn fixture() -> (tempfile::TempDir, Repo) {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("apps/base")).unwrap();
    std::fs::write(root.join("apps/base/kustomization.yaml"), "resources: [cm.yaml]\n").unwrap();
    std::fs::write(root.join("apps/base/cm.yaml"), "kind: ConfigMap\n").unwrap();
    std::fs::write(dir.path().join("secret.yaml"), "kind: Secret\n").unwrap();
    symlink("base", root.join("apps/alias")).unwrap();
    symlink("cm.yaml", root.join("apps/base/linked.yaml")).unwrap();
    symlink("../../../secret.yaml", root.join("apps/base/leak.yaml")).unwrap();
    symlink("/", root.join("rootfs")).unwrap();
    symlink("nowhere.yaml", root.join("apps/dangling.yaml")).unwrap();
    let repo = Repo::open(&root).unwrap();
    (dir, repo)
}

#[test]
fn symlinks_leaving_the_root_are_refused() {
    let (_dir, repo) = fixture();
    // Listed first, so that the cache answers every later lookup it can.
    repo.list_dir(&rel("apps/base")).unwrap();
    for p in ["apps/base/leak.yaml", "rootfs/etc/passwd", "rootfs/etc", "rootfs"] {
        assert!(matches!(repo.read(&rel(p)), Err(ReadError::OutsideRoot(_))), "{p}");
        assert!(!repo.is_file(&rel(p)) && !repo.is_dir(&rel(p)), "{p}");
        assert!(repo.peek_with(&rel(p), <[u8]>::to_vec).is_none(), "{p}");
    }
    assert!(matches!(repo.list_dir(&rel("rootfs")), Err(ReadError::OutsideRoot(_))));
    assert!(matches!(repo.read_bytes(&rel("apps/base/leak.yaml")), Err(ReadError::OutsideRoot(_))));
}

#[test]
fn symlinks_inside_the_root_resolve() {
    let (_dir, repo) = fixture();
    assert_eq!(repo.read(&rel("apps/alias/cm.yaml")).unwrap().text, "kind: ConfigMap\n");
    assert_eq!(repo.read(&rel("apps/base/linked.yaml")).unwrap().text, "kind: ConfigMap\n");
    assert!(repo.is_dir(&rel("apps/alias")) && repo.is_file(&rel("apps/alias/kustomization.yaml")));
    let names: Vec<String> = repo.list_dir(&rel("apps/alias")).unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["cm.yaml", "kustomization.yaml", "leak.yaml", "linked.yaml"]);
    // Read through Repo's checks only: a scan does not follow symlinks.
    assert!(repo.peek_with(&rel("apps/base/linked.yaml"), <[u8]>::to_vec).is_none());
    assert_eq!(repo.peek_with(&rel("apps/base/cm.yaml"), <[u8]>::to_vec).unwrap(), b"kind: ConfigMap\n");
}

#[test]
fn listings_give_the_answers_the_os_gives() {
    let (_dir, repo) = fixture();
    let listed = repo.list_dir(&rel("apps")).unwrap();
    assert_eq!(listed, [("alias".into(), false), ("base".into(), true), ("dangling.yaml".into(), false)]);
    assert!(repo.is_dir(&rel("apps/base")) && !repo.is_file(&rel("apps/base")));
    assert!(repo.is_file(&rel("apps/base/cm.yaml")) && !repo.is_dir(&rel("apps/base/cm.yaml")));
    assert!(matches!(repo.read(&rel("apps/base/none.yaml")), Err(ReadError::NotFound(_))));
    assert!(matches!(repo.read(&rel("apps/base/cm.yaml/x")), Err(ReadError::NotFound(_))));
    assert!(matches!(repo.read(&rel("nothing/here.yaml")), Err(ReadError::NotFound(_))));
    assert!(matches!(repo.list_dir(&rel("apps/none")), Err(ReadError::NotFound(_))));
    let dangling = repo.read(&rel("apps/dangling.yaml")).unwrap_err().to_string();
    assert!(dangling.contains("symlink that resolves to nothing"), "{dangling}");
    let dir = repo.read(&rel("apps/base")).unwrap_err().to_string();
    assert!(dir.ends_with("is a directory"), "{dir}");
}

#[test]
fn special_and_oversize_files_are_refused_with_their_size() {
    let (dir, mut repo) = fixture();
    let root = dir.path().join("repo");
    let fifo = root.join("apps/fifo.yaml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Written before the first lookup lists the directory (a run reads a snapshot).
    std::fs::write(root.join("apps/big.yaml"), "x".repeat(100)).unwrap();
    let e = repo.read(&rel("apps/fifo.yaml")).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    assert!(repo.peek_with(&rel("apps/fifo.yaml"), <[u8]>::to_vec).is_none() && !repo.is_file(&rel("apps/fifo.yaml")));
    repo.limits.max_file_bytes = 10;
    assert!(matches!(repo.read(&rel("apps/big.yaml")), Err(ReadError::TooLarge { size: 100, limit: 10, .. })));
    assert!(repo.peek_with(&rel("apps/big.yaml"), <[u8]>::to_vec).is_none());
}
