//! Trends: what got better or worse since a previous audit (`fluxgate audit --compare PREV.json`).
//!
//! Counts compare unsuppressed findings per rule, environment and team. Findings are matched by
//! rule, file, object and message, never by line number (which moves with unrelated edits), as
//! a multiset: two identical findings before and one after is one fixed. A finding that became
//! suppressed counts as gone from the unsuppressed counts but is neither new nor fixed; it shows
//! in the suppressed delta.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Audit, AuditFinding, Counts, GroupCount};

/// One number before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub name: String,
    pub before: usize,
    pub after: usize,
    /// `after - before`: negative is better for findings.
    pub delta: i64,
}

impl Delta {
    fn new(name: &str, before: usize, after: usize) -> Delta {
        Delta { name: name.to_string(), before, after, delta: after as i64 - before as i64 }
    }
}

/// The difference between a previous audit and this one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The previous audit's `generatedAt`, if it had one.
    pub previous_generated_at: Option<String>,
    /// `entryPoints`, `objects`, `findings`, `errors`, `warnings`, `infos`, `suppressed`.
    pub summary: Vec<Delta>,
    /// Unsuppressed findings per rule, environment and team (every name on either side),
    /// biggest change first.
    pub by_rule: Vec<Delta>,
    pub by_environment: Vec<Delta>,
    pub by_team: Vec<Delta>,
    /// Unsuppressed findings that the previous audit did not have.
    pub new_findings: Vec<AuditFinding>,
    /// Unsuppressed findings of the previous audit that are gone.
    pub fixed_findings: Vec<AuditFinding>,
}

fn counts_deltas<'a>(
    before: impl Iterator<Item = (&'a str, &'a Counts)>,
    after: impl Iterator<Item = (&'a str, &'a Counts)>,
) -> Vec<Delta> {
    let mut map: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (n, c) in before {
        map.entry(n).or_default().0 += c.findings;
    }
    for (n, c) in after {
        map.entry(n).or_default().1 += c.findings;
    }
    let mut out: Vec<Delta> = map.into_iter().map(|(n, (b, a))| Delta::new(n, b, a)).collect();
    out.sort_by(|a, b| b.delta.abs().cmp(&a.delta.abs()).then(b.delta.cmp(&a.delta)).then(a.name.cmp(&b.name)));
    out
}

fn groups(g: &[GroupCount]) -> impl Iterator<Item = (&str, &Counts)> {
    g.iter().map(|g| (g.name.as_str(), &g.counts))
}

/// Findings of `of` that `minus` does not have (multiset difference on the identity), unsuppressed.
fn difference(of: &Audit, minus: &Audit) -> Vec<AuditFinding> {
    let mut left: BTreeMap<_, usize> = BTreeMap::new();
    for f in minus.findings.iter().filter(|f| f.suppressed.is_none()) {
        *left.entry(f.identity()).or_default() += 1;
    }
    let mut out = Vec::new();
    for f in of.findings.iter().filter(|f| f.suppressed.is_none()) {
        match left.get_mut(&f.identity()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(f.clone()),
        }
    }
    out
}

/// Compares `current` with `previous`.
pub fn compare(previous: &Audit, current: &Audit) -> Comparison {
    let (p, c) = (&previous.summary, &current.summary);
    Comparison {
        previous_generated_at: previous.generated_at.clone(),
        summary: vec![
            Delta::new("entryPoints", p.entry_points, c.entry_points),
            Delta::new("objects", p.objects, c.objects),
            Delta::new("findings", p.counts.findings, c.counts.findings),
            Delta::new("errors", p.counts.errors, c.counts.errors),
            Delta::new("warnings", p.counts.warnings, c.counts.warnings),
            Delta::new("infos", p.counts.infos, c.counts.infos),
            Delta::new("suppressed", p.counts.suppressed, c.counts.suppressed),
        ],
        by_rule: counts_deltas(
            previous.by_rule.iter().map(|r| (r.rule.as_str(), &r.counts)),
            current.by_rule.iter().map(|r| (r.rule.as_str(), &r.counts)),
        ),
        by_environment: counts_deltas(groups(&previous.by_environment), groups(&current.by_environment)),
        by_team: counts_deltas(groups(&previous.by_team), groups(&current.by_team)),
        new_findings: difference(current, previous),
        fixed_findings: difference(previous, current),
    }
}
