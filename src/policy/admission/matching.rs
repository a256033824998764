//! Which objects a policy (and a binding) applies to, decided the way the API server decides
//! it for a create or update of the object as it is in git:
//!
//! - resource rules by API group, version and resource (the plural the API serves the kind
//!   as); `*` and `<resource>/*` match, subresource-only rules do not (a manifest is never a
//!   subresource); `resourceNames`, `scope`, and `excludeResourceRules`;
//! - `operations`: an object in git is applied as a CREATE or an UPDATE, so a rule matches when
//!   it lists either, or `*`;
//! - `matchPolicy: Equivalent` (the default) also matches the same group and resource at
//!   another version (the API server converts the request); `Exact` does not;
//! - `namespaceSelector` against the labels of the object's Namespace when the same render
//!   has it. Otherwise the namespace's labels are taken to be only the one the API server puts
//!   on every namespace, `kubernetes.io/metadata.name: <name>`: a selector on other labels
//!   does not match (the policy is not applied rather than guessed). Cluster-scoped objects
//!   other than Namespaces always pass it, a Namespace is matched by its own labels;
//! - `objectSelector` against the object's labels.

use std::collections::BTreeMap;

use crate::source::Node;

use super::model::{MatchResources, ResourceRule, Scope};

/// An object as the matcher and the evaluator see it.
pub(super) struct Target<'a> {
    pub node: &'a Node,
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The plural resource name (`deployments`).
    pub resource: String,
    pub name: String,
    /// The namespace the object is applied to; empty for cluster-scoped objects.
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

/// The labels the namespace selector sees for `target`: its own for a Namespace, the
/// namespace's for a namespaced object, `None` for another cluster-scoped object (which
/// always passes).
fn namespace_labels(
    target: &Target,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    if target.group.is_empty() && target.resource == "namespaces" {
        let mut l = target.labels.clone();
        l.entry("kubernetes.io/metadata.name".into()).or_insert_with(|| target.name.clone());
        return Some(l);
    }
    if target.namespace.is_empty() {
        return None;
    }
    let mut l = namespaces.get(&target.namespace).cloned().unwrap_or_default();
    l.entry("kubernetes.io/metadata.name".into()).or_insert_with(|| target.namespace.clone());
    Some(l)
}

/// Whether `m` selects `target`.
pub(super) fn matches(
    m: &MatchResources,
    target: &Target,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    if !m.namespace_selector.is_empty()
        && let Some(labels) = namespace_labels(target, namespaces)
        && !m.namespace_selector.matches(&labels)
    {
        return false;
    }
    if !m.object_selector.matches(&target.labels) {
        return false;
    }
    if m.exclude.iter().any(|r| rule_matches(r, target, m.exact)) {
        return false;
    }
    m.rules.is_empty() || m.rules.iter().any(|r| rule_matches(r, target, m.exact))
}

fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

fn rule_matches(r: &ResourceRule, target: &Target, exact: bool) -> bool {
    let applies = r.operations.iter().any(|op| matches!(op.as_str(), "*" | "CREATE" | "UPDATE"));
    let scope = match r.scope {
        Scope::Any => true,
        Scope::Cluster => target.namespace.is_empty(),
        Scope::Namespaced => !target.namespace.is_empty(),
    };
    let resource = r.resources.iter().any(|res| {
        let (name, sub) = res.split_once('/').unwrap_or((res, ""));
        (name == "*" || name == target.resource) && (sub == "*" || sub.is_empty())
    });
    let version = listed(&r.versions, &target.version) || (!exact && !r.versions.is_empty());
    applies
        && scope
        && resource
        && listed(&r.groups, &target.group)
        && version
        && (r.names.is_empty() || r.names.contains(&target.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::admission::model::match_resources;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits, Loc};

    fn mr(text: &str) -> MatchResources {
        let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        match_resources(&parsed.docs[0], "matchConstraints").unwrap()
    }

    fn target<'a>(
        node: &'a Node,
        group: &str,
        version: &str,
        resource: &str,
        ns: &str,
        labels: &[(&str, &str)],
    ) -> Target<'a> {
        Target {
            node,
            group: group.into(),
            version: version.into(),
            kind: String::new(),
            resource: resource.into(),
            name: "web".into(),
            namespace: ns.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn resource_rules_operations_scope_and_names() {
        let n = Node::empty_map(Loc::NONE);
        let none = BTreeMap::new();
        let m = mr(
            "resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments, statefulsets]}]",
        );
        assert!(matches(&m, &target(&n, "apps", "v1", "deployments", "a", &[]), &none));
        assert!(!matches(&m, &target(&n, "apps", "v1", "daemonsets", "a", &[]), &none));
        assert!(!matches(&m, &target(&n, "", "v1", "deployments", "a", &[]), &none));
        let delete_only =
            mr("resourceRules: [{apiGroups: ['*'], apiVersions: ['*'], operations: [DELETE], resources: ['*']}]");
        assert!(!matches(&delete_only, &target(&n, "apps", "v1", "deployments", "a", &[]), &none));
        let sub =
            mr("resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: [pods/status]}]");
        assert!(!matches(&sub, &target(&n, "", "v1", "pods", "a", &[]), &none));
        let all_sub =
            mr("resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: ['pods/*']}]");
        assert!(matches(&all_sub, &target(&n, "", "v1", "pods", "a", &[]), &none));
        let cluster = mr(
            "resourceRules: [{apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'], scope: Cluster}]",
        );
        assert!(!matches(&cluster, &target(&n, "", "v1", "pods", "a", &[]), &none));
        assert!(matches(&cluster, &target(&n, "", "v1", "namespaces", "", &[]), &none));
        let named = mr(
            "resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: [pods], resourceNames: [db]}]",
        );
        assert!(!matches(&named, &target(&n, "", "v1", "pods", "a", &[]), &none));
        let excluded = mr(
            "resourceRules: [{apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*']}]\nexcludeResourceRules: [{apiGroups: [''], apiVersions: ['*'], operations: ['*'], resources: [pods]}]",
        );
        assert!(!matches(&excluded, &target(&n, "", "v1", "pods", "a", &[]), &none));
        assert!(matches(&excluded, &target(&n, "", "v1", "services", "a", &[]), &none));
    }

    #[test]
    fn match_policy_equivalent_and_exact() {
        let n = Node::empty_map(Loc::NONE);
        let none = BTreeMap::new();
        let eq = mr(
            "resourceRules: [{apiGroups: [autoscaling], apiVersions: [v2], operations: ['*'], resources: [horizontalpodautoscalers]}]",
        );
        assert!(matches(&eq, &target(&n, "autoscaling", "v1", "horizontalpodautoscalers", "a", &[]), &none));
        let exact = mr(
            "matchPolicy: Exact\nresourceRules: [{apiGroups: [autoscaling], apiVersions: [v2], operations: ['*'], resources: [horizontalpodautoscalers]}]",
        );
        assert!(!matches(&exact, &target(&n, "autoscaling", "v1", "horizontalpodautoscalers", "a", &[]), &none));
    }

    #[test]
    fn namespace_and_object_selectors() {
        let n = Node::empty_map(Loc::NONE);
        let mut namespaces = BTreeMap::new();
        namespaces.insert("prod".to_string(), [("env".to_string(), "prod".to_string())].into_iter().collect());
        let m = mr(
            "namespaceSelector: {matchLabels: {env: prod}}\nobjectSelector: {matchExpressions: [{key: skip, operator: DoesNotExist}]}\nresourceRules: [{apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: ['*']}]",
        );
        assert!(matches(&m, &target(&n, "", "v1", "pods", "prod", &[]), &namespaces));
        assert!(!matches(&m, &target(&n, "", "v1", "pods", "prod", &[("skip", "y")]), &namespaces));
        // Unknown namespace: only its name label is known.
        assert!(!matches(&m, &target(&n, "", "v1", "pods", "dev", &[]), &namespaces));
        // Cluster-scoped non-namespace objects always pass the namespace selector.
        assert!(matches(&m, &target(&n, "", "v1", "persistentvolumes", "", &[]), &namespaces));
        // A Namespace is matched by its own labels.
        assert!(matches(&m, &target(&n, "", "v1", "namespaces", "", &[("env", "prod")]), &namespaces));
        let by_name = mr(
            "namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}]}\nresourceRules: [{apiGroups: [''], apiVersions: [v1], operations: ['*'], resources: ['*']}]",
        );
        assert!(matches(&by_name, &target(&n, "", "v1", "pods", "dev", &[]), &namespaces));
        assert!(!matches(&by_name, &target(&n, "", "v1", "pods", "kube-system", &[]), &namespaces));
    }
}
