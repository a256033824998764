//! Repository-relative paths: always `/`-separated, normalised, never leaving the root.

use std::fmt;

/// A normalised path relative to the repository root (`""` is the root itself).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RelPath(String);

impl RelPath {
    pub fn root() -> Self {
        RelPath(String::new())
    }

    /// Builds from already-clean components.
    pub fn from_components<I: IntoIterator<Item = String>>(it: I) -> Self {
        let parts: Vec<String> = it.into_iter().filter(|s| !s.is_empty() && s != ".").collect();
        RelPath(parts.join("/"))
    }

    /// Parses a clean relative path such as `apps/base`; `None` if it leaves the root.
    pub fn parse(s: &str) -> Option<Self> {
        RelPath::root().join(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Joins `rel` (as written in a kustomization) to this directory, resolving `.` and `..`
    /// lexically. `None` when the result would leave the root or `rel` is absolute.
    pub fn join(&self, rel: &str) -> Option<RelPath> {
        if rel.starts_with('/') || rel.starts_with('\\') || rel.contains('\0') {
            return None;
        }
        let mut parts: Vec<&str> = if self.0.is_empty() { Vec::new() } else { self.0.split('/').collect() };
        for seg in rel.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                s => parts.push(s),
            }
        }
        Some(RelPath(parts.join("/")))
    }

    /// The containing directory (the root's parent is the root).
    pub fn parent(&self) -> RelPath {
        match self.0.rfind('/') {
            Some(i) => RelPath(self.0[..i].to_string()),
            None => RelPath::root(),
        }
    }

    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `other` or below it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.0.is_empty()
            || (self.0.starts_with(&other.0)
                && (self.0.len() == other.0.len() || self.0.as_bytes()[other.0.len()] == b'/'))
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str(".") } else { f.write_str(&self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_resolves_dots_and_refuses_escape() {
        let base = RelPath::parse("apps/prod/web").unwrap();
        assert_eq!(base.join("../../base/web").unwrap().as_str(), "apps/base/web");
        assert_eq!(base.join("./patch.yaml").unwrap().as_str(), "apps/prod/web/patch.yaml");
        assert!(base.join("../../../../etc/passwd").is_none());
        assert!(base.join("/etc/passwd").is_none());
        assert_eq!(base.parent().as_str(), "apps/prod");
        assert!(base.starts_with(&RelPath::parse("apps").unwrap()));
        assert!(!base.starts_with(&RelPath::parse("ap").unwrap()));
    }
}
