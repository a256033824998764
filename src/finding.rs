//! The one model of a problem fluxgate reports. Every check, render error and parse error
//! becomes a [`Finding`]; reporters only format findings.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

use serde::Serialize;
use serde::ser::SerializeStruct;

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

/// Which Kubernetes object a finding is about. Compact, because a run holds one for every
/// object of every entry point until the report (372,000 on huge, at 4 Strings each 160 bytes):
/// the apiVersion, kind and namespace, which many objects share, are interned once per run
/// ([`Scope`]), so a reference is one pointer and the name. Compares, hashes and serializes
/// as the four fields it stands for, in this order.
#[derive(Clone)]
pub struct ObjectRef {
    scope: Arc<Scope>,
    name: Box<str>,
}

/// The apiVersion, kind and namespace of an [`ObjectRef`], interned: objects of one kind in
/// one namespace share one.
#[derive(PartialEq, Eq)]
struct Scope {
    api_version: Box<str>,
    kind: Box<str>,
    namespace: Option<Box<str>>,
}

/// A [`Scope`] looked up without allocating; hashes exactly as the scope it stands for.
#[derive(Hash)]
struct ScopeKey<'a>(&'a str, &'a str, Option<&'a str>);

impl Scope {
    fn key(&self) -> ScopeKey<'_> {
        ScopeKey(&self.api_version, &self.kind, self.namespace.as_deref())
    }
}

impl Hash for Scope {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl indexmap::Equivalent<Arc<Scope>> for ScopeKey<'_> {
    fn equivalent(&self, s: &Arc<Scope>) -> bool {
        (self.0, self.1, self.2) == (&*s.api_version, &*s.kind, s.namespace.as_deref())
    }
}

/// The run's interned scopes: few (kinds times namespaces), kept until the process ends. Seeded
/// per process, as [`crate::source::Mapping`], so that crafted names cannot collide on purpose.
type Scopes = indexmap::IndexSet<Arc<Scope>, foldhash::fast::RandomState>;
static SCOPES: LazyLock<Mutex<Scopes>> = LazyLock::new(Mutex::default);

thread_local! {
    /// The scope this thread interned last.
    static LAST: std::cell::RefCell<Option<Arc<Scope>>> = const { std::cell::RefCell::new(None) };
}

impl ObjectRef {
    /// The reference to an object (`namespace` `None` when cluster-scoped or unset).
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
        let key = ScopeKey(api_version, kind, namespace);
        // A render's objects come grouped by kind and namespace: most lookups are the last one.
        let scope = LAST.with_borrow_mut(|last| match last {
            Some(s) if indexmap::Equivalent::equivalent(&key, &*s) => Arc::clone(s),
            _ => Arc::clone(last.insert(Self::intern(&key))),
        });
        ObjectRef { scope, name: name.into() }
    }

    /// The run's one [`Scope`] equal to `key`.
    fn intern(key: &ScopeKey) -> Arc<Scope> {
        let mut scopes = SCOPES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = scopes.get(key) {
            return Arc::clone(s);
        }
        let s = Arc::new(Scope { api_version: key.0.into(), kind: key.1.into(), namespace: key.2.map(Into::into) });
        scopes.insert(Arc::clone(&s));
        s
    }

    /// `apps/v1`, or `v1` for the core group: as the object says.
    pub fn api_version(&self) -> &str {
        &self.scope.api_version
    }

    /// The object's kind, as it says.
    pub fn kind(&self) -> &str {
        &self.scope.kind
    }

    /// `None` when cluster-scoped or unset.
    pub fn namespace(&self) -> Option<&str> {
        self.scope.namespace.as_deref()
    }

    /// The object's `metadata.name` (empty when it has none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The four fields, as they compare.
    fn fields(&self) -> (&str, &str, Option<&str>, &str) {
        (self.api_version(), self.kind(), self.namespace(), self.name())
    }

    /// `Kind/namespace/name` (namespace `_` when cluster-scoped or unset), the stable test name.
    pub fn display(&self) -> String {
        format!("{}/{}/{}", self.kind(), self.namespace().unwrap_or("_"), self.name)
    }
}

impl PartialEq for ObjectRef {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.scope, &other.scope) || self.scope == other.scope) && self.name == other.name
    }
}

impl Eq for ObjectRef {}

impl PartialOrd for ObjectRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.fields().cmp(&other.fields())
    }
}

impl Hash for ObjectRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.fields().hash(state)
    }
}

impl std::fmt::Debug for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRef")
            .field("api_version", &self.api_version())
            .field("kind", &self.kind())
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .finish()
    }
}

impl Serialize for ObjectRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ObjectRef", 4)?;
        s.serialize_field("apiVersion", self.api_version())?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("namespace", &self.namespace())?;
        s.serialize_field("name", self.name())?;
        s.end()
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
