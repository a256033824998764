//! List merge metadata for strategic merge patches, taken from the Kubernetes OpenAPI schema
//! (see `schemas/README.md`) rather than guessed, so merges follow kustomize's embedded schema.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::source::Node;

/// How a list at some path is combined with the patch's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the target's (no merge strategy, or a kind without schema).
    Replace,
    /// Items are maps merged by these keys. One key is the usual `patchMergeKey`; several come
    /// from `x-kubernetes-list-map-keys` (e.g. `containerPort`+`protocol`), which kyaml matches on
    /// all of them.
    MergeByKeys(Vec<String>),
    /// A merge list without a key (e.g. `finalizers`): items are merged as a set.
    MergeSet,
}

/// Where the strategy of a list comes from; `path` is the map keys from the object root with
/// list indices left out (`["spec", "template", "spec", "containers"]`).
pub trait MergeMeta {
    fn list_strategy(&self, path: &[&str]) -> ListStrategy;
}

/// Metadata for objects with no schema (custom resources): every list is replaced, as kustomize
/// does for kinds it has no OpenAPI schema for.
pub struct NoMeta;

impl MergeMeta for NoMeta {
    fn list_strategy(&self, _path: &[&str]) -> ListStrategy {
        ListStrategy::Replace
    }
}

/// One list (or retainKeys map) field of the generated table.
#[derive(Clone, Debug, Deserialize)]
pub struct FieldMeta {
    pub strategy: String,
    #[serde(rename = "mergeKey")]
    pub merge_key: Option<String>,
    pub keys: Option<Vec<String>>,
    #[serde(rename = "retainKeys", default)]
    pub retain_keys: bool,
}

#[derive(Deserialize)]
struct Table {
    kinds: HashMap<String, HashMap<String, FieldMeta>>,
}

static TABLE: LazyLock<HashMap<String, HashMap<String, FieldMeta>>> = LazyLock::new(|| {
    // The file is generated and checked in; a unit test asserts it parses.
    serde_json::from_str::<Table>(include_str!("../../../schemas/patch-meta.json")).map(|t| t.kinds).unwrap_or_default()
});

/// Merge metadata of one built-in kind, from the embedded schema table. Kinds not in the table
/// (custom resources) get no metadata, so all their lists are replaced.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinMeta {
    fields: Option<&'static HashMap<String, FieldMeta>>,
}

impl BuiltinMeta {
    /// Metadata for `apiVersion` + `kind` (`"apps/v1"`, `"Deployment"`; core group is `"v1"`).
    pub fn for_kind(api_version: &str, kind: &str) -> Self {
        BuiltinMeta { fields: TABLE.get(&format!("{api_version}/{kind}")) }
    }

    /// Metadata for the kind of an object (its `apiVersion` and `kind` fields).
    pub fn for_object(obj: &Node) -> Self {
        match (obj.str_at(&["apiVersion"]), obj.str_at(&["kind"])) {
            (Some(a), Some(k)) => Self::for_kind(a, k),
            _ => BuiltinMeta { fields: None },
        }
    }

    /// Whether the kind is a built-in one with schema metadata.
    pub fn is_builtin(&self) -> bool {
        self.fields.is_some()
    }

    /// The raw schema entry for a field path (dotted), if it has a patch strategy.
    pub fn field(&self, path: &[&str]) -> Option<&'static FieldMeta> {
        self.fields?.get(&path.join("."))
    }
}

impl MergeMeta for BuiltinMeta {
    fn list_strategy(&self, path: &[&str]) -> ListStrategy {
        let Some(f) = self.field(path) else { return ListStrategy::Replace };
        if !f.strategy.split(',').any(|s| s == "merge") {
            return ListStrategy::Replace;
        }
        match (&f.keys, &f.merge_key) {
            (Some(keys), _) if !keys.is_empty() => ListStrategy::MergeByKeys(keys.clone()),
            (_, Some(k)) => ListStrategy::MergeByKeys(vec![k.clone()]),
            _ => ListStrategy::MergeSet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_has_core_kinds() {
        assert!(TABLE.len() > 50);
        let d = BuiltinMeta::for_kind("apps/v1", "Deployment");
        let c = ["spec", "template", "spec", "containers"];
        assert_eq!(d.list_strategy(&c), ListStrategy::MergeByKeys(vec!["name".into()]));
        let ports = ["spec", "template", "spec", "containers", "ports"];
        assert_eq!(d.list_strategy(&ports), ListStrategy::MergeByKeys(vec!["containerPort".into(), "protocol".into()]));
        assert_eq!(d.list_strategy(&["metadata", "finalizers"]), ListStrategy::MergeSet);
        assert_eq!(d.list_strategy(&["spec", "template", "spec", "tolerations"]), ListStrategy::Replace);
        assert!(d.field(&["spec", "strategy"]).is_some_and(|f| f.retain_keys));
        let cj = BuiltinMeta::for_kind("batch/v1beta1", "CronJob");
        let cc = ["spec", "jobTemplate", "spec", "template", "spec", "containers"];
        assert_eq!(cj.list_strategy(&cc), ListStrategy::MergeByKeys(vec!["name".into()]));
        assert!(!BuiltinMeta::for_kind("example.com/v1", "Foo").is_builtin());
    }
}
