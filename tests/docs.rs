//! Generated reference pages match the code they document: the rules page is regenerated from
//! the rule registry and compared with the committed `docs/rules.md`. Run with
//! `FLUXGATE_BLESS=1` to rewrite the page after changing a rule.

use std::path::Path;

#[test]
fn rules_page_matches_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let generated = fluxgate::policy::settings::rules_page();
    if std::env::var_os("FLUXGATE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/rules.md is stale: run `FLUXGATE_BLESS=1 cargo test --test docs` and commit it"
    );
    for r in fluxgate::rules::Rule::ALL {
        assert!(committed.contains(&format!("| `{}` |", r.id())), "{} is missing from docs/rules.md", r.id());
    }
}
