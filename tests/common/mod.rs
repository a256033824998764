//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the fluxgate binary under test.
#[allow(dead_code)] // not every test file that includes this module runs the binary
pub fn fluxgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgate")).args(args).output().unwrap()
}

/// A path under `fixtures/`.
#[allow(dead_code)]
pub fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

/// A path as the UTF-8 argument it is in these tests.
#[allow(dead_code)]
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Copies a directory tree (a fixture repository) into `to`, creating it.
#[allow(dead_code)]
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
