//! Transformer configurations (`configurations:` files): extra field specs for the builtin
//! transformers, typically for custom resources (a HelmRelease's `valuesFrom` naming a
//! generated ConfigMap). The builtin tables stay as they are; these are consulted as well.
//! Configurations accumulate: a base's apply in every overlay above it, as in kustomize.
//! The `crds:` field gives the same kind of field specs as OpenAPI definitions whose
//! properties carry kustomize's `x-kubernetes-*` extensions.

use crate::rules::Rule;
use crate::source::{Mapping, Node, Value};

use super::diag::Diag;
use super::kustomization::CustomField;

/// A `nameReference` entry: fields (`specs`) that hold the name of a `kind` object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NameRefConfig {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: String,
    pub specs: Vec<CustomField>,
}

/// Extra field specs per builtin transformer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransformerConfig {
    pub name_reference: Vec<NameRefConfig>,
    pub common_labels: Vec<CustomField>,
    pub common_annotations: Vec<CustomField>,
    pub name_prefix: Vec<CustomField>,
    pub name_suffix: Vec<CustomField>,
    pub namespace: Vec<CustomField>,
    pub images: Vec<CustomField>,
    pub replicas: Vec<CustomField>,
    pub var_reference: Vec<CustomField>,
}

fn invalid(n: &Node, msg: impl Into<String>) -> Diag {
    Diag::fatal(Rule::KustomizationInvalid, n.loc, msg)
}

fn opt_string(m: &Mapping, key: &str) -> Result<Option<String>, Diag> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match &v.value {
            Value::Str(s) => Ok(Some(s.clone())),
            Value::Null(_) => Ok(None),
            _ => Err(invalid(v, format!("'{key}' must be a string"))),
        },
    }
}

/// Parses a list of field specs (`path`, `group`, `version`, `kind`, `create`).
pub fn field_specs(n: &Node, what: &str) -> Result<Vec<CustomField>, Diag> {
    if n.is_null() {
        return Ok(Vec::new());
    }
    let seq = n.as_seq().ok_or_else(|| invalid(n, format!("'{what}' must be a list of field specs")))?;
    let mut out = Vec::new();
    for item in seq {
        let m = item.as_map().ok_or_else(|| invalid(item, "a field spec must be a map"))?;
        let path = opt_string(m, "path")?.ok_or_else(|| invalid(item, "a field spec needs a 'path'"))?;
        let create = match m.get("create") {
            None => false,
            Some(c) => c.as_bool().ok_or_else(|| invalid(c, "'create' must be true or false"))?,
        };
        out.push(CustomField {
            group: opt_string(m, "group")?,
            version: opt_string(m, "version")?,
            kind: opt_string(m, "kind")?,
            path,
            create,
        });
    }
    Ok(out)
}

/// One OpenAPI definition of a `crds:` file (`{"Schema": {...}, "Dependencies": [...]}`).
fn definition_props<'a>(
    defs: &'a serde_json::Value,
    name: &str,
) -> Option<&'a serde_json::Map<String, serde_json::Value>> {
    defs.get(name)?.get("Schema")?.get("properties")?.as_object()
}

impl TransformerConfig {
    /// The field specs a `crds:` file declares: for each definition that looks like a
    /// Kubernetes type (has `kind`, `apiVersion` and `metadata` properties), its properties
    /// marked `x-kubernetes-annotation` (annotations), `x-kubernetes-label-selector` (labels),
    /// `x-kubernetes-identity` (name prefix) and `x-kubernetes-object-ref-kind` with
    /// `-api-version` (a name reference), following `$ref`s into nested definitions. The kind is
    /// the type name after its last dot; kustomize matches no group or version for it.
    pub fn from_openapi_definitions(defs: &serde_json::Value) -> TransformerConfig {
        let mut c = TransformerConfig::default();
        let Some(all) = defs.as_object() else { return c };
        for (name, _) in all {
            let Some(props) = definition_props(defs, name) else { continue };
            if !["kind", "apiVersion", "metadata"].iter().all(|k| props.contains_key(*k)) {
                continue;
            }
            let kind = name.rsplit('.').next().unwrap_or(name).to_string();
            let mut seen = vec![name.clone()];
            c.load_definition(defs, name, &kind, &[], &mut seen);
        }
        c
    }

    fn load_definition(
        &mut self,
        defs: &serde_json::Value,
        name: &str,
        kind: &str,
        path: &[String],
        seen: &mut Vec<String>,
    ) {
        let Some(props) = definition_props(defs, name) else { return };
        let spec =
            |p: &[String]| CustomField { kind: Some(kind.to_string()), path: p.join("/"), ..CustomField::default() };
        let add = |into: &mut Vec<CustomField>, f: CustomField| {
            if !into.contains(&f) {
                into.push(f);
            }
        };
        for (prop, schema) in props {
            let mut here = path.to_vec();
            here.push(prop.clone());
            let ext = |k: &str| schema.get(k).and_then(serde_json::Value::as_str);
            if ext("x-kubernetes-annotation").is_some() {
                add(&mut self.common_annotations, spec(&here));
            }
            if ext("x-kubernetes-label-selector").is_some() {
                add(&mut self.common_labels, spec(&here));
            }
            if ext("x-kubernetes-identity").is_some() {
                add(&mut self.name_prefix, spec(&here));
            }
            if let (Some(version), Some(target)) =
                (ext("x-kubernetes-object-ref-api-version"), ext("x-kubernetes-object-ref-kind"))
            {
                let mut at = here.clone();
                at.push(ext("x-kubernetes-object-ref-name-key").unwrap_or("name").to_string());
                self.name_reference.push(NameRefConfig {
                    group: None,
                    version: Some(version.to_string()),
                    kind: target.to_string(),
                    specs: vec![spec(&at)],
                });
            }
            if let Some(r) = schema.get("$ref").and_then(serde_json::Value::as_str)
                && !seen.iter().any(|s| s == r)
            {
                seen.push(r.to_string());
                self.load_definition(defs, r, kind, &here, seen);
                seen.pop();
            }
        }
    }

    /// Parses one configuration document.
    pub fn parse(doc: &Node) -> Result<TransformerConfig, Diag> {
        let mut c = TransformerConfig::default();
        if doc.is_null() {
            return Ok(c);
        }
        let m = doc.as_map().ok_or_else(|| invalid(doc, "a transformer configuration must be a map"))?;
        for (key, v) in m {
            match key.as_str() {
                "nameReference" => {
                    if v.is_null() {
                        continue;
                    }
                    let seq = v.as_seq().ok_or_else(|| invalid(v, "'nameReference' must be a list"))?;
                    for item in seq {
                        let im = item.as_map().ok_or_else(|| invalid(item, "a nameReference entry must be a map"))?;
                        let kind = opt_string(im, "kind")?
                            .ok_or_else(|| invalid(item, "a nameReference entry needs 'kind'"))?;
                        let specs = match im.get("fieldSpecs") {
                            Some(f) => field_specs(f, "fieldSpecs")?,
                            None => Vec::new(),
                        };
                        c.name_reference.push(NameRefConfig {
                            group: opt_string(im, "group")?,
                            version: opt_string(im, "version")?,
                            kind,
                            specs,
                        });
                    }
                }
                "commonLabels" => c.common_labels = field_specs(v, key)?,
                "commonAnnotations" => c.common_annotations = field_specs(v, key)?,
                "namePrefix" => c.name_prefix = field_specs(v, key)?,
                "nameSuffix" => c.name_suffix = field_specs(v, key)?,
                "namespace" => c.namespace = field_specs(v, key)?,
                "images" => c.images = field_specs(v, key)?,
                "replicas" => c.replicas = field_specs(v, key)?,
                "varReference" => c.var_reference = field_specs(v, key)?,
                // Accepted by kustomize, used by nothing fluxgate renders.
                "templateLabels" | "commonSelectors" | "labels" | "annotations" => {}
                other => {
                    return Err(Diag::fatal(
                        Rule::KustomizationUnknownField,
                        v.loc,
                        format!("unknown field '{other}' in transformer configuration"),
                    ));
                }
            }
        }
        Ok(c)
    }

    /// Adds another configuration's specs (duplicates are harmless: each spec is idempotent).
    pub fn merge(&mut self, o: &TransformerConfig) {
        fn add(into: &mut Vec<CustomField>, from: &[CustomField]) {
            for f in from {
                if !into.contains(f) {
                    into.push(f.clone());
                }
            }
        }
        for n in &o.name_reference {
            match self.name_reference.iter_mut().find(|x| x.kind == n.kind && x.group == n.group) {
                Some(x) => add(&mut x.specs, &n.specs),
                None => self.name_reference.push(n.clone()),
            }
        }
        add(&mut self.common_labels, &o.common_labels);
        add(&mut self.common_annotations, &o.common_annotations);
        add(&mut self.name_prefix, &o.name_prefix);
        add(&mut self.name_suffix, &o.name_suffix);
        add(&mut self.namespace, &o.namespace);
        add(&mut self.images, &o.images);
        add(&mut self.replicas, &o.replicas);
        add(&mut self.var_reference, &o.var_reference);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    #[test]
    fn crd_definitions_give_field_specs() {
        let defs = serde_json::json!({
            "x.io/v1.Gizmo": {"Schema": {"properties": {
                "kind": {}, "apiVersion": {}, "metadata": {},
                "spec": {"$ref": "x.io/v1.GizmoSpec"}}}},
            "x.io/v1.GizmoSpec": {"Schema": {"properties": {
                "cfg": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "ConfigMap"},
                "sel": {"x-kubernetes-label-selector": ""},
                "loop": {"$ref": "x.io/v1.GizmoSpec"}}}},
            "x.io/v1.NotAType": {"Schema": {"properties": {"cfg": {"x-kubernetes-identity": ""}}}}
        });
        let c = TransformerConfig::from_openapi_definitions(&defs);
        assert_eq!(c.name_reference.len(), 1);
        assert_eq!(c.name_reference[0].kind, "ConfigMap");
        assert_eq!(c.name_reference[0].specs[0].path, "spec/cfg/name");
        assert_eq!(c.name_reference[0].specs[0].kind.as_deref(), Some("Gizmo"));
        assert_eq!(c.common_labels.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["spec/sel"]);
        assert!(c.name_prefix.is_empty());
    }

    #[test]
    fn parses_and_merges() {
        let doc = parse(
            "nameReference:\n- kind: ConfigMap\n  fieldSpecs:\n  - {kind: HelmRelease, path: spec/valuesFrom/name}\ncommonLabels:\n- {kind: App, path: spec/labels, create: true}\n",
            FileId(0),
            Dialect::Yaml11,
            &Limits::default(),
        )
        .docs
        .remove(0);
        let c = TransformerConfig::parse(&doc).unwrap_or_default();
        assert_eq!(c.name_reference[0].specs[0].path, "spec/valuesFrom/name");
        assert!(c.common_labels[0].create);
        let mut all = TransformerConfig::default();
        all.merge(&c);
        all.merge(&c);
        assert_eq!(all.name_reference[0].specs.len(), 1);
        assert!(
            TransformerConfig::parse(&parse("bogus: []\n", FileId(0), Dialect::Yaml11, &Limits::default()).docs[0])
                .is_err()
        );
    }
}
