//! CustomResourceDefinitions found in the repository: which versions they serve, and their
//! `openAPIV3Schema` turned into a strict JSON Schema for [`super::validate::compile`].
//!
//! Strict means what the API server does with `fieldValidation=Strict` (kubectl's default):
//! a field the structural schema does not declare is an error, not silently pruned. kubeconform
//! and friends validate CRDs non-strictly and miss typos; this is why fluxgate converts itself.

use serde_json::{Map, Value, json};

use crate::source::node::Node;

/// One version of a CRD: enough to find the schema for an object's `apiVersion`/`kind` and to
/// warn about deprecated or unserved versions.
#[derive(Clone, Debug, PartialEq)]
pub struct CrdVersion {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub served: bool,
    pub deprecated: bool,
    pub deprecation_warning: Option<String>,
    /// The version's `openAPIV3Schema`, as written (convert with [`crd_to_json_schema`]).
    pub schema: Option<Value>,
    pub scope_namespaced: bool,
}

/// The versions a CRD document defines (`apiextensions.k8s.io/v1`, or `v1beta1` with its
/// top-level `spec.validation` / `spec.version`). Anything that is not a CRD yields nothing.
pub fn crd_versions(crd: &Node) -> Vec<CrdVersion> {
    let api = crd.str_at(&["apiVersion"]).unwrap_or_default();
    if !api.starts_with("apiextensions.k8s.io/") || crd.str_at(&["kind"]) != Some("CustomResourceDefinition") {
        return Vec::new();
    }
    let Some(spec) = crd.get("spec") else { return Vec::new() };
    let group = spec.str_at(&["group"]).unwrap_or_default().to_string();
    let kind = spec.str_at(&["names", "kind"]).unwrap_or_default().to_string();
    // v1 requires `scope`; v1beta1 defaults to Namespaced.
    let scope_namespaced = spec.str_at(&["scope"]) != Some("Cluster");
    let shared_schema = spec.path(&["validation", "openAPIV3Schema"]).map(Node::to_json);
    let mut out = Vec::new();
    match spec.get("versions").and_then(Node::as_seq) {
        Some(versions) if !versions.is_empty() => {
            for v in versions {
                let Some(name) = v.str_at(&["name"]) else { continue };
                out.push(CrdVersion {
                    group: group.clone(),
                    version: name.to_string(),
                    kind: kind.clone(),
                    served: v.get("served").and_then(Node::as_bool).unwrap_or(true),
                    deprecated: v.get("deprecated").and_then(Node::as_bool).unwrap_or(false),
                    deprecation_warning: v.str_at(&["deprecationWarning"]).map(str::to_string),
                    schema: v.path(&["schema", "openAPIV3Schema"]).map(Node::to_json).or_else(|| shared_schema.clone()),
                    scope_namespaced,
                });
            }
        }
        _ => {
            if let Some(name) = spec.str_at(&["version"]) {
                out.push(CrdVersion {
                    group,
                    version: name.to_string(),
                    kind,
                    served: true,
                    deprecated: false,
                    deprecation_warning: None,
                    schema: shared_schema,
                    scope_namespaced,
                });
            }
        }
    }
    out
}

/// Converts a structural `openAPIV3Schema` into a strict JSON Schema (2020-12).
///
/// - an object schema with `properties`, no `additionalProperties` and no
///   `x-kubernetes-preserve-unknown-fields: true` gets `additionalProperties: false`;
/// - `x-kubernetes-preserve-unknown-fields` allows extra fields (and any type when untyped);
/// - `x-kubernetes-int-or-string` becomes `anyOf: [integer, string]`;
/// - `x-kubernetes-embedded-resource` requires `apiVersion`/`kind`/`metadata`;
/// - `nullable: true` allows null; OpenAPI 3.0's boolean `exclusiveMinimum`/`Maximum` become
///   the numeric form; descriptions, examples and defaults are dropped (they never validate);
/// - at the top level `apiVersion`, `kind`, `metadata` (any object) and `status` are allowed.
///
/// Schemas under `allOf`/`anyOf`/`oneOf`/`not` are value validations in a structural schema,
/// so they are never made strict (they constrain, they do not declare the object's fields).
pub fn crd_to_json_schema(open_api_v3: &Value) -> Value {
    let mut root = convert(open_api_v3, false, 0);
    if let Value::Object(m) = &mut root {
        let preserve = open_api_v3.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
        let had_props = open_api_v3.get("properties").is_some_and(Value::is_object);
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(p) = props {
            p.insert("apiVersion".into(), json!({"type": "string"}));
            p.insert("kind".into(), json!({"type": "string"}));
            // ObjectMeta is the API server's; the CRD may only narrow name/generateName.
            p.insert("metadata".into(), json!({"type": "object"}));
            // Status is written by the controller (and dropped on create with a status subresource).
            p.insert("status".into(), json!({}));
        }
        if !had_props && !preserve && !m.contains_key("additionalProperties") {
            // A CRD that declares no fields at all (`type: object`) is treated as unchecked rather
            // than rejecting every field: strictness applies to shapes the CRD actually declares.
            m.insert("additionalProperties".into(), Value::Bool(true));
        }
        m.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    }
    root
}

/// Bounds recursion on hostile input (a real CRD nests a few dozen levels at most).
const MAX_DEPTH: usize = 200;

// long: one arm per OpenAPI v3 keyword of a CRD schema; the keywords share the recursion state.
fn convert(s: &Value, in_logic: bool, depth: usize) -> Value {
    let Value::Object(src) = s else { return s.clone() };
    if depth > MAX_DEPTH {
        return json!({});
    }
    let flag = |k: &str| src.get(k).and_then(Value::as_bool) == Some(true);
    let preserve = flag("x-kubernetes-preserve-unknown-fields");
    let int_or_string = flag("x-kubernetes-int-or-string");
    let embedded = flag("x-kubernetes-embedded-resource");
    let nullable = flag("nullable");
    let mut out = Map::new();
    for (k, v) in src {
        match k.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" => {
                if let Value::Object(props) = v {
                    let conv = props.iter().map(|(n, p)| (n.clone(), convert(p, false, depth + 1))).collect();
                    out.insert(k.clone(), Value::Object(conv));
                }
            }
            "items" => {
                // OpenAPI allows a list of schemas; structural schemas do not, and 2020-12 calls it prefixItems.
                match v {
                    Value::Array(a) => {
                        out.insert(
                            "prefixItems".into(),
                            Value::Array(a.iter().map(|x| convert(x, false, depth + 1)).collect()),
                        );
                    }
                    _ => {
                        out.insert(k.clone(), convert(v, false, depth + 1));
                    }
                }
            }
            "additionalProperties" => {
                out.insert(k.clone(), convert(v, false, depth + 1));
            }
            "allOf" | "anyOf" | "oneOf" => {
                if let Value::Array(a) = v {
                    out.insert(k.clone(), Value::Array(a.iter().map(|x| convert(x, true, depth + 1)).collect()));
                }
            }
            "not" => {
                out.insert(k.clone(), convert(v, true, depth + 1));
            }
            "x-kubernetes-list-type" | "x-kubernetes-list-map-keys" => {
                out.insert(k.clone(), v.clone());
            }
            "exclusiveMinimum" | "exclusiveMaximum" => {
                // OpenAPI 3.0: a boolean that modifies minimum/maximum.
                if v.is_number() {
                    out.insert(k.clone(), v.clone());
                }
            }
            "format" => {
                // int32/int64/float/double constrain numbers Kubernetes-side only by range; the
                // string formats the validator knows are checked leniently in `compile`.
                if let Some(f) = v.as_str()
                    && matches!(f, "date-time" | "date" | "byte" | "duration" | "ipv4" | "ipv6" | "uuid")
                {
                    out.insert(k.clone(), v.clone());
                }
            }
            "pattern" => {
                // The API server compiles it as a Go regular expression.
                let p = v.as_str().map(|p| Value::String(super::gopattern::to_rust(p).into_owned()));
                out.insert(k.clone(), p.unwrap_or_else(|| v.clone()));
            }
            "type" => {
                if !int_or_string {
                    out.insert(k.clone(), v.clone());
                }
            }
            "description" | "example" | "examples" | "default" | "title" | "externalDocs" | "nullable" | "$ref"
            | "$schema" | "id" | "$id" | "discriminator" | "readOnly" | "writeOnly" | "xml" | "deprecated" => {}
            _ if k.starts_with("x-") => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    for (bound, excl) in [("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")] {
        if src.get(excl).and_then(Value::as_bool) == Some(true)
            && let Some(limit) = out.remove(bound)
        {
            out.insert(excl.into(), limit);
        }
    }
    if int_or_string {
        out.remove("type");
        let alt = json!([{"type": "integer"}, {"type": "string"}]);
        if out.contains_key("anyOf") {
            let mut all = out
                .remove("allOf")
                .and_then(|a| if let Value::Array(a) = a { Some(a) } else { None })
                .unwrap_or_default();
            all.push(json!({"anyOf": alt}));
            out.insert("allOf".into(), Value::Array(all));
        } else {
            out.insert("anyOf".into(), alt);
        }
    }
    if embedded {
        out.insert("type".into(), json!("object"));
        let mut req: Vec<Value> = out.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
        for f in ["apiVersion", "kind", "metadata"] {
            if !req.iter().any(|r| r == f) {
                req.push(json!(f));
            }
        }
        out.insert("required".into(), Value::Array(req));
        if let Some(Value::Object(p)) = out.get_mut("properties") {
            p.entry("apiVersion").or_insert_with(|| json!({"type": "string"}));
            p.entry("kind").or_insert_with(|| json!({"type": "string"}));
            p.insert("metadata".into(), json!({"type": "object"}));
        }
    }
    let is_object = out.get("type").and_then(Value::as_str) == Some("object") || out.contains_key("properties");
    if is_object
        && !in_logic
        && !preserve
        && out.contains_key("properties")
        && !out.contains_key("additionalProperties")
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if nullable {
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(e)) = out.get_mut("enum")
            && !e.contains(&Value::Null)
        {
            e.push(Value::Null);
        }
        if int_or_string && let Some(Value::Array(a)) = out.get_mut("anyOf") {
            a.push(json!({"type": "null"}));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::validate::compile;
    use crate::schema::{SchemaViolation, display_path};
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn yaml(text: &str) -> Node {
        let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        parsed.docs.into_iter().next().expect("one document")
    }

    fn check(schema_yaml: &str, obj: &str) -> Vec<(String, &'static str, String)> {
        let schema = crd_to_json_schema(&yaml(schema_yaml).to_json());
        let compiled = compile(schema.clone()).unwrap_or_else(|e| panic!("{e}: {schema:#}"));
        let v: Vec<SchemaViolation> = compiled.validate(&yaml(obj));
        v.into_iter().map(|v| (display_path(&v.path), v.rule.id(), v.message)).collect()
    }

    const APP: &str = "\
type: object
properties:
  spec:
    type: object
    required: [port]
    properties:
      port:
        x-kubernetes-int-or-string: true
        anyOf: [{type: integer}, {type: string}]
      interval:
        type: string
        pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'
      mode:
        type: string
        enum: [fast, slow]
      replicas:
        type: integer
        format: int32
        minimum: 0
        exclusiveMinimum: true
      values:
        type: object
        x-kubernetes-preserve-unknown-fields: true
      extra:
        x-kubernetes-preserve-unknown-fields: true
      template:
        type: object
        x-kubernetes-embedded-resource: true
        x-kubernetes-preserve-unknown-fields: true
      note:
        type: string
        nullable: true
      created:
        type: string
        format: date-time
      rules:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [name, port]
        items:
          type: object
          properties:
            name: {type: string}
            port: {type: integer}
";

    const GOOD: &str = "\
apiVersion: example.com/v1
kind: App
metadata:
  name: a
  namespace: b
  labels: {x: y}
spec:
  port: 80
  interval: 5m
  mode: fast
  replicas: 2
  values: {anything: {goes: [1, 2]}}
  extra: [1, 2, 3]
  template:
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c}
    data: {k: v}
  note: null
  created: 2024-01-01T00:00:00Z
  rules:
    - {name: a, port: 1}
    - {name: a, port: 2}
status:
  whatever: true
";

    #[test]
    fn good_object_passes() {
        assert_eq!(check(APP, GOOD), vec![]);
        assert_eq!(check(APP, &GOOD.replace("port: 80", "port: http")), vec![]);
    }

    #[test]
    fn unknown_field_without_additional_properties_false() {
        let v = check(APP, &GOOD.replace("  mode: fast", "  mdoe: fast"));
        assert_eq!(v, vec![("spec.mdoe".into(), "schema-unknown-field", "unknown field 'mdoe'".into())]);
        let v = check(APP, &GOOD.replace("spec:\n", "spce: {}\nspec:\n"));
        assert_eq!(v, vec![("spce".into(), "schema-unknown-field", "unknown field 'spce'".into())]);
    }

    #[test]
    fn did_you_mean_in_crd() {
        let schema = crd_to_json_schema(&yaml(APP).to_json());
        let s = compile(schema).expect("compiles");
        let v = s.validate(&yaml(&GOOD.replace("  mode: fast", "  mdoe: fast")));
        assert_eq!(v[0].help.as_deref(), Some("did you mean 'mode'?"));
    }

    #[test]
    fn value_type_and_required_errors() {
        let text = GOOD
            .replace("  port: 80\n", "")
            .replace("interval: 5m", "interval: 5 minutes")
            .replace("mode: fast", "mode: medium")
            .replace("replicas: 2", "replicas: 0")
            .replace("note: null", "note: [x]")
            .replace("created: 2024-01-01T00:00:00Z", "created: yesterday");
        let rules: Vec<(String, &str)> = check(APP, &text).into_iter().map(|(p, r, _)| (p, r)).collect();
        assert_eq!(
            rules,
            vec![
                ("spec".into(), "schema-required"),
                ("spec.created".into(), "schema-invalid-value"),
                ("spec.interval".into(), "schema-invalid-value"),
                ("spec.mode".into(), "schema-invalid-value"),
                ("spec.note".into(), "schema-invalid-type"),
                ("spec.replicas".into(), "schema-invalid-value"),
            ]
        );
    }

    #[test]
    fn int_or_string_rejects_other_types() {
        let v = check(APP, &GOOD.replace("port: 80", "port: {a: 1}"));
        assert_eq!(
            v,
            vec![("spec.port".into(), "schema-invalid-type", "expected integer or string, found an object".into())]
        );
        // Without an explicit anyOf in the CRD.
        let bare = APP.replace("        anyOf: [{type: integer}, {type: string}]\n", "");
        assert_eq!(check(&bare, GOOD), vec![]);
        assert_eq!(check(&bare, &GOOD.replace("port: 80", "port: 8.5")).len(), 1);
    }

    #[test]
    fn duplicate_list_map_key() {
        let v = check(APP, &GOOD.replace("{name: a, port: 2}", "{name: a, port: 1}"));
        assert_eq!(
            v,
            vec![(
                "spec.rules[1]".into(),
                "schema-duplicate-list-key",
                "duplicate entry with name=\"a\", port=1 (first at index 0)".into()
            )]
        );
    }

    #[test]
    fn flux_variable_in_integer_field() {
        assert_eq!(check(APP, &GOOD.replace("replicas: 2", "replicas: ${REPLICAS}")), vec![]);
        assert_eq!(check(APP, &GOOD.replace("mode: fast", "mode: ${MODE:=fast}")), vec![]);
    }

    #[test]
    fn embedded_resource_needs_type_meta() {
        let v = check(APP, &GOOD.replace("    apiVersion: v1\n    kind: ConfigMap\n", ""));
        assert_eq!(
            v,
            vec![
                ("spec.template".into(), "schema-required", "missing required field 'apiVersion'".into()),
                ("spec.template".into(), "schema-required", "missing required field 'kind'".into()),
            ]
        );
    }

    #[test]
    fn sops_manifest_is_excluded() {
        let text = format!("{GOOD}sops:\n  mac: ENC[x]\n  version: 3.9.0\n");
        assert_eq!(check(APP, &text), vec![]);
        let text =
            format!("{}sops:\n  mac: x\n", GOOD.replace("replicas: 2", "replicas: ENC[AES256_GCM,data:Mg==,type:int]"));
        assert_eq!(check(APP, &text), vec![]);
    }

    #[test]
    fn logic_branches_are_not_strict() {
        let schema = "\
type: object
properties:
  spec:
    type: object
    properties:
      a: {type: string}
      b: {type: string}
    oneOf:
      - properties: {a: {type: string}}
        required: [a]
      - required: [b]
";
        let obj = "apiVersion: x/v1\nkind: X\nmetadata: {name: n}\nspec: {a: x}\n";
        assert_eq!(check(schema, obj), vec![]);
    }

    #[test]
    fn crd_versions_v1_and_v1beta1() {
        let v1 = yaml(
            "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: apps.example.com}
spec:
  group: example.com
  names: {kind: App, plural: apps}
  scope: Cluster
  versions:
    - name: v1beta1
      served: true
      storage: false
      deprecated: true
      deprecationWarning: use v1
      schema:
        openAPIV3Schema: {type: object}
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, properties: {spec: {type: object}}}
",
        );
        let vs = crd_versions(&v1);
        assert_eq!(vs.len(), 2);
        assert_eq!(
            (vs[0].group.as_str(), vs[0].version.as_str(), vs[0].kind.as_str()),
            ("example.com", "v1beta1", "App")
        );
        assert!(vs[0].deprecated && vs[0].served && !vs[0].scope_namespaced);
        assert_eq!(vs[0].deprecation_warning.as_deref(), Some("use v1"));
        assert!(vs[1].schema.as_ref().is_some_and(|s| s.pointer("/properties/spec").is_some()));

        let beta = yaml(
            "\
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: olds.example.com}
spec:
  group: example.com
  version: v1alpha1
  names: {kind: Old}
  validation:
    openAPIV3Schema: {type: object, properties: {spec: {type: object}}}
",
        );
        let vs = crd_versions(&beta);
        assert_eq!(vs.len(), 1);
        assert!(vs[0].scope_namespaced && vs[0].served && vs[0].schema.is_some());
        assert!(crd_versions(&yaml("apiVersion: v1\nkind: ConfigMap\n")).is_empty());
    }

    #[test]
    fn hostile_schemas_do_not_panic() {
        for s in
            ["[]", "42", "{type: 7}", "{properties: 3}", "{items: [1, {type: string}]}", "{exclusiveMinimum: true}"]
        {
            let converted = crd_to_json_schema(&yaml(s).to_json());
            let _ = compile(converted);
        }
        let mut deep = json!({"type": "string"});
        for _ in 0..500 {
            deep = json!({"type": "object", "properties": {"a": deep}});
        }
        let _ = compile(crd_to_json_schema(&deep));
    }
}
