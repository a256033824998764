//! Unit tests of the audit model: grouping by rule, environment and team, suppressions.

use super::*;
use crate::report::fixture;

fn audit_of(config: &Config) -> Audit {
    let mut report = fixture::report();
    report.teams.insert(("apps/base".into(), fixture::web()), "payments".into());
    build(&report, &fixture::source(), &AuditInput { config, config_text: None, generated_at: None })
}

#[test]
fn totals_match_the_run() {
    let a = audit_of(&Config::default());
    let r = fixture::report();
    assert_eq!(a.schema_version, 1);
    assert_eq!(a.summary.counts.errors, r.summary.errors);
    assert_eq!(a.summary.counts.warnings, r.summary.warnings);
    assert_eq!(a.summary.counts.suppressed, r.summary.suppressed);
    assert_eq!(a.findings.len(), r.findings.len());
    let by_rule: usize = a.by_rule.iter().map(|r| r.counts.findings + r.counts.suppressed).sum();
    assert_eq!(by_rule, a.findings.len());
    for groups in [&a.by_environment, &a.by_team] {
        let total: usize = groups.iter().map(|g| g.counts.findings + g.counts.suppressed).sum();
        assert_eq!(total, a.findings.len());
    }
    let objects: usize = a.by_team.iter().map(|g| g.objects).sum();
    assert_eq!(objects, a.summary.objects);
}

#[test]
fn teams_environments_and_snippets() {
    let config = Config::parse("environments:\n  base: ['apps/base/**']\n").unwrap();
    let a = audit_of(&config);
    let dup = a.findings.iter().find(|f| f.rule == "duplicate-object").unwrap();
    assert_eq!(dup.team, "payments");
    assert_eq!(dup.environment, "base");
    assert_eq!(dup.snippet[0], SnippetLine { line: 1, text: "apiVersion: apps/v1".into() });
    assert_eq!(dup.snippet.len(), 2, "line 1 and the line after it");
    let payments = a.by_team.iter().find(|g| g.name == "payments").unwrap();
    assert_eq!((payments.objects, payments.entry_points), (1, 1));
    assert_eq!(a.by_environment.iter().find(|g| g.name == "base").unwrap().entry_points, 1);
    assert_eq!(a.summary.environments, 1);
    // A run-level finding (no entry point, no file) lands in (none).
    assert!(a.findings.iter().any(|f| f.entry_point.is_none() && f.environment == NONE && f.team == NONE));
    assert!(a.suppressions.iter().all(|s| s.count > 0));
    assert_eq!(a.suppressions.iter().map(|s| s.count).sum::<usize>(), a.summary.counts.suppressed);
}

#[test]
fn json_round_trips_and_is_deterministic() {
    let a = audit_of(&Config::default());
    let mut one = Vec::new();
    write_json(&a, &mut one).unwrap();
    let mut two = Vec::new();
    write_json(&audit_of(&Config::default()), &mut two).unwrap();
    assert_eq!(one, two);
    let back = read_json(std::str::from_utf8(&one).unwrap()).unwrap();
    assert_eq!(back, a);
    assert!(read_json(r#"{"schemaVersion": 2}"#).unwrap_err().contains("schemaVersion 2"));
    assert!(read_json("[]").is_err());
}

#[test]
fn compare_finds_new_and_fixed_by_identity_not_line() {
    let before = audit_of(&Config::default());
    let mut after = before.clone();
    // Same finding, moved to another line: neither new nor fixed.
    let moved = after.findings.iter_mut().find(|f| f.rule == "duplicate-object").unwrap();
    moved.location.as_mut().unwrap().line += 10;
    // One unsuppressed finding fixed, one new one.
    let gone = after.findings.iter().position(|f| f.suppressed.is_none() && f.rule == "patch-failed").unwrap();
    let mut fixed = after.findings.remove(gone);
    fixed.snippet.clear();
    let mut new = after.findings[0].clone();
    new.message = "brand new".into();
    new.suppressed = None;
    after.findings.push(new);
    let c = compare::compare(&before, &after);
    assert_eq!(c.new_findings.len(), 1);
    assert_eq!(c.new_findings[0].message, "brand new");
    assert_eq!(c.fixed_findings.len(), 1);
    assert_eq!(c.fixed_findings[0].rule, "patch-failed");
    // Counts compare the groups' numbers.
    let c = compare::compare(&before, &before);
    assert!(c.summary.iter().all(|d| d.delta == 0) && c.new_findings.is_empty() && c.fixed_findings.is_empty());
}
