//! The `kustomization.yaml` model: parsing with located, typed errors (unknown fields are
//! errors, as in kustomize), and the legacy fields folded into their modern forms.

use crate::rules::Rule;
use crate::source::{Loc, Mapping, Node, RelPath, Value};

use super::diag::Diag;

/// File names kustomize recognises, in its lookup order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A string from the kustomization, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub value: String,
    pub loc: Loc,
}

/// A patch target selector (`patches[].target`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

/// Where a patch's text comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchSource {
    /// A file relative to the kustomization directory.
    File(Located),
    /// Inline text; `loc` is where the text starts, so patch lines map back to the file.
    Inline { text: String, loc: Loc, block: bool },
    /// An already-parsed inline node (legacy `patchesStrategicMerge` written as a map).
    Node(Node),
}

/// What kind of patch the legacy field declared (modern `patches` decide by content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    /// `patches`: strategic merge or JSON 6902, decided by content.
    Auto,
    /// `patchesStrategicMerge` (runs before `patches`).
    LegacyStrategicMerge,
    /// `patchesJson6902` (runs after labels and annotations).
    Json6902,
}

/// One patch, from `patches`, `patchesStrategicMerge` or `patchesJson6902`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchSpec {
    pub source: PatchSource,
    pub target: Option<Selector>,
    pub kind: PatchKind,
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
    pub loc: Loc,
}

/// An `images` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSpec {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    /// `tagSuffix`: appended to the existing tag when neither `newTag` nor `digest` is set.
    pub tag_suffix: Option<String>,
    pub loc: Loc,
}

/// A `replicas` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaSpec {
    pub name: String,
    pub count: i64,
    pub loc: Loc,
}

/// A `labels` entry (or `commonLabels`, which is `includeSelectors: true`).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelSpec {
    pub pairs: Vec<(String, Node)>,
    pub include_selectors: bool,
    pub include_templates: bool,
    /// Extra fields (`labels[].fields`) the labels are also written to.
    pub fields: Vec<CustomField>,
    pub loc: Loc,
}

/// A field spec written in a kustomization (`labels[].fields`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomField {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub path: String,
    pub create: bool,
}

impl CustomField {
    /// Whether this field spec applies to an object of this group, version and kind.
    pub fn applies(&self, gvk: &super::resource::Gvk) -> bool {
        self.group.as_ref().is_none_or(|g| *g == gvk.group)
            && self.version.as_ref().is_none_or(|v| *v == gvk.version)
            && self.kind.as_ref().is_none_or(|k| *k == gvk.kind)
    }
}

/// A legacy `vars` entry: `$(name)` is replaced by `field_path` of the object `objref` names.
#[derive(Clone, Debug, PartialEq)]
pub struct VarSpec {
    pub name: String,
    pub objref: ResIdSelector,
    pub field_path: String,
    pub loc: Loc,
}

/// `buildMetadata`: what kustomize records about where each object came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildMetadata {
    /// `originAnnotations`: `config.kubernetes.io/origin`.
    pub origin: bool,
    /// `transformerAnnotations`: `alpha.config.kubernetes.io/transformations`.
    pub transformations: bool,
    /// `managedByLabel`: `app.kubernetes.io/managed-by`.
    pub managed_by: bool,
}

/// `generatorOptions`, or a generator's own `options`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeneratorOptions {
    pub labels: Vec<(String, Node)>,
    pub annotations: Vec<(String, Node)>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

/// How a generator combines with an object of the same name from a base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    Create,
    Merge,
    Replace,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorSpec {
    pub is_secret: bool,
    pub name: String,
    pub namespace: Option<String>,
    pub behavior: Behavior,
    pub literals: Vec<Located>,
    pub files: Vec<Located>,
    pub envs: Vec<Located>,
    pub secret_type: Option<String>,
    pub options: GeneratorOptions,
    pub loc: Loc,
}

/// An exact object selector (replacement sources, targets and rejects).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResIdSelector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// Where a replacement's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplacementSource {
    pub id: ResIdSelector,
    pub field_path: String,
    pub delimiter: Option<String>,
    pub index: i64,
}

/// Which fields of which objects a replacement writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplacementTarget {
    pub select: ResIdSelector,
    pub reject: Vec<ResIdSelector>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
    pub field_paths: Vec<Located>,
    pub delimiter: Option<String>,
    pub index: i64,
    pub create: bool,
    pub loc: Loc,
}

/// One `replacements` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Replacement {
    pub source: ReplacementSource,
    pub targets: Vec<ReplacementTarget>,
    pub loc: Loc,
}

/// A `replacements` list item: inline, or a file holding replacements.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplacementEntry {
    Inline(Replacement),
    File(Located),
}

/// `sortOptions`: the output order (only the top kustomization's counts).
#[derive(Clone, Debug, PartialEq)]
pub enum SortOrder {
    /// kustomize's legacy kind order; `None` keeps kustomize's default kind lists.
    Legacy { first: Option<Vec<String>>, last: Option<Vec<String>> },
    /// The order resources were accumulated in.
    Fifo,
}

/// A parsed kustomization (or component).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kustomization {
    pub dir: RelPath,
    pub file: RelPath,
    pub is_component: bool,
    pub loc: Loc,
    pub resources: Vec<Located>,
    pub components: Vec<Located>,
    pub crds: Vec<Located>,
    pub namespace: Option<Located>,
    pub name_prefix: Option<Located>,
    pub name_suffix: Option<Located>,
    pub labels: Vec<LabelSpec>,
    pub common_annotations: Vec<(String, Node)>,
    pub common_annotations_loc: Loc,
    pub images: Vec<ImageSpec>,
    pub replicas: Vec<ReplicaSpec>,
    pub patches: Vec<PatchSpec>,
    pub generators: Vec<GeneratorSpec>,
    pub generator_options: GeneratorOptions,
    pub sort_order: Option<SortOrder>,
    pub replacements: Vec<ReplacementEntry>,
    pub vars: Vec<VarSpec>,
    /// Whether `labels[0]` came from `commonLabels` (kustomize always runs a label
    /// transformer for `commonLabels` when any labels are set, which `buildMetadata` shows).
    pub common_labels_entry: bool,
    pub build_metadata: BuildMetadata,
    /// Transformer configuration files (`configurations`).
    pub configurations: Vec<Located>,
    /// `transformers:` entries: a file, a directory or inline YAML of plugin configurations.
    pub transformer_plugins: Vec<Located>,
    /// `generators:` entries, likewise.
    pub generator_plugins: Vec<Located>,
    /// Fields fluxgate does not render yet (or cannot offline): each is reported, never silent.
    pub skipped: Vec<(String, Loc)>,
    /// `openapi:`: the schema strategic merge patches take list merge keys from.
    pub openapi: Option<OpenApiSpec>,
}

/// The `openapi` field: a custom schema file (`path`) or a builtin schema `version`. kustomize
/// reads it as a map of strings and rejects both at once, or a version it does not embed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenApiSpec {
    pub path: Option<Located>,
    pub version: Option<Located>,
    pub loc: Loc,
}

/// Every field kustomize accepts in a kustomization file.
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "crds",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "imageTags",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "openapi",
    "configurations",
    "sortOptions",
    "buildMetadata",
    "transformers",
    "generators",
    "validators",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "inventory",
];

/// Fields that kustomize accepts but fluxgate does not render yet.
const NOT_YET: &[&str] = &["validators", "helmCharts", "helmGlobals", "helmChartInflationGenerator", "inventory"];

fn invalid(loc: Loc, msg: impl Into<String>) -> Diag {
    Diag::fatal(Rule::KustomizationInvalid, loc, msg)
}

/// A string as kustomize's string fields read it: kustomize decodes the file into typed
/// fields, so an unquoted number or boolean (`newTag: 1.20`, `namePrefix: yes`) is an error.
fn scalar_string(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    }
}

fn not_string(n: &Node, field: &str) -> Diag {
    let d = invalid(n.loc, format!("'{field}' must be a string, not a {}", n.type_name()));
    match n.value {
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            d.help("kustomize rejects unquoted numbers and booleans here; quote the value")
        }
        _ => d,
    }
}

fn string(n: &Node, field: &str) -> Result<Located, Diag> {
    scalar_string(n).map(|value| Located { value, loc: n.loc }).ok_or_else(|| not_string(n, field))
}

fn string_list(n: &Node, field: &str) -> Result<Vec<Located>, Diag> {
    if n.is_null() {
        return Ok(Vec::new());
    }
    let seq = n
        .as_seq()
        .ok_or_else(|| invalid(n.loc, format!("'{field}' must be a list of strings, not a {}", n.type_name())))?;
    seq.iter().map(|i| string(i, field)).collect()
}

fn bool_field(n: &Node, field: &str) -> Result<bool, Diag> {
    n.as_bool().ok_or_else(|| invalid(n.loc, format!("'{field}' must be true or false, not a {}", n.type_name())))
}

fn map<'a>(n: &'a Node, field: &str) -> Result<&'a Mapping, Diag> {
    n.as_map().ok_or_else(|| invalid(n.loc, format!("'{field}' must be a map, not a {}", n.type_name())))
}

fn check_fields(m: &Mapping, allowed: &[&str], field: &str) -> Result<(), Diag> {
    for (k, v) in m {
        if !allowed.contains(&k.as_str()) {
            return Err(Diag::fatal(Rule::KustomizationUnknownField, v.loc, format!("unknown field '{k}' in {field}"))
                .help(format!("known fields: {}", allowed.join(", "))));
        }
    }
    Ok(())
}

/// The kustomization with its field names spelled as kustomize's: kustomize decodes it with Go's
/// `encoding/json`, which matches a field name regardless of case (`apiversion`, `Resources`),
/// a later spelling of the same field replacing an earlier one. `None` when every name is
/// already canonical (or unknown, which the caller reports).
fn fold_field_names(m: &Mapping) -> Option<Mapping> {
    let canonical = |k: &str| KNOWN_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(k)).copied();
    if m.keys().all(|k| KNOWN_FIELDS.contains(&k.as_str()) || canonical(k).is_none()) {
        return None;
    }
    let mut out = Mapping::default();
    for (k, v) in m {
        let name = canonical(k).map_or_else(|| k.clone(), str::to_string);
        out.shift_remove(&name);
        out.insert(name, v.clone());
    }
    Some(out)
}

/// Label/annotation maps: values must be scalars; they are kept as nodes (kustomize writes
/// them as strings).
fn string_map(n: &Node, field: &str) -> Result<Vec<(String, Node)>, Diag> {
    if n.is_null() {
        return Ok(Vec::new());
    }
    let m = map(n, field)?;
    m.iter()
        .map(|(k, v)| {
            let s = match &v.value {
                Value::Null(_) => String::new(),
                _ => scalar_string(v).ok_or_else(|| not_string(v, &format!("{field}.{k}")))?,
            };
            Ok((k.clone(), Node::string(s, v.loc)))
        })
        .collect()
}

fn selector(n: &Node) -> Result<Selector, Diag> {
    let m = map(n, "target")?;
    check_fields(
        m,
        &["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"],
        "patch target",
    )?;
    let get = |k: &str| -> Result<Option<String>, Diag> { m.get(k).map(|v| string(v, k).map(|l| l.value)).transpose() };
    Ok(Selector {
        group: get("group")?,
        version: get("version")?,
        kind: get("kind")?,
        name: get("name")?,
        namespace: get("namespace")?,
        label_selector: get("labelSelector")?,
        annotation_selector: get("annotationSelector")?,
    })
}

fn generator_options(n: &Node, field: &str) -> Result<GeneratorOptions, Diag> {
    let m = map(n, field)?;
    check_fields(m, &["labels", "annotations", "disableNameSuffixHash", "immutable"], field)?;
    Ok(GeneratorOptions {
        labels: m.get("labels").map(|v| string_map(v, "labels")).transpose()?.unwrap_or_default(),
        annotations: m.get("annotations").map(|v| string_map(v, "annotations")).transpose()?.unwrap_or_default(),
        disable_name_suffix_hash: m
            .get("disableNameSuffixHash")
            .map(|v| bool_field(v, "disableNameSuffixHash"))
            .transpose()?,
        immutable: m.get("immutable").map(|v| bool_field(v, "immutable")).transpose()?,
    })
}

fn generator(n: &Node, is_secret: bool) -> Result<GeneratorSpec, Diag> {
    let field = if is_secret { "secretGenerator" } else { "configMapGenerator" };
    let m = map(n, field)?;
    let mut allowed = vec!["name", "namespace", "behavior", "literals", "files", "envs", "env", "options"];
    if is_secret {
        allowed.push("type");
    }
    check_fields(m, &allowed, field)?;
    let name = m
        .get("name")
        .map(|v| string(v, "name"))
        .transpose()?
        .ok_or_else(|| invalid(n.loc, format!("{field} entry has no 'name'")))?;
    let behavior = match m.get("behavior").map(|v| string(v, "behavior")).transpose()? {
        None => Behavior::Create,
        Some(b) => match b.value.as_str() {
            "" | "create" => Behavior::Create,
            "merge" => Behavior::Merge,
            "replace" => Behavior::Replace,
            // kustomize reads any other word as an unspecified behavior, which creates.
            _ => Behavior::Create,
        },
    };
    let mut envs = m.get("envs").map(|v| string_list(v, "envs")).transpose()?.unwrap_or_default();
    if let Some(e) = m.get("env") {
        envs.push(string(e, "env")?);
    }
    Ok(GeneratorSpec {
        is_secret,
        name: name.value,
        namespace: m.get("namespace").map(|v| string(v, "namespace").map(|l| l.value)).transpose()?,
        behavior,
        literals: m.get("literals").map(|v| string_list(v, "literals")).transpose()?.unwrap_or_default(),
        files: m.get("files").map(|v| string_list(v, "files")).transpose()?.unwrap_or_default(),
        envs,
        secret_type: m.get("type").map(|v| string(v, "type").map(|l| l.value)).transpose()?,
        options: m.get("options").map(|v| generator_options(v, "options")).transpose()?.unwrap_or_default(),
        loc: n.loc,
    })
}

fn patch_entry(n: &Node, legacy_json: bool) -> Result<PatchSpec, Diag> {
    let m = map(n, "patches")?;
    check_fields(m, &["path", "patch", "target", "options"], "patch")?;
    let source = match (m.get("path"), m.get("patch")) {
        (Some(p), None) => PatchSource::File(string(p, "path")?),
        (None, Some(p)) => {
            let s = string(p, "patch")?;
            PatchSource::Inline { text: s.value, loc: p.loc, block: true }
        }
        (Some(_), Some(_)) => return Err(invalid(n.loc, "a patch must have either 'path' or 'patch', not both")),
        (None, None) => return Err(invalid(n.loc, "a patch must have 'path' or 'patch'")),
    };
    let target = m.get("target").map(selector).transpose()?;
    let (mut allow_name_change, mut allow_kind_change) = (false, false);
    if let Some(o) = m.get("options") {
        let om = map(o, "options")?;
        check_fields(om, &["allowNameChange", "allowKindChange"], "patch options")?;
        if let Some(v) = om.get("allowNameChange") {
            allow_name_change = bool_field(v, "allowNameChange")?;
        }
        if let Some(v) = om.get("allowKindChange") {
            allow_kind_change = bool_field(v, "allowKindChange")?;
        }
    }
    if legacy_json && target.is_none() {
        return Err(invalid(n.loc, "a patchesJson6902 entry needs a 'target'"));
    }
    Ok(PatchSpec {
        source,
        target,
        kind: if legacy_json { PatchKind::Json6902 } else { PatchKind::Auto },
        allow_name_change,
        allow_kind_change,
        loc: n.loc,
    })
}

/// Parses one `patches` entry (`path`/`patch` + `target`), for callers that amend a
/// kustomization with patches written elsewhere (Flux's `spec.patches`).
pub fn parse_patch(n: &Node) -> Result<PatchSpec, Diag> {
    patch_entry(n, false)
}

/// Parses a patch target selector (`group`, `kind`, `name`, `labelSelector`, ...).
pub fn parse_selector(n: &Node) -> Result<Selector, Diag> {
    selector(n)
}

impl Kustomization {
    /// Parses the document of a kustomization file found in `dir`.
    // long: one match arm per kustomization field (kustomize has some fifty), all of one shape.
    pub fn parse(doc: &Node, dir: RelPath, file: RelPath) -> Result<Kustomization, Diag> {
        let m = doc.as_map().ok_or_else(|| invalid(doc.loc, "a kustomization must be a map"))?;
        let folded = fold_field_names(m);
        let m = folded.as_ref().unwrap_or(m);
        let mut k = Kustomization { dir, file, loc: doc.loc, ..Kustomization::default() };
        for (key, v) in m {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                let mut d = Diag::fatal(
                    Rule::KustomizationUnknownField,
                    v.loc,
                    format!("unknown field '{key}' in kustomization"),
                );
                if let Some(s) = closest(key, KNOWN_FIELDS) {
                    d = d.help(format!("did you mean '{s}'?"));
                }
                return Err(d);
            }
        }
        if let Some(kind) = m.get("kind") {
            match kind.as_str() {
                Some("Kustomization") => {}
                Some("Component") => k.is_component = true,
                _ => return Err(invalid(kind.loc, "kind must be 'Kustomization' or 'Component'")),
            }
        }
        // kustomize checks the apiVersion against the kind (an unset one is filled in).
        if let Some(av) = m.get("apiVersion").filter(|v| !v.is_null()) {
            let (what, want) = if k.is_component {
                ("Component", "kustomize.config.k8s.io/v1alpha1")
            } else {
                ("Kustomization", "kustomize.config.k8s.io/v1beta1")
            };
            let got = scalar_string(av).unwrap_or_default();
            if !got.is_empty() && got != want {
                return Err(invalid(av.loc, format!("apiVersion for {what} should be {want}, not '{got}'")));
            }
        }
        for key in ["resources", "bases"] {
            if let Some(v) = m.get(key) {
                k.resources.extend(string_list(v, key)?);
            }
        }
        if let Some(v) = m.get("components") {
            k.components = string_list(v, "components")?;
        }
        if let Some(v) = m.get("crds") {
            k.crds = string_list(v, "crds")?;
        }
        k.namespace = m.get("namespace").filter(|v| !v.is_null()).map(|v| string(v, "namespace")).transpose()?;
        k.name_prefix = m.get("namePrefix").filter(|v| !v.is_null()).map(|v| string(v, "namePrefix")).transpose()?;
        k.name_suffix = m.get("nameSuffix").filter(|v| !v.is_null()).map(|v| string(v, "nameSuffix")).transpose()?;
        if let Some(v) = m.get("commonLabels") {
            let pairs = string_map(v, "commonLabels")?;
            if !pairs.is_empty() {
                k.labels.push(LabelSpec {
                    pairs,
                    include_selectors: true,
                    include_templates: false,
                    fields: Vec::new(),
                    loc: v.loc,
                });
                k.common_labels_entry = true;
            }
        }
        if let Some(v) = m.get("labels").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'labels' must be a list"))?;
            for item in seq {
                let im = map(item, "labels")?;
                check_fields(im, &["pairs", "includeSelectors", "includeTemplates", "fields"], "labels entry")?;
                let mut fields = Vec::new();
                if let Some(f) = im.get("fields").filter(|f| !f.is_null()) {
                    for item in f.as_seq().ok_or_else(|| invalid(f.loc, "'fields' must be a list"))? {
                        let fm = map(item, "fields")?;
                        check_fields(fm, &["path", "group", "version", "kind", "create"], "labels field")?;
                        let get = |k: &str| -> Result<Option<String>, Diag> {
                            fm.get(k).map(|v| string(v, k).map(|l| l.value)).transpose()
                        };
                        fields.push(CustomField {
                            group: get("group")?,
                            version: get("version")?,
                            kind: get("kind")?,
                            path: get("path")?.ok_or_else(|| invalid(item.loc, "a labels field needs a 'path'"))?,
                            create: fm.get("create").map(|c| bool_field(c, "create")).transpose()?.unwrap_or(false),
                        });
                    }
                }
                k.labels.push(LabelSpec {
                    pairs: im.get("pairs").map(|p| string_map(p, "pairs")).transpose()?.unwrap_or_default(),
                    include_selectors: im
                        .get("includeSelectors")
                        .map(|b| bool_field(b, "includeSelectors"))
                        .transpose()?
                        .unwrap_or(false),
                    include_templates: im
                        .get("includeTemplates")
                        .map(|b| bool_field(b, "includeTemplates"))
                        .transpose()?
                        .unwrap_or(false),
                    fields,
                    loc: item.loc,
                });
            }
        }
        if let Some(v) = m.get("commonAnnotations") {
            k.common_annotations = string_map(v, "commonAnnotations")?;
            k.common_annotations_loc = v.loc;
        }
        for key in ["images", "imageTags"] {
            if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
                let seq = v.as_seq().ok_or_else(|| invalid(v.loc, format!("'{key}' must be a list")))?;
                for item in seq {
                    let im = map(item, key)?;
                    check_fields(im, &["name", "newName", "newTag", "digest", "tagSuffix"], "images entry")?;
                    let get = |f: &str| im.get(f).map(|x| string(x, f).map(|l| l.value)).transpose();
                    k.images.push(ImageSpec {
                        name: get("name")?.ok_or_else(|| invalid(item.loc, "images entry has no 'name'"))?,
                        new_name: get("newName")?,
                        new_tag: get("newTag")?,
                        digest: get("digest")?,
                        tag_suffix: get("tagSuffix")?,
                        loc: item.loc,
                    });
                }
            }
        }
        if let Some(v) = m.get("replicas").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'replicas' must be a list"))?;
            for item in seq {
                let im = map(item, "replicas")?;
                check_fields(im, &["name", "count"], "replicas entry")?;
                let name = im
                    .get("name")
                    .map(|x| string(x, "name"))
                    .transpose()?
                    .ok_or_else(|| invalid(item.loc, "replicas entry has no 'name'"))?;
                let count_node = im.get("count").ok_or_else(|| invalid(item.loc, "replicas entry has no 'count'"))?;
                let count = count_node.as_i64().ok_or_else(|| {
                    invalid(
                        count_node.loc,
                        format!("replicas 'count' must be an integer, not a {}", count_node.type_name()),
                    )
                })?;
                k.replicas.push(ReplicaSpec { name: name.value, count, loc: item.loc });
            }
        }
        if let Some(v) = m.get("patches").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'patches' must be a list"))?;
            for item in seq {
                k.patches.push(patch_entry(item, false)?);
            }
        }
        if let Some(v) = m.get("patchesStrategicMerge").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'patchesStrategicMerge' must be a list"))?;
            for item in seq {
                let source = match &item.value {
                    Value::Str(s) if !s.contains('\n') && !s.trim_start().starts_with('{') => {
                        PatchSource::File(Located { value: s.clone(), loc: item.loc })
                    }
                    Value::Str(s) => PatchSource::Inline { text: s.clone(), loc: item.loc, block: true },
                    Value::Map(_) => PatchSource::Node(item.clone()),
                    _ => return Err(invalid(item.loc, "a patchesStrategicMerge entry must be a file path or a patch")),
                };
                k.patches.push(PatchSpec {
                    source,
                    target: None,
                    kind: PatchKind::LegacyStrategicMerge,
                    allow_name_change: false,
                    allow_kind_change: false,
                    loc: item.loc,
                });
            }
        }
        if let Some(v) = m.get("patchesJson6902").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'patchesJson6902' must be a list"))?;
            for item in seq {
                k.patches.push(patch_entry(item, true)?);
            }
        }
        if let Some(v) = m.get("generatorOptions").filter(|v| !v.is_null()) {
            k.generator_options = generator_options(v, "generatorOptions")?;
        }
        for (key, secret) in [("configMapGenerator", false), ("secretGenerator", true)] {
            if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
                let seq = v.as_seq().ok_or_else(|| invalid(v.loc, format!("'{key}' must be a list")))?;
                for item in seq {
                    k.generators.push(generator(item, secret)?);
                }
            }
        }
        if let Some(v) = m.get("replacements").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'replacements' must be a list"))?;
            for item in seq {
                let im = map(item, "replacements")?;
                match im.get("path") {
                    Some(p) => {
                        check_fields(im, &["path"], "replacements entry")?;
                        k.replacements.push(ReplacementEntry::File(string(p, "path")?));
                    }
                    None => k.replacements.push(ReplacementEntry::Inline(parse_replacement(item)?)),
                }
            }
        }
        if let Some(v) = m.get("sortOptions").filter(|v| !v.is_null()) {
            k.sort_order = Some(sort_options(v)?);
        }
        if let Some(v) = m.get("vars").filter(|v| !v.is_null()) {
            let seq = v.as_seq().ok_or_else(|| invalid(v.loc, "'vars' must be a list"))?;
            for item in seq {
                k.vars.push(var_spec(item)?);
            }
        }
        if let Some(v) = m.get("buildMetadata").filter(|v| !v.is_null()) {
            for o in string_list(v, "buildMetadata")? {
                match o.value.as_str() {
                    "originAnnotations" => k.build_metadata.origin = true,
                    "transformerAnnotations" => k.build_metadata.transformations = true,
                    "managedByLabel" => k.build_metadata.managed_by = true,
                    // kustomize ignores options it does not know; reported, not fatal.
                    other => k.skipped.push((format!("buildMetadata option '{other}'"), o.loc)),
                }
            }
        }
        if let Some(v) = m.get("transformers") {
            k.transformer_plugins = string_list(v, "transformers")?;
        }
        if let Some(v) = m.get("generators") {
            k.generator_plugins = string_list(v, "generators")?;
        }
        if let Some(v) = m.get("openapi").filter(|v| !v.is_null()) {
            let om = map(v, "openapi")?;
            let mut spec = OpenApiSpec { loc: v.loc, ..OpenApiSpec::default() };
            for (key, val) in om {
                let field = format!("openapi.{key}");
                match key.as_str() {
                    "path" => spec.path = Some(string(val, &field)?),
                    "version" => spec.version = Some(string(val, &field)?),
                    _ => {}
                }
            }
            k.openapi = Some(spec);
        }
        if let Some(v) = m.get("configurations") {
            k.configurations = string_list(v, "configurations")?;
        }
        for key in NOT_YET {
            if let Some(v) = m.get(*key).filter(|v| !v.is_null() && v.as_seq().is_none_or(|s| !s.is_empty())) {
                k.skipped.push(((*key).to_string(), v.loc));
            }
        }
        Ok(k)
    }
}

/// Drops the keys of a map that are not in `known`.
fn keep_only(n: &mut Node, known: &[&str]) {
    if let Some(m) = n.as_map_mut() {
        m.retain(|k, _| known.contains(&k.as_str()));
    }
}

/// A plugin document without its `apiVersion`, `kind` and `metadata` (the plugin's own fields).
fn plugin_fields(doc: &Node) -> Result<Node, Diag> {
    let mut n = doc.clone();
    let m = n.as_map_mut().ok_or_else(|| invalid(doc.loc, "a plugin configuration must be a map"))?;
    for k in ["apiVersion", "kind", "metadata"] {
        m.shift_remove(k);
    }
    Ok(n)
}

/// A `ConfigMapGenerator` / `SecretGenerator` plugin configuration as a generator entry.
pub fn generator_from(
    doc: &Node,
    is_secret: bool,
    name: Option<String>,
    namespace: Option<String>,
) -> Result<GeneratorSpec, Diag> {
    let mut n = plugin_fields(doc)?;
    // kustomize reads only `envs` from a plugin configuration (the legacy `env` is converted
    // for kustomization fields alone).
    if let Some(m) = n.as_map_mut() {
        m.shift_remove("env");
    }
    // The configuration's own `name` / `namespace` win; `metadata` only fills them in.
    if let Some(m) = n.as_map_mut() {
        let unset = |m: &crate::source::Mapping, k: &str| m.get(k).and_then(Node::as_str).is_none_or(str::is_empty);
        if let Some(name) = name
            && unset(m, "name")
        {
            m.insert("name".into(), Node::string(name, doc.loc));
        }
        if let Some(ns) = namespace
            && unset(m, "namespace")
        {
            m.insert("namespace".into(), Node::string(ns, doc.loc));
        }
    }
    generator(&n, is_secret)
}

/// A `PatchTransformer` / `PatchJson6902Transformer` plugin configuration as a patch.
pub fn patch_from(doc: &Node, json: bool) -> Result<PatchSpec, Diag> {
    let mut n = plugin_fields(doc)?;
    if let Some(m) = n.as_map_mut()
        && let Some(op) = m.shift_remove("jsonOp")
    {
        m.insert("patch".into(), op);
    }
    // A plugin configuration is decoded leniently: fields kustomize does not know are ignored.
    keep_only(&mut n, &["path", "patch", "target", "options"]);
    for (key, known) in [
        ("options", &["allowNameChange", "allowKindChange"][..]),
        ("target", &["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"][..]),
    ] {
        if let Some(sub) = n.as_map_mut().and_then(|m| m.get_mut(key)) {
            keep_only(sub, known);
        }
    }
    patch_entry(&n, json)
}

/// An inline strategic merge patch (`PatchStrategicMergeTransformer.patches`).
pub fn inline_patch(text: &str, loc: Loc) -> PatchSpec {
    PatchSpec {
        source: PatchSource::Inline { text: text.to_string(), loc, block: true },
        target: None,
        kind: PatchKind::LegacyStrategicMerge,
        allow_name_change: false,
        allow_kind_change: false,
        loc,
    }
}

/// A strategic merge patch file (`PatchStrategicMergeTransformer.paths`).
pub fn legacy_patch_file(l: Located) -> PatchSpec {
    let loc = l.loc;
    PatchSpec {
        source: PatchSource::File(l),
        target: None,
        kind: PatchKind::LegacyStrategicMerge,
        allow_name_change: false,
        allow_kind_change: false,
        loc,
    }
}

fn var_spec(n: &Node) -> Result<VarSpec, Diag> {
    let m = map(n, "vars")?;
    check_fields(m, &["name", "objref", "fieldref"], "vars entry")?;
    let name = m
        .get("name")
        .map(|v| string(v, "name"))
        .transpose()?
        .ok_or_else(|| invalid(n.loc, "a vars entry needs a 'name'"))?;
    let o = m.get("objref").ok_or_else(|| invalid(n.loc, "a vars entry needs an 'objref'"))?;
    let om = map(o, "objref")?;
    check_fields(om, &["apiVersion", "group", "version", "kind", "name", "namespace"], "var objref")?;
    let mut objref = res_id_selector(om)?;
    if let Some(av) = om.get("apiVersion").map(|a| string(a, "apiVersion")).transpose()? {
        let g = super::resource::Gvk::from_api_version(&av.value, "");
        objref.group = Some(g.group);
        objref.version = Some(g.version);
    }
    let mut field_path = "metadata.name".to_string();
    if let Some(f) = m.get("fieldref").filter(|f| !f.is_null()) {
        let fm = map(f, "fieldref")?;
        check_fields(fm, &["fieldpath", "fieldPath"], "var fieldref")?;
        if let Some(p) = fm.get("fieldpath").or_else(|| fm.get("fieldPath")) {
            let p = string(p, "fieldpath")?.value;
            if !p.is_empty() {
                field_path = p;
            }
        }
    }
    Ok(VarSpec { name: name.value, objref, field_path, loc: n.loc })
}

const ID_FIELDS: [&str; 5] = ["group", "version", "kind", "name", "namespace"];

fn res_id_selector(m: &Mapping) -> Result<ResIdSelector, Diag> {
    let get = |k: &str| -> Result<Option<String>, Diag> { m.get(k).map(|v| string(v, k).map(|l| l.value)).transpose() };
    Ok(ResIdSelector {
        group: get("group")?,
        version: get("version")?,
        kind: get("kind")?,
        name: get("name")?,
        namespace: get("namespace")?,
    })
}

/// `delimiter`, `index` and `create` of a replacement's `options`.
fn field_options(m: &Mapping, allowed: &[&str]) -> Result<(Option<String>, i64, bool), Diag> {
    let Some(o) = m.get("options").filter(|o| !o.is_null()) else { return Ok((None, 0, false)) };
    let om = map(o, "options")?;
    check_fields(om, allowed, "replacement options")?;
    let delimiter = om.get("delimiter").map(|d| string(d, "delimiter").map(|l| l.value)).transpose()?;
    let index = match om.get("index") {
        Some(i) => i.as_i64().ok_or_else(|| invalid(i.loc, "replacement 'index' must be an integer"))?,
        None => 0,
    };
    let create = om.get("create").map(|c| bool_field(c, "create")).transpose()?.unwrap_or(false);
    Ok((delimiter.filter(|d| !d.is_empty()), index, create))
}

/// Parses one replacement (`source` + `targets`), inline or from a replacements file.
pub fn parse_replacement(n: &Node) -> Result<Replacement, Diag> {
    let m = map(n, "replacements")?;
    check_fields(m, &["source", "targets"], "replacement")?;
    let src = m.get("source").ok_or_else(|| invalid(n.loc, "a replacement needs a 'source'"))?;
    let sm = map(src, "source")?;
    let mut allowed = ID_FIELDS.to_vec();
    allowed.extend(["fieldPath", "options"]);
    check_fields(sm, &allowed, "replacement source")?;
    let (delimiter, index, _) = field_options(sm, &["delimiter", "index", "create"])?;
    let source = ReplacementSource {
        id: res_id_selector(sm)?,
        field_path: sm
            .get("fieldPath")
            .map(|f| string(f, "fieldPath").map(|l| l.value))
            .transpose()?
            .unwrap_or_else(|| "metadata.name".into()),
        delimiter,
        index,
    };
    let mut targets = Vec::new();
    let tseq = match m.get("targets").filter(|t| !t.is_null()) {
        Some(t) => t.as_seq().ok_or_else(|| invalid(t.loc, "'targets' must be a list"))?.clone(),
        None => Vec::new(),
    };
    for t in &tseq {
        let tm = map(t, "targets")?;
        check_fields(tm, &["select", "reject", "fieldPaths", "options"], "replacement target")?;
        let select = tm.get("select").ok_or_else(|| invalid(t.loc, "a replacement target needs 'select'"))?;
        let selm = map(select, "select")?;
        let mut sel_fields = ID_FIELDS.to_vec();
        sel_fields.extend(["labelSelector", "annotationSelector"]);
        check_fields(selm, &sel_fields, "replacement select")?;
        let mut reject = Vec::new();
        if let Some(r) = tm.get("reject").filter(|r| !r.is_null()) {
            for item in r.as_seq().ok_or_else(|| invalid(r.loc, "'reject' must be a list"))? {
                let rm = map(item, "reject")?;
                check_fields(rm, &sel_fields, "replacement reject")?;
                reject.push(res_id_selector(rm)?);
            }
        }
        let mut field_paths = match tm.get("fieldPaths") {
            Some(f) => string_list(f, "fieldPaths")?,
            None => Vec::new(),
        };
        if field_paths.is_empty() {
            field_paths.push(Located { value: "metadata.name".into(), loc: t.loc });
        }
        let (delimiter, index, create) = field_options(tm, &["delimiter", "index", "create"])?;
        let get = |k: &str| -> Result<Option<String>, Diag> {
            selm.get(k).map(|v| string(v, k).map(|l| l.value)).transpose()
        };
        targets.push(ReplacementTarget {
            select: res_id_selector(selm)?,
            reject,
            label_selector: get("labelSelector")?,
            annotation_selector: get("annotationSelector")?,
            field_paths,
            delimiter,
            index,
            create,
            loc: t.loc,
        });
    }
    Ok(Replacement { source, targets, loc: n.loc })
}

fn sort_options(v: &Node) -> Result<SortOrder, Diag> {
    let m = map(v, "sortOptions")?;
    check_fields(m, &["order", "legacySortOptions"], "sortOptions")?;
    let order = m.get("order").map(|o| string(o, "order")).transpose()?;
    match order.as_ref().map(|o| o.value.as_str()) {
        Some("fifo") => {
            if let Some(l) = m.get("legacySortOptions") {
                return Err(invalid(l.loc, "'legacySortOptions' needs 'order: legacy'"));
            }
            Ok(SortOrder::Fifo)
        }
        Some("legacy") => {
            let Some(l) = m.get("legacySortOptions").filter(|l| !l.is_null()) else {
                return Ok(SortOrder::Legacy { first: None, last: None });
            };
            let lm = map(l, "legacySortOptions")?;
            check_fields(lm, &["orderFirst", "orderLast"], "legacySortOptions")?;
            let list = |f: &str| -> Result<Vec<String>, Diag> {
                Ok(lm
                    .get(f)
                    .map(|x| string_list(x, f))
                    .transpose()?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| l.value)
                    .collect())
            };
            Ok(SortOrder::Legacy { first: Some(list("orderFirst")?), last: Some(list("orderLast")?) })
        }
        Some(other) => Err(invalid(
            order.as_ref().map_or(v.loc, |o| o.loc),
            format!("sortOptions 'order' must be 'legacy' or 'fifo', not '{other}'"),
        )),
        None => Err(invalid(v.loc, "sortOptions needs an 'order' ('legacy' or 'fifo')")),
    }
}

/// The known name closest to a misspelt one (edit distance ≤ 3), for "did you mean".
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(&word.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn k(text: &str) -> Result<Kustomization, Diag> {
        let p = parse(text, FileId(0), Dialect::Yaml11, &Limits::default());
        Kustomization::parse(&p.docs[0], RelPath::root(), RelPath::parse("kustomization.yaml").unwrap())
    }

    #[test]
    fn unknown_field_suggests_the_right_one() {
        let e = k("resources: [a.yaml]\nnamePrefx: x-\n").unwrap_err();
        assert_eq!(e.rule, Rule::KustomizationUnknownField);
        assert_eq!(e.loc.line, 2);
        assert_eq!(e.help.as_deref(), Some("did you mean 'namePrefix'?"));
    }

    #[test]
    fn wrong_type_is_located() {
        let e = k("replicas:\n- name: web\n  count: three\n").unwrap_err();
        assert_eq!(e.rule, Rule::KustomizationInvalid);
        assert_eq!(e.loc.line, 3);
    }

    #[test]
    fn legacy_fields_fold_into_patches_and_labels() {
        let k = k("bases: [../base]\ncommonLabels: {a: b}\npatchesStrategicMerge: [p.yaml]\npatchesJson6902:\n- path: j.yaml\n  target: {kind: Deployment, name: web}\n").unwrap();
        assert_eq!(k.resources[0].value, "../base");
        assert!(k.labels[0].include_selectors);
        assert_eq!(k.patches.len(), 2);
        assert_eq!(k.patches[1].kind, PatchKind::Json6902);
    }

    #[test]
    fn sort_options_parse_and_reject_bad_order() {
        let fifo = k("sortOptions: {order: fifo}\n").map(|k| k.sort_order);
        assert_eq!(fifo.ok().flatten(), Some(SortOrder::Fifo));
        let legacy = k("sortOptions:\n  order: legacy\n  legacySortOptions: {orderFirst: [Service]}\n")
            .map(|k| k.sort_order)
            .ok()
            .flatten();
        assert_eq!(legacy, Some(SortOrder::Legacy { first: Some(vec!["Service".into()]), last: Some(vec![]) }));
        assert!(k("sortOptions: {order: random}\n").is_err());
        assert!(k("sortOptions: {order: fifo, legacySortOptions: {}}\n").is_err());
    }

    #[test]
    fn unquoted_numbers_in_string_fields_are_errors_like_kustomize() {
        for text in ["namespace: 123\n", "images:\n- {name: nginx, newTag: 1.20}\n", "commonAnnotations: {a: true}\n"] {
            let e = k(text).err();
            assert_eq!(e.map(|e| e.rule), Some(Rule::KustomizationInvalid), "{text}");
        }
        assert!(k("commonAnnotations: {a: \"1\", b: }\n").is_ok());
    }

    #[test]
    fn openapi_field_is_parsed_not_skipped() {
        let spec = k("openapi:\n  path: schema.json\n").map(|k| (k.openapi, k.skipped));
        let Ok((Some(o), skipped)) = spec else { panic!("openapi not parsed") };
        assert_eq!(o.path.map(|p| p.value).as_deref(), Some("schema.json"));
        assert!(o.version.is_none());
        assert!(skipped.is_empty());
        assert!(k("openapi: [a]\n").is_err());
        assert!(k("openapi: {version: 1.21}\n").is_err());
    }
}
