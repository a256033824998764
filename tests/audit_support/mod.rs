//! Shared by the audit tests: a repository made of `fixtures/flux-gsf` at the root, every
//! broken sample under `broken/`, a sample with hostile names and an `.fluxgate.yaml` with
//! environments and team labels.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fluxgate")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Copies a directory tree, keeping symlinks as symlinks (some broken samples are symlinks).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(from).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The name of the hostile object and the value of its hostile labels.
pub const HOSTILE_NAME: &str = "<script>document.title='pwned'</script>";
pub const HOSTILE_LABEL: &str = "]]>\u{1}<b>bold</b><img src=x onerror=\"document.title='pwned'\">";

pub const CONFIG: &str = "environments:
  production: ['**/production/**']
  staging: ['**/staging/**']
  development: ['**/development/**']
  samples: ['broken/**']
audit:
  teamLabels: [gsf.io/team, gsf.io/owner, team, app.kubernetes.io/part-of]
";

/// Writes the combined repository into `root`.
pub fn combined_repo(root: &Path) {
    copy_tree(&fixtures().join("flux-gsf"), root);
    copy_tree(&fixtures().join("broken"), &root.join("broken"));
    let hostile = root.join("broken/99-hostile");
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(hostile.join("kustomization.yaml"), "resources:\n  - cm.yaml\n").unwrap();
    let yaml_str = |s: &str| serde_json::to_string(s).unwrap();
    std::fs::write(
        hostile.join("cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  namespace: hostile\n  labels:\n    team: {}\n    bad: {}\ndata:\n  k: v\n",
            yaml_str(HOSTILE_NAME),
            yaml_str(HOSTILE_LABEL),
            yaml_str(HOSTILE_LABEL),
        ),
    )
    .unwrap();
    // An owner given as an annotation only (a label wins when both exist).
    let owned = root.join("teams/annotated");
    std::fs::create_dir_all(&owned).unwrap();
    std::fs::write(owned.join("kustomization.yaml"), "namespace: owned\nresources:\n  - cm.yaml\n").unwrap();
    std::fs::write(
        owned.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-annotation\n  annotations:\n    team: annotated-team\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-label\n  labels:\n    team: labelled-team\n  annotations:\n    team: annotated-team\n",
    )
    .unwrap();
    std::fs::write(root.join(".fluxgate.yaml"), CONFIG).unwrap();
}

/// Runs `fluxgate audit ROOT` with extra arguments; returns the exit code and stderr.
pub fn audit(root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin()).arg("audit").arg(root).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}
