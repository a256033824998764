//! Patch target selectors: group/version/kind exact, name and namespace as anchored regular
//! expressions, label and annotation selectors in Kubernetes syntax.

use crate::kustomize::kustomization::Selector;
use crate::kustomize::resource::{Resource, kustomize_cluster_scoped};
use crate::source::Node;
use crate::source::regex_cache::Anchored;

/// One requirement of a label selector.
#[derive(Debug, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed Kubernetes label selector (`a=b,c!=d,e in (x,y),!f`).
#[derive(Debug, PartialEq)]
pub struct LabelSelector(Vec<Req>);

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let words: Vec<&str> = p.split_whitespace().collect();
            if words.len() >= 3 && (words[1] == "in" || words[1] == "notin") {
                let rest = p[p.find('(').ok_or_else(|| format!("missing '(' in '{p}'"))? + 1..]
                    .trim_end()
                    .strip_suffix(')')
                    .ok_or_else(|| format!("missing ')' in '{p}'"))?;
                let vals = rest.split(',').map(|v| v.trim().to_string()).collect();
                reqs.push(if words[1] == "in" {
                    Req::In(words[0].into(), vals)
                } else {
                    Req::NotIn(words[0].into(), vals)
                });
            } else if let Some((k, v)) = p.split_once("!=") {
                reqs.push(Req::NotEq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some(k) = p.strip_prefix('!') {
                reqs.push(Req::NotExists(k.trim().into()));
            } else if p.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                reqs.push(Req::Exists(p.into()));
            } else {
                return Err(format!("cannot parse selector requirement '{p}'"));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether a label (or annotation) map satisfies every requirement.
    pub fn matches(&self, labels: Option<&Node>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(|v| v.as_str().map(str::to_string));
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k).as_deref() == Some(v),
            Req::NotEq(k, v) => get(k).as_deref() != Some(v),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A compiled selector.
pub struct Matcher {
    sel: Selector,
    name: Option<Anchored>,
    namespace: Option<Anchored>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

/// kustomize's effective namespace of an id, which selectors match against.
fn effective_namespace<'a>(api_version: &str, kind: &str, namespace: &'a str) -> &'a str {
    if kustomize_cluster_scoped(api_version, kind) {
        "_non_namespaceable_"
    } else if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

fn anchored(p: &str) -> Result<Anchored, String> {
    Anchored::new(p).map_err(|e| format!("invalid regular expression '{p}': {e}"))
}

impl Matcher {
    pub fn new(sel: &Selector) -> Result<Matcher, String> {
        Ok(Matcher {
            sel: sel.clone(),
            // An empty name or namespace selects everything, as an absent one does.
            name: sel.name.as_deref().filter(|n| !n.is_empty()).map(anchored).transpose()?,
            namespace: sel.namespace.as_deref().filter(|n| !n.is_empty()).map(anchored).transpose()?,
            labels: sel.label_selector.as_deref().map(LabelSelector::parse).transpose()?,
            annotations: sel.annotation_selector.as_deref().map(LabelSelector::parse).transpose()?,
        })
    }

    /// Whether a resource is selected. As kustomize's `Select`, the name and the namespace may
    /// match the object's original id or its current one (not an id in between), and the
    /// namespace is the effective one: `default` when unset, none for a cluster-scoped kind.
    pub fn matches(&self, r: &Resource) -> bool {
        let gvk = r.gvk();
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w.is_empty() || w == have);
        if !eq(&self.sel.group, &gvk.group) || !eq(&self.sel.version, &gvk.version) || !eq(&self.sel.kind, &gvk.kind) {
            return false;
        }
        if let Some(re) = &self.name
            && !(re.is_match(r.name()) || re.is_match(r.original_name()))
        {
            return false;
        }
        if let Some(re) = &self.namespace
            && !(re.is_match(effective_namespace(r.api_version(), r.kind(), r.namespace()))
                || r.previous
                    .first()
                    .is_some_and(|p| re.is_match(effective_namespace(r.api_version(), &p.kind, &p.namespace))))
        {
            return false;
        }
        if let Some(l) = &self.labels
            && !l.matches(r.node.path(&["metadata", "labels"]))
        {
            return false;
        }
        if let Some(a) = &self.annotations
            && !a.matches(r.node.path(&["metadata", "annotations"]))
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_based_selectors() {
        let s = LabelSelector::parse("app in (web, api),tier!=db,!legacy").unwrap();
        assert_eq!(s.0.len(), 3);
        assert!(LabelSelector::parse("a b c").is_err());
    }
}
