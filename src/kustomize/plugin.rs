//! `transformers:` and `generators:` entries. Plain builtin plugin configurations
//! (`apiVersion: builtin`, e.g. `PrefixSuffixTransformer`, `ConfigMapGenerator`) are parsed
//! into the same specs the kustomization fields use, and run in the order listed, after the
//! kustomization's own transformers (or generators), as kustomize does. Anything else fails
//! the build the way `kustomize build` (and Flux, which enables no plugins) fails it: external
//! (exec, KRM function) plugins are disabled, Helm inflation needs `--enable-helm`, and an
//! unknown builtin kind (also `SortOrderTransformer`, which is not wired as a plugin) cannot be
//! loaded. fluxgate never executes any of them.

use crate::rules::Rule;
use crate::source::{Loc, Mapping, Node, Value};

use super::config::field_specs;
use super::diag::{BuildFlag, Diag};
use super::kustomization::{
    CustomField, GeneratorSpec, ImageSpec, Located, PatchSpec, ReplacementEntry, ReplicaSpec, Selector, generator_from,
    parse_replacement, parse_selector, patch_from,
};

/// One builtin plugin configuration, ready to run.
#[derive(Clone, Debug)]
pub enum PluginConfig {
    Generator(GeneratorSpec),
    Patches {
        kind: &'static str,
        patches: Vec<PatchSpec>,
    },
    /// `PrefixTransformer`, `SuffixTransformer`, `PrefixSuffixTransformer` (prefix, then suffix).
    Affix {
        kind: &'static str,
        prefix: String,
        suffix: String,
        fields: Vec<CustomField>,
    },
    Labels {
        pairs: Vec<(String, Node)>,
        fields: Vec<CustomField>,
    },
    Annotations {
        pairs: Vec<(String, Node)>,
        fields: Vec<CustomField>,
    },
    Namespace {
        namespace: Located,
        fields: Vec<CustomField>,
        options: super::transform::namespace::Options,
    },
    Image {
        image: ImageSpec,
        fields: Vec<CustomField>,
    },
    Replicas {
        replica: ReplicaSpec,
        fields: Vec<CustomField>,
    },
    Replacements(Vec<ReplacementEntry>),
    /// `IAMPolicyGenerator` for GKE: one annotated ServiceAccount.
    Iam(IamPolicy),
    /// `ValueAddTransformer`: a value written into fields (or inserted into path-like values).
    ValueAdd(ValueAdd),
    /// `HashTransformer`: adds the content hash to generated objects' names now.
    Hash,
}

/// An `IAMPolicyGenerator` configuration (only `cloud: gke` exists in kustomize).
#[derive(Clone, Debug)]
pub struct IamPolicy {
    pub name: String,
    pub namespace: Option<String>,
    pub service_account: String,
    pub project: String,
}

/// A `ValueAddTransformer` configuration. `value` empty: the kustomization directory's name.
#[derive(Clone, Debug)]
pub struct ValueAdd {
    pub value: String,
    pub targets: Vec<ValueTarget>,
    /// `targetFilePath`: more targets, read from a file relative to the kustomization.
    pub target_file: Option<Located>,
}

/// One `ValueAddTransformer` target.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueTarget {
    pub selector: Option<Selector>,
    pub field_path: String,
    /// 0: replace the value; n > 0: insert as the n-th part of a `/`-separated path value.
    pub file_path_position: i64,
}

impl PluginConfig {
    /// The builtin kind, as kustomize records it in `alpha.config.kubernetes.io/transformations`.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginConfig::Generator(g) if g.is_secret => "SecretGenerator",
            PluginConfig::Generator(_) => "ConfigMapGenerator",
            PluginConfig::Patches { kind, .. } => kind,
            PluginConfig::Affix { kind, .. } => kind,
            PluginConfig::Labels { .. } => "LabelTransformer",
            PluginConfig::Annotations { .. } => "AnnotationsTransformer",
            PluginConfig::Namespace { .. } => "NamespaceTransformer",
            PluginConfig::Image { .. } => "ImageTagTransformer",
            PluginConfig::Replicas { .. } => "ReplicaCountTransformer",
            PluginConfig::Replacements(_) => "ReplacementTransformer",
            PluginConfig::Iam(_) => "IAMPolicyGenerator",
            PluginConfig::ValueAdd(_) => "ValueAddTransformer",
            PluginConfig::Hash => "HashTransformer",
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

/// Parses one plugin configuration document into a builtin fluxgate runs, or the error
/// kustomize gives for it (external plugins, Helm, unknown builtins).
pub fn parse(doc: &Node) -> Result<PluginConfig, Diag> {
    let m = doc.as_map().ok_or_else(|| invalid(doc.loc, "a plugin configuration must be a map"))?;
    let api = str_field(m, "apiVersion").unwrap_or_default();
    let kind = str_field(m, "kind").unwrap_or_default();
    let loc = doc.loc;
    if api != "builtin" {
        return Err(invalid(loc, format!("external plugins disabled; unable to load external plugin '{kind}'"))
            .help("kustomize and Flux build without plugins; fluxgate never executes them either")
            .needs(BuildFlag::Plugins));
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
            if out.is_empty() {
                return Err(invalid(loc, "PatchStrategicMergeTransformer: empty file path and empty patch content"));
            }
            PluginConfig::Patches { kind: "PatchStrategicMergeTransformer", patches: out }
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => affix(m, &kind, loc)?,
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
        "IAMPolicyGenerator" => PluginConfig::Iam(iam(m, loc)?),
        "ValueAddTransformer" => PluginConfig::ValueAdd(value_add(m, loc)?),
        "HashTransformer" => PluginConfig::Hash,
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
                    tag_suffix: str_field(it, "tagSuffix"),
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
            return Err(invalid(loc, "HelmChartInflationGenerator: must specify --enable-helm").help(
                "kustomize inflates charts only with --enable-helm, which Flux never sets; fluxgate never runs helm",
            )
            .needs(BuildFlag::Helm));
        }
        other => return Err(invalid(loc, format!("unable to load builtin {other}"))),
    };
    Ok(config)
}

/// A prefix/suffix transformer. kustomize requires its `fieldSpecs`.
fn affix(m: &Mapping, kind: &str, loc: Loc) -> Result<PluginConfig, Diag> {
    if m.get("fieldSpecs").is_none_or(Node::is_null) {
        return Err(invalid(loc, format!("{kind}: fieldSpecs is not expected to be nil")));
    }
    let kind = match kind {
        "PrefixTransformer" => "PrefixTransformer",
        "SuffixTransformer" => "SuffixTransformer",
        _ => "PrefixSuffixTransformer",
    };
    let take = |key: &str, wanted: bool| if wanted { str_field(m, key).unwrap_or_default() } else { String::new() };
    Ok(PluginConfig::Affix {
        kind,
        prefix: take("prefix", kind != "SuffixTransformer"),
        suffix: take("suffix", kind != "PrefixTransformer"),
        fields: specs(m)?,
    })
}

/// An `IAMPolicyGenerator`; kustomize supports only `cloud: gke`.
fn iam(m: &Mapping, loc: Loc) -> Result<IamPolicy, Diag> {
    let cloud = str_field(m, "cloud").unwrap_or_default();
    if cloud != "gke" {
        return Err(invalid(loc, format!("cloud provider {cloud} not supported yet")));
    }
    let sub = |key: &str, field: &str| m.get(key).and_then(Node::as_map).and_then(|s| str_field(s, field));
    Ok(IamPolicy {
        name: sub("kubernetesService", "name").unwrap_or_default(),
        namespace: sub("kubernetesService", "namespace").filter(|n| !n.is_empty()),
        service_account: sub("serviceAccount", "name").unwrap_or_default(),
        project: sub("serviceAccount", "projectId").unwrap_or_default(),
    })
}

/// A `ValueAddTransformer`, with kustomize's checks on its targets.
fn value_add(m: &Mapping, loc: Loc) -> Result<ValueAdd, Diag> {
    let targets = value_targets(m.get("targets"))?;
    let target_file = m
        .get("targetFilePath")
        .and_then(Node::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| Located { value: s.to_string(), loc });
    if targets.is_empty() && target_file.is_none() {
        return Err(invalid(loc, "ValueAddTransformer: must specify at least one target"));
    }
    Ok(ValueAdd { value: str_field(m, "value").unwrap_or_default().trim().to_string(), targets, target_file })
}

/// The `targets` list of a `ValueAddTransformer` (or of its `targetFilePath` file).
pub fn value_targets(list: Option<&Node>) -> Result<Vec<ValueTarget>, Diag> {
    let mut out = Vec::new();
    for t in list.and_then(Node::as_seq).into_iter().flatten() {
        let tm = t.as_map().ok_or_else(|| invalid(t.loc, "a ValueAddTransformer target must be a map"))?;
        let field_path = str_field(tm, "fieldPath").unwrap_or_default();
        if field_path.is_empty() {
            return Err(invalid(t.loc, "ValueAddTransformer: fieldPath cannot be empty"));
        }
        let file_path_position = tm.get("filePathPosition").and_then(Node::as_i64).unwrap_or(0);
        if file_path_position < 0 {
            return Err(invalid(t.loc, format!("value of FilePathPosition ({file_path_position}) cannot be negative")));
        }
        let selector = tm.get("selector").filter(|s| !s.is_null()).map(parse_selector).transpose()?;
        out.push(ValueTarget { selector, field_path, file_path_position });
    }
    Ok(out)
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
        assert!(matches!(p, Ok(PluginConfig::Affix { ref prefix, .. }) if prefix == "a-"));
        let g = parse(&doc("apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: cm}\nliterals: [a=b]\n"));
        assert!(matches!(g, Ok(PluginConfig::Generator(ref s)) if s.name == "cm"));
        let e = parse(&doc(
            "apiVersion: example.com/v1\nkind: Sops\nmetadata: {name: x, annotations: {config.kubernetes.io/function: 'exec: {path: ./x}'}}\n",
        ));
        assert!(matches!(e, Err(ref d) if d.message.contains("external plugins disabled")));
        let helm = parse(&doc("apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: h}\n"));
        assert!(matches!(helm, Err(ref d) if d.message.contains("--enable-helm")));
        let sort = parse(&doc("apiVersion: builtin\nkind: SortOrderTransformer\nmetadata: {name: s}\n"));
        assert!(matches!(sort, Err(ref d) if d.message.contains("unable to load builtin SortOrderTransformer")));
    }

    #[test]
    fn prefix_suffix_namespace_iam_and_value_add_configs() {
        let nospecs = parse(&doc("apiVersion: builtin\nkind: PrefixTransformer\nmetadata: {name: x}\nprefix: a-\n"));
        assert!(matches!(nospecs, Err(ref d) if d.message.contains("fieldSpecs is not expected to be nil")));
        let suffix = parse(&doc(
            "apiVersion: builtin\nkind: SuffixTransformer\nmetadata: {name: x}\nprefix: a-\nsuffix: -b\nfieldSpecs: []\n",
        ));
        assert!(
            matches!(suffix, Ok(PluginConfig::Affix { kind: "SuffixTransformer", ref prefix, ref suffix, .. }) if prefix.is_empty() && suffix == "-b")
        );
        let ns = parse(&doc(
            "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata: {name: x, namespace: n}\nunsetOnly: true\nsetRoleBindingSubjects: none\n",
        ));
        assert!(
            matches!(ns, Ok(PluginConfig::Namespace { ref options, .. }) if options.unset_only && options.subjects == crate::kustomize::transform::namespace::Subjects::None)
        );
        let bad = parse(&doc(
            "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata: {name: x}\nsetRoleBindingSubjects: most\n",
        ));
        assert!(matches!(bad, Err(ref d) if d.message.contains("invalid value \"most\"")));
        let iam = parse(&doc(
            "apiVersion: builtin\nkind: IAMPolicyGenerator\nmetadata: {name: x}\ncloud: gke\nkubernetesService: {name: k}\nserviceAccount: {name: g, projectId: p}\n",
        ));
        assert!(
            matches!(iam, Ok(PluginConfig::Iam(ref i)) if i.name == "k" && i.project == "p" && i.namespace.is_none())
        );
        let aws = parse(&doc("apiVersion: builtin\nkind: IAMPolicyGenerator\nmetadata: {name: x}\ncloud: aws\n"));
        assert!(matches!(aws, Err(ref d) if d.message.contains("cloud provider aws not supported yet")));
        let va = parse(&doc(
            "apiVersion: builtin\nkind: ValueAddTransformer\nmetadata: {name: x}\nvalue: ' v '\ntargets: [{fieldPath: a/b, filePathPosition: 2, selector: {kind: K}}]\n",
        ));
        assert!(
            matches!(va, Ok(PluginConfig::ValueAdd(ref v)) if v.value == "v" && v.targets[0].file_path_position == 2 && v.targets[0].selector.is_some())
        );
        let none = parse(&doc("apiVersion: builtin\nkind: ValueAddTransformer\nmetadata: {name: x}\n"));
        assert!(matches!(none, Err(ref d) if d.message.contains("at least one target")));
    }
}
