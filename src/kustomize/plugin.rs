//! `transformers:` and `generators:` entries. Plain builtin plugin configurations
//! (`apiVersion: builtin`, e.g. `PrefixSuffixTransformer`, `ConfigMapGenerator`) are parsed
//! into the same specs the kustomization fields use, and run in the order listed, after the
//! kustomization's own transformers (or generators), as kustomize does. Anything else (exec or
//! KRM function plugins, Helm inflation) is never executed: it is reported as skipped.

use crate::rules::Rule;
use crate::source::{Loc, Mapping, Node, Value};

use super::config::field_specs;
use super::diag::Diag;
use super::kustomization::{
    CustomField, GeneratorSpec, ImageSpec, Located, PatchSpec, ReplacementEntry, ReplicaSpec, generator_from,
    parse_replacement, patch_from,
};

/// One builtin plugin configuration, ready to run.
#[derive(Clone, Debug)]
pub enum PluginConfig {
    Generator(GeneratorSpec),
    Patches { kind: &'static str, patches: Vec<PatchSpec> },
    Affix { prefix: String, suffix: String, fields: Vec<CustomField> },
    Labels { pairs: Vec<(String, Node)>, fields: Vec<CustomField> },
    Annotations { pairs: Vec<(String, Node)>, fields: Vec<CustomField> },
    Namespace { namespace: Located, fields: Vec<CustomField>, options: super::transform::namespace::Options },
    Image { image: ImageSpec, fields: Vec<CustomField> },
    Replicas { replica: ReplicaSpec, fields: Vec<CustomField> },
    Replacements(Vec<ReplacementEntry>),
}

impl PluginConfig {
    /// The builtin kind, as kustomize records it in `alpha.config.kubernetes.io/transformations`.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginConfig::Generator(g) if g.is_secret => "SecretGenerator",
            PluginConfig::Generator(_) => "ConfigMapGenerator",
            PluginConfig::Patches { kind, .. } => kind,
            PluginConfig::Affix { .. } => "PrefixSuffixTransformer",
            PluginConfig::Labels { .. } => "LabelTransformer",
            PluginConfig::Annotations { .. } => "AnnotationsTransformer",
            PluginConfig::Namespace { .. } => "NamespaceTransformer",
            PluginConfig::Image { .. } => "ImageTagTransformer",
            PluginConfig::Replicas { .. } => "ReplicaCountTransformer",
            PluginConfig::Replacements(_) => "ReplacementTransformer",
        }
    }
}

fn invalid(loc: Loc, msg: impl Into<String>) -> Diag {
    Diag::fatal(Rule::KustomizationInvalid, loc, msg)
}

fn str_field(m: &Mapping, key: &str) -> Option<String> {
    m.get(key).and_then(Node::as_str).map(str::to_string)
}

fn pairs(m: &Mapping, key: &str) -> Vec<(String, Node)> {
    let Some(map) = m.get(key).and_then(Node::as_map) else { return Vec::new() };
    map.iter()
        .map(|(k, v)| {
            let s = match &v.value {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Float(f) => f.to_string(),
                _ => String::new(),
            };
            (k.clone(), Node::string(s, v.loc))
        })
        .collect()
}

fn specs(m: &Mapping) -> Result<Vec<CustomField>, Diag> {
    m.get("fieldSpecs").map(|f| field_specs(f, "fieldSpecs")).transpose().map(Option::unwrap_or_default)
}

/// Why a document is not run, for the `render-skipped` note; `Ok(None)` when it is.
pub type Parsed = Result<Result<PluginConfig, String>, Diag>;

/// Parses one plugin configuration document. `Ok(Err(reason))`: not a builtin fluxgate runs.
pub fn parse(doc: &Node) -> Parsed {
    let m = doc.as_map().ok_or_else(|| invalid(doc.loc, "a plugin configuration must be a map"))?;
    let api = str_field(m, "apiVersion").unwrap_or_default();
    let kind = str_field(m, "kind").unwrap_or_default();
    let loc = doc.loc;
    if api != "builtin" {
        let exec = doc.path(&["metadata", "annotations", "config.kubernetes.io/function"]).is_some();
        let what = if exec { "a KRM function or exec plugin" } else { "not a builtin plugin" };
        return Ok(Err(format!(
            "'{kind}' ({api}) is {what}; fluxgate never executes plugins, so its effect is not rendered"
        )));
    }
    let meta = doc.get("metadata").and_then(Node::as_map);
    let meta_str = |k: &str| meta.and_then(|mm| str_field(mm, k));
    let config = match kind.as_str() {
        "ConfigMapGenerator" | "SecretGenerator" => PluginConfig::Generator(generator_from(
            doc,
            kind == "SecretGenerator",
            meta_str("name"),
            meta_str("namespace"),
        )?),
        "PatchTransformer" => {
            PluginConfig::Patches { kind: "PatchTransformer", patches: vec![patch_from(doc, false)?] }
        }
        "PatchJson6902Transformer" => {
            PluginConfig::Patches { kind: "PatchJson6902Transformer", patches: vec![patch_from(doc, true)?] }
        }
        "PatchStrategicMergeTransformer" => {
            let mut out = Vec::new();
            for p in m.get("paths").and_then(Node::as_seq).into_iter().flatten() {
                out.push(patch_from_path(p)?);
            }
            if let Some(p) = m.get("patches").filter(|p| !p.is_null()) {
                let text = p.as_str().ok_or_else(|| invalid(p.loc, "'patches' must be a string"))?;
                out.push(super::kustomization::inline_patch(text, p.loc));
            }
            PluginConfig::Patches { kind: "PatchStrategicMergeTransformer", patches: out }
        }
        "PrefixSuffixTransformer" => PluginConfig::Affix {
            prefix: str_field(m, "prefix").unwrap_or_default(),
            suffix: str_field(m, "suffix").unwrap_or_default(),
            fields: specs(m)?,
        },
        "LabelTransformer" => PluginConfig::Labels { pairs: pairs(m, "labels"), fields: specs(m)? },
        "AnnotationsTransformer" => PluginConfig::Annotations { pairs: pairs(m, "annotations"), fields: specs(m)? },
        "NamespaceTransformer" => {
            let mode = str_field(m, "setRoleBindingSubjects").unwrap_or_default();
            let subjects = super::transform::namespace::Subjects::parse(&mode).map_err(|e| invalid(loc, e))?;
            let unset_only = m.get("unsetOnly").and_then(Node::as_bool).unwrap_or(false);
            PluginConfig::Namespace {
                namespace: Located { value: meta_str("namespace").unwrap_or_default(), loc },
                fields: specs(m)?,
                options: super::transform::namespace::Options { unset_only, subjects },
            }
        }
        "ImageTagTransformer" => {
            let it = m
                .get("imageTag")
                .and_then(Node::as_map)
                .ok_or_else(|| invalid(loc, "ImageTagTransformer needs 'imageTag'"))?;
            PluginConfig::Image {
                image: ImageSpec {
                    name: str_field(it, "name").unwrap_or_default(),
                    new_name: str_field(it, "newName"),
                    new_tag: str_field(it, "newTag"),
                    digest: str_field(it, "digest"),
                    loc,
                },
                fields: specs(m)?,
            }
        }
        "ReplicaCountTransformer" => {
            let r = m
                .get("replica")
                .and_then(Node::as_map)
                .ok_or_else(|| invalid(loc, "ReplicaCountTransformer needs 'replica'"))?;
            let count = r
                .get("count")
                .and_then(Node::as_i64)
                .ok_or_else(|| invalid(loc, "'replica.count' must be an integer"))?;
            PluginConfig::Replicas {
                replica: ReplicaSpec { name: str_field(r, "name").unwrap_or_default(), count, loc },
                fields: specs(m)?,
            }
        }
        "ReplacementTransformer" => {
            let mut out = Vec::new();
            for item in m.get("replacements").and_then(Node::as_seq).into_iter().flatten() {
                match item.get("path").and_then(Node::as_str) {
                    Some(p) => out.push(ReplacementEntry::File(Located { value: p.to_string(), loc: item.loc })),
                    None => out.push(ReplacementEntry::Inline(parse_replacement(item)?)),
                }
            }
            PluginConfig::Replacements(out)
        }
        "HelmChartInflationGenerator" => {
            return Ok(Err("HelmChartInflationGenerator needs the helm binary and chart downloads; fluxgate never runs helm, so the chart's objects are missing".into()));
        }
        other => return Ok(Err(format!("builtin '{other}' is not supported by fluxgate; its effect is not rendered"))),
    };
    Ok(Ok(config))
}

fn patch_from_path(p: &Node) -> Result<PatchSpec, Diag> {
    let s = p.as_str().ok_or_else(|| invalid(p.loc, "a patch path must be a string"))?;
    Ok(super::kustomization::legacy_patch_file(Located { value: s.to_string(), loc: p.loc }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse as yparse};
    use crate::source::{FileId, Limits};

    fn doc(t: &str) -> Node {
        yparse(t, FileId(0), Dialect::Yaml11, &Limits::default()).docs.remove(0)
    }

    #[test]
    fn builtin_configs_parse_and_others_are_skipped() {
        let p = parse(&doc(
            "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata: {name: x}\nprefix: a-\nfieldSpecs: [{path: metadata/name}]\n",
        ));
        assert!(matches!(p, Ok(Ok(PluginConfig::Affix { ref prefix, .. })) if prefix == "a-"));
        let g = parse(&doc("apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: cm}\nliterals: [a=b]\n"));
        assert!(matches!(g, Ok(Ok(PluginConfig::Generator(ref s))) if s.name == "cm"));
        let e = parse(&doc(
            "apiVersion: example.com/v1\nkind: Sops\nmetadata: {name: x, annotations: {config.kubernetes.io/function: 'exec: {path: ./x}'}}\n",
        ));
        assert!(matches!(e, Ok(Err(ref why)) if why.contains("never executes")));
    }
}
