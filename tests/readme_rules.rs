//! Every rule id `fluxgate rules` lists is documented in the README's rule table (with an
//! example and the fix), so the docs cannot silently drift from the registry.

use std::process::Command;

#[test]
fn every_rule_is_documented_in_the_readme() {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxgate")).arg("rules").output().unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let missing: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| !readme.lines().any(|row| row.starts_with(&format!("| `{id}` |"))))
        .map(str::to_string)
        .collect();
    assert!(missing.is_empty(), "rules without a README table row: {missing:?}");
}
