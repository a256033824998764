//! Suppressions: the `fluxgate.io/ignore: "rule-a,rule-b"` annotation (reason in
//! `fluxgate.io/ignore-reason`) on an object, and `suppressions:` entries in `.fluxgate.yaml`.
//! A suppressed finding is kept and reported as skipped with its reason; a suppression that
//! matches nothing is itself reported (`suppression-unused`), so stale ones get cleaned up.

use std::collections::BTreeMap;

use crate::config::{self, Config};
use crate::finding::location;
use crate::finding::{Finding, Location, ObjectRef};
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::Repo;

/// The annotation listing the rules to ignore on an object (comma-separated).
pub const IGNORE: &str = "fluxgate.io/ignore";
/// The annotation saying why.
pub const IGNORE_REASON: &str = "fluxgate.io/ignore-reason";

/// The names a suppression may use for a finding: its rule id (and, for admission policies, the
/// policy's name).
pub fn finding_rule_names(f: &Finding) -> Vec<&str> {
    let mut names = vec![f.rule.id()];
    names.extend(f.policy.as_deref());
    names
}

/// One rule name of one ignore annotation: where it is, on which object, and whether it matched.
#[derive(Clone, Debug)]
struct AnnotationUse {
    object: ObjectRef,
    entry_point: String,
    used: bool,
}

/// Which suppressions matched, gathered per entry point and merged over the run.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    annotations: BTreeMap<(Location, String), AnnotationUse>,
}

impl Usage {
    /// Adds another entry point's usage: an annotation is used when it matched anywhere.
    pub fn merge(&mut self, other: Usage) {
        for (k, v) in other.annotations {
            match self.annotations.get_mut(&k) {
                Some(mine) => {
                    mine.used |= v.used;
                    if v.entry_point < mine.entry_point {
                        mine.entry_point = v.entry_point;
                    }
                }
                None => {
                    self.annotations.insert(k, v);
                }
            }
        }
    }
}

/// Marks the findings of annotated objects as suppressed.
pub fn apply_annotations(repo: &Repo, entry_point: &str, resources: &[Resource], findings: &mut [Finding]) -> Usage {
    let mut usage = Usage::default();
    for r in resources {
        let Some(ann) = r.node.path(&["metadata", "annotations", IGNORE]) else { continue };
        let value = ann.scalar_text().unwrap_or_default();
        let reason = r
            .node
            .path(&["metadata", "annotations", IGNORE_REASON])
            .and_then(|n| n.scalar_text())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "no reason given".into());
        let obj = r.object_ref();
        let loc = location(repo, ann.loc).or_else(|| location(repo, r.node.loc));
        for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut used = false;
            for f in findings.iter_mut().filter(|f| f.object.as_ref() == Some(&obj)) {
                if f.rule != Rule::SuppressionUnused && finding_rule_names(f).contains(&name) {
                    used = true;
                    if f.suppressed.is_none() {
                        f.suppressed = Some(format!("{reason} ({IGNORE} annotation)"));
                    }
                }
            }
            if let Some(loc) = &loc {
                let u = AnnotationUse { object: obj.clone(), entry_point: entry_point.to_string(), used };
                let mut one = Usage::default();
                one.annotations.insert((loc.clone(), name.to_string()), u);
                usage.merge(one);
            }
        }
    }
    usage
}

fn object_display(o: &ObjectRef) -> String {
    o.display()
}

/// Applies the config's suppressions and reports unused ones (annotations and config entries).
pub fn finish(config: &Config, findings: &mut Vec<Finding>, usage: Usage, complete: bool) {
    let sups = &config.policy.suppressions;
    let mut used = vec![false; sups.len()];
    for f in findings.iter_mut() {
        if f.rule == Rule::SuppressionUnused {
            continue;
        }
        for (i, s) in sups.iter().enumerate() {
            if !finding_rule_names(f).contains(&s.rule.as_str()) {
                continue;
            }
            let path_ok = s.path.as_ref().is_none_or(|g| {
                f.location.as_ref().is_some_and(|l| g.is_match(&l.file))
                    || f.entry_point.as_ref().is_some_and(|e| g.is_match(e))
            });
            let object_ok =
                s.object.as_ref().is_none_or(|g| f.object.as_ref().is_some_and(|o| g.is_match(object_display(o))));
            if path_ok && object_ok {
                used[i] = true;
                if f.suppressed.is_none() {
                    f.suppressed = Some(format!("{} ({} line {})", s.reason, config::FILE_NAME, s.line));
                }
            }
        }
    }
    if !complete {
        return;
    }
    let Some(severity) = config.policy.effective(Rule::SuppressionUnused, None).severity else { return };
    for s in sups.iter().zip(&used).filter(|(_, u)| !**u).map(|(s, _)| s) {
        let mut f = Finding::new(
            Rule::SuppressionUnused,
            format!("suppression of '{}' ({}) matches no finding", s.rule, s.reason),
        )
        .at(Some(Location { file: config::FILE_NAME.into(), line: s.line, column: s.column }))
        .help("remove the suppression (the problem is gone), or fix its rule, path or object");
        f.severity = severity;
        findings.push(f);
    }
    for ((loc, name), u) in usage.annotations.into_iter().filter(|(_, u)| !u.used) {
        let mut f = Finding::new(
            Rule::SuppressionUnused,
            format!("{IGNORE} names '{name}' but {} has no such finding", u.object.display()),
        )
        .at(Some(loc))
        .entry_point(u.entry_point)
        .help(format!("remove '{name}' from the {IGNORE} annotation"));
        f.object = Some(u.object);
        f.severity = severity;
        findings.push(f);
    }
}
