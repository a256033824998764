//! List merge metadata from a custom OpenAPI document (the kustomization's `openapi: {path: …}`),
//! as kyaml reads it: a swagger 2 document (JSON or YAML) whose `definitions` carry
//! `x-kubernetes-group-version-kind` for resource kinds and `x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key` / `x-kubernetes-list-map-keys` on list fields, with `$ref`s
//! between definitions.
//!
//! kustomize replaces its builtin schema with the custom one (checked with `kubectl kustomize`
//! v5.5): kinds the document defines merge by its keys, every other kind (builtin ones
//! included) has no schema, so all its lists are replaced.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::meta::{ListStrategy, MergeMeta};

/// How many `$ref` hops one field lookup may follow: a bound, so a reference cycle in the
/// document cannot loop forever.
const MAX_REF_HOPS: usize = 64;

/// A parsed custom OpenAPI document, indexed by the kinds it defines.
#[derive(Debug, Default)]
pub struct OpenApiSchema {
    definitions: serde_json::Map<String, Json>,
    /// `apiVersion/kind` (core group: `v1/Kind`) → definition name.
    kinds: HashMap<String, String>,
}

impl OpenApiSchema {
    /// Indexes a swagger document. Errors (as text) when the document is not a map (an empty
    /// file included) or `definitions` is not one, where kustomize fails to read the schema.
    pub fn from_json(doc: &Json) -> Result<Self, String> {
        if !doc.is_object() {
            return Err("the document is not a swagger object".into());
        }
        let definitions = match doc.get("definitions") {
            None | Some(Json::Null) => serde_json::Map::new(),
            Some(Json::Object(m)) => m.clone(),
            Some(_) => return Err("'definitions' must be a map of schema definitions".into()),
        };
        let mut kinds = HashMap::new();
        for (name, def) in &definitions {
            let Some(gvks) = def.get("x-kubernetes-group-version-kind").and_then(Json::as_array) else { continue };
            for gvk in gvks {
                let (Some(version), Some(kind)) =
                    (gvk.get("version").and_then(Json::as_str), gvk.get("kind").and_then(Json::as_str))
                else {
                    continue;
                };
                let api_version = match gvk.get("group").and_then(Json::as_str) {
                    Some(g) if !g.is_empty() => format!("{g}/{version}"),
                    _ => version.to_string(),
                };
                kinds.insert(format!("{api_version}/{kind}"), name.clone());
            }
        }
        Ok(OpenApiSchema { definitions, kinds })
    }

    /// Merge metadata for `apiVersion` + `kind`; kinds the document does not define get none,
    /// so their lists are replaced.
    pub fn meta_for(&self, api_version: &str, kind: &str) -> OpenApiMeta<'_> {
        let root = self.kinds.get(&format!("{api_version}/{kind}")).and_then(|n| self.definitions.get(n));
        OpenApiMeta { schema: self, root }
    }

    /// Follows `$ref`s (`#/definitions/NAME`) from `s`; `None` when one does not resolve, as
    /// kyaml then has no schema for the field.
    fn resolve<'a>(&'a self, mut s: &'a Json) -> Option<&'a Json> {
        for _ in 0..MAX_REF_HOPS {
            let Some(r) = s.get("$ref") else { return Some(s) };
            let name = r.as_str()?.strip_prefix("#/definitions/")?;
            s = self.definitions.get(name)?;
        }
        None
    }

    /// The schema of field `name` of object schema `s` (its `properties`, else the value schema
    /// of a map's `additionalProperties`), references resolved.
    fn field<'a>(&'a self, s: &'a Json, name: &str) -> Option<&'a Json> {
        let f = match s.get("properties").and_then(|p| p.get(name)) {
            Some(f) => f,
            None => s.get("additionalProperties").filter(|a| a.is_object())?,
        };
        self.resolve(f)
    }

    /// The schema of an array's items, references resolved (`None` for a non-array).
    fn elements<'a>(&'a self, s: &'a Json) -> Option<&'a Json> {
        if s.get("type").and_then(Json::as_str) != Some("array") {
            return None;
        }
        self.resolve(s.get("items")?)
    }
}

/// Merge metadata of one kind under a custom schema.
#[derive(Clone, Copy, Debug)]
pub struct OpenApiMeta<'a> {
    schema: &'a OpenApiSchema,
    root: Option<&'a Json>,
}

impl OpenApiMeta<'_> {
    /// Whether the custom document defines this kind.
    pub fn is_defined(&self) -> bool {
        self.root.is_some()
    }
}

impl MergeMeta for OpenApiMeta<'_> {
    fn list_strategy(&self, path: &[&str]) -> ListStrategy {
        let Some(mut s) = self.root.and_then(|r| self.schema.resolve(r)) else { return ListStrategy::Replace };
        for key in path {
            // The path leaves list indices out: a field under a list is a field of its items.
            if let Some(items) = self.schema.elements(s) {
                s = items;
            }
            match self.schema.field(s, key) {
                Some(f) => s = f,
                None => return ListStrategy::Replace,
            }
        }
        strategy_of(s)
    }
}

/// The list strategy a field schema's extensions give (kyaml's `PatchStrategyAndKeyList`).
fn strategy_of(s: &Json) -> ListStrategy {
    let Some(strategy) = s.get("x-kubernetes-patch-strategy").and_then(Json::as_str) else {
        return ListStrategy::Replace;
    };
    if !strategy.split(',').any(|p| p.trim() == "merge") {
        return ListStrategy::Replace;
    }
    let list_keys: Option<Vec<String>> = s
        .get("x-kubernetes-list-map-keys")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).map(str::to_string).collect());
    match (list_keys, s.get("x-kubernetes-patch-merge-key").and_then(Json::as_str)) {
        (Some(keys), _) if !keys.is_empty() => ListStrategy::MergeByKeys(keys),
        (_, Some(k)) if !k.is_empty() => ListStrategy::MergeByKeys(vec![k.to_string()]),
        _ => ListStrategy::MergeSet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> OpenApiSchema {
        let doc = serde_json::json!({
            "definitions": {
                "foo": {
                    "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Foo"}],
                    "properties": {"spec": {"$ref": "#/definitions/spec"}, "metadata": {"$ref": "#/definitions/missing"}}
                },
                "bar": {
                    "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Bar"}],
                    "properties": {"loop": {"$ref": "#/definitions/loop"}}
                },
                "loop": {"$ref": "#/definitions/loop"},
                "spec": {
                    "properties": {
                        "items": {
                            "type": "array",
                            "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-patch-merge-key": "name",
                            "items": {"$ref": "#/definitions/item"}
                        },
                        "tags": {"type": "array", "x-kubernetes-patch-strategy": "merge"},
                        "plain": {"type": "array", "items": {"type": "string"}},
                        "byName": {"type": "object", "additionalProperties": {"$ref": "#/definitions/item"}}
                    }
                },
                "item": {
                    "properties": {
                        "ports": {
                            "type": "array",
                            "x-kubernetes-patch-strategy": "merge,retainKeys",
                            "x-kubernetes-patch-merge-key": "port",
                            "x-kubernetes-list-map-keys": ["port", "protocol"]
                        }
                    }
                }
            }
        });
        OpenApiSchema::from_json(&doc).unwrap_or_default()
    }

    #[test]
    fn lists_merge_by_the_documents_keys_through_refs() {
        let s = schema();
        let m = s.meta_for("example.com/v1", "Foo");
        assert!(m.is_defined());
        assert_eq!(m.list_strategy(&["spec", "items"]), ListStrategy::MergeByKeys(vec!["name".into()]));
        let ports = ListStrategy::MergeByKeys(vec!["port".into(), "protocol".into()]);
        assert_eq!(m.list_strategy(&["spec", "items", "ports"]), ports);
        assert_eq!(m.list_strategy(&["spec", "byName", "x", "ports"]), ports);
        assert_eq!(m.list_strategy(&["spec", "tags"]), ListStrategy::MergeSet);
        assert_eq!(m.list_strategy(&["spec", "plain"]), ListStrategy::Replace);
        assert_eq!(m.list_strategy(&["metadata", "finalizers"]), ListStrategy::Replace);
    }

    #[test]
    fn undefined_kinds_and_reference_cycles_replace() {
        let s = schema();
        assert!(!s.meta_for("apps/v1", "Deployment").is_defined());
        let d = s.meta_for("apps/v1", "Deployment");
        assert_eq!(d.list_strategy(&["spec", "template", "spec", "containers"]), ListStrategy::Replace);
        let bar = s.meta_for("v1", "Bar");
        assert!(bar.is_defined());
        assert_eq!(bar.list_strategy(&["loop", "x"]), ListStrategy::Replace);
    }

    #[test]
    fn malformed_definitions_are_an_error() {
        assert!(OpenApiSchema::from_json(&serde_json::json!({"definitions": 5})).is_err());
        assert!(OpenApiSchema::from_json(&Json::Null).is_err());
        assert!(OpenApiSchema::from_json(&serde_json::json!({"swagger": "2.0"})).is_ok_and(|s| s.kinds.is_empty()));
    }
}
