//! The one model of a problem fluxgate reports. Every check, render error and parse error
//! becomes a [`Finding`]; reporters only format findings.

use serde::Serialize;

use crate::rules::Rule;
pub use crate::rules::Severity;
use crate::source::{Loc, Repo};

/// What kind of entry point was rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryPointKind {
    /// A directory with a kustomization file.
    Kustomize,
    /// A Flux `Kustomization` object.
    Flux,
    /// A Flux `HelmRelease`: what `helm template` renders for it.
    HelmRelease,
}

/// Which Kubernetes object a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// `Kind/namespace/name` (namespace `_` when cluster-scoped or unset), the stable test name.
    pub fn display(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace.as_deref().unwrap_or("_"), self.name)
    }
}

/// Where in the repository a finding points: a root-relative `/` path and 1-based line:column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// One problem (or note) found in the repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// The entry point (overlay directory or Flux entry point) being checked; `None` for
    /// problems found outside any one entry point.
    pub entry_point: Option<String>,
    pub object: Option<ObjectRef>,
    pub location: Option<Location>,
    pub message: String,
    pub help: Option<String>,
    /// Set when a suppression (annotation or config) silenced this finding; it is still reported,
    /// as skipped, never dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// The ValidatingAdmissionPolicy a finding comes from (`admission-policy*` rules), so a
    /// report can say which of the organisation's policies failed and a suppression can name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl Finding {
    /// A finding with the rule's default severity.
    pub fn new(rule: Rule, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.default_severity(),
            entry_point: None,
            object: None,
            location: None,
            message: message.into(),
            help: None,
            suppressed: None,
            policy: None,
        }
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn object(mut self, object: Option<ObjectRef>) -> Self {
        self.object = object;
        self
    }

    pub fn entry_point(mut self, ep: impl Into<String>) -> Self {
        self.entry_point = Some(ep.into());
        self
    }

    /// The rule as reporters show it: the rule id, with the policy name for findings of a
    /// ValidatingAdmissionPolicy (`admission-policy[require-team-label]`).
    pub fn rule_label(&self) -> String {
        match &self.policy {
            Some(p) => format!("{}[{p}]", self.rule.id()),
            None => self.rule.id().to_string(),
        }
    }

    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// The one sort key that makes every report deterministic.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.entry_point.as_deref(),
            self.location.as_ref().map(|l| (l.file.as_str(), l.line, l.column)),
            self.rule.id(),
            self.object.as_ref(),
            self.message.as_str(),
        )
    }
}

/// Turns a [`Loc`] into a report location (root-relative path, 1-based line and column).
pub fn location(repo: &Repo, loc: Loc) -> Option<Location> {
    let f = repo.file_of(loc)?;
    Some(Location { file: f.path.to_string(), line: loc.line.max(1), column: loc.col.max(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_name_shows_in_the_label_and_json_only_when_set() {
        let plain = Finding::new(Rule::DuplicateObject, "twice");
        assert_eq!(plain.rule_label(), "duplicate-object");
        assert!(serde_json::to_value(&plain).unwrap().get("policy").is_none());
        let f = Finding::new(Rule::AdmissionPolicy, "no team label").policy("require-team-label");
        assert_eq!(f.rule_label(), "admission-policy[require-team-label]");
        assert_eq!(serde_json::to_value(&f).unwrap()["policy"], "require-team-label");
    }
}
