//! Validates one Kubernetes object against a compiled JSON Schema and turns every
//! `jsonschema` error into a [`SchemaViolation`] with a stable rule id, a path the caller can
//! map back to a source line, and a message a person can act on.
//!
//! On top of plain JSON Schema this knows the Kubernetes list semantics
//! (`x-kubernetes-list-type: map|set`, as custom keywords), Flux's `${VAR}` references (not
//! errors before substitution) and SOPS-encrypted manifests (their ciphertext is not content).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use base64::Engine as _;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::json::{Json, SerdeJson};
use jsonschema::paths::Location;
use jsonschema::{Draft, Keyword, Retrieve, ValidationError, ValidationOptions};
use regex::Regex;
use serde_json::{Map, Value};

use super::node_json::NodeJson;
use super::{PathSeg, SchemaViolation};
use crate::rules::Rule;
use crate::source::node::{Node, Value as NodeValue};

/// A schema compiled once and shared by every validation (it is `Send + Sync`, so rayon
/// workers can use one instance; compiling per object would cost far more than validating).
pub struct CompiledSchema {
    /// Judges the rendered node itself: no JSON copy for the valid objects, nearly all of them.
    fast: jsonschema::Validator<NodeJson>,
    /// Explains an invalid object from its JSON copy, as every finding was always built;
    /// compiled on the first invalid object of its kind.
    explain: OnceLock<Result<jsonschema::Validator, String>>,
    /// The source schema, kept to look up the known property names for did-you-mean help.
    schema: Arc<Value>,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema").finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledSchema>();
};

/// The keyword that carries Kubernetes list semantics.
const LIST_TYPE: &str = "x-kubernetes-list-type";
/// Keys that identify an item of a `map` list.
const LIST_MAP_KEYS: &str = "x-kubernetes-list-map-keys";
/// Separates the offending item index from the message in a list-type custom error (the
/// custom-keyword API reports the list's path; the index lets us point at the duplicate item).
const INDEX_SEP: char = '\u{1f}';

/// A Flux post-build variable reference: `${VAR}`, `${VAR:=default}`, `${VAR:-default}`, and
/// the bash operators Flux's envsubst also evaluates (`${VAR/./-}`, `${VAR^^}`, `${#VAR}`,
/// `${VAR:0:8}`, `${VAR%.*}`...): a variable whose value is not known here leaves any of them
/// as written.
pub(super) static FLUX_VAR: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(r"\$\{#?[A-Za-z_][A-Za-z0-9_]*([^A-Za-z0-9_}][^}]*)?\}").unwrap()
});

/// Compiles `schema` (JSON Schema; 2020-12 unless it names another `$schema`; local `$ref`s
/// such as `#/$defs/...` resolve, remote ones are refused because fluxgate runs offline).
pub fn compile(schema: Value) -> Result<CompiledSchema, String> {
    let fast = build::<NodeJson>(&schema)?;
    Ok(CompiledSchema { fast, explain: OnceLock::new(), schema: Arc::new(schema) })
}

/// One validator of `schema` for the representation `F`, every one configured alike.
fn build<F: Json>(schema: &Value) -> Result<jsonschema::Validator<F>, String>
where
    ListType: for<'i> Keyword<'i, F>,
{
    let mut opts: ValidationOptions<'_, Arc<dyn Retrieve>, F> = jsonschema::options_for::<F>()
        .with_keyword(LIST_TYPE, list_type_factory::<F>)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        // Kubernetes checks formats with its own (Go) parsers; where the JSON Schema meaning is
        // stricter or different, accept what the API server accepts.
        .with_format("date-time", is_k8s_date_time)
        .with_format("date", is_date)
        .with_format("byte", is_base64)
        .with_format("duration", is_duration)
        .with_format("time", accept_any)
        .with_format("uri", accept_any)
        .with_format("uri-reference", accept_any)
        .with_format("iri", accept_any)
        .with_format("iri-reference", accept_any)
        .with_format("uri-template", accept_any)
        .with_format("hostname", accept_any)
        .with_format("idn-hostname", accept_any)
        .with_format("email", accept_any)
        .with_format("idn-email", accept_any)
        .with_format("regex", accept_any)
        .with_format("json-pointer", accept_any)
        .with_format("relative-json-pointer", accept_any);
    if schema.get("$schema").is_none() {
        opts = opts.with_draft(Draft::Draft202012);
    }
    opts.build(schema).map_err(|e| format!("invalid schema: {e}"))
}

impl CompiledSchema {
    /// Every violation of `obj`, classified and sorted (path, rule, message) so reports are
    /// stable between runs.
    pub fn validate(&self, obj: &Node) -> Vec<SchemaViolation> {
        // Almost every object is valid: the short-circuiting check on the node itself skips
        // the JSON copy and the error locations, and only an invalid object pays for both.
        let sops_block = matches!(&obj.value, NodeValue::Map(m) if m.contains_key("sops"));
        if !sops_block && self.fast.is_valid(obj) {
            return Vec::new();
        }
        let validator = match self.explain.get_or_init(|| build::<SerdeJson>(&self.schema)) {
            Ok(v) => v,
            Err(e) => {
                return vec![SchemaViolation {
                    rule: Rule::SchemaMissing,
                    path: Vec::new(),
                    message: format!("the schema does not compile: {e}"),
                    help: None,
                }];
            }
        };
        let mut instance = obj.to_json();
        // A SOPS-encrypted manifest carries its key material under `sops:`; the API server
        // never sees it (Flux decrypts first), so it is not part of the object.
        let sops = instance.as_object_mut().is_some_and(|m| m.remove("sops").is_some());
        if validator.is_valid(&instance) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for err in validator.iter_errors(&instance) {
            self.classify(&err, &instance, &mut out);
        }
        out.retain(|v| !v.drop);
        let mut out: Vec<SchemaViolation> = out
            .into_iter()
            .filter(|v| !(sops && v.encrypted))
            .map(|v| SchemaViolation { rule: v.rule, path: v.path, message: v.message, help: v.help })
            .collect();
        out.sort_by(|a, b| {
            a.path.cmp(&b.path).then_with(|| a.rule.id().cmp(b.rule.id())).then_with(|| a.message.cmp(&b.message))
        });
        out.dedup();
        out
    }

    /// Turns one error into zero or more violations (one per unknown key; none when the value
    /// is a Flux reference that substitution will replace).
    fn classify(&self, err: &ValidationError<'_>, root: &Value, out: &mut Vec<Pending>) {
        let instance: &Value = err.instance();
        let path = to_path(err.instance_path(), root);
        let encrypted = is_sops_content(&path, instance);
        let var_ref = instance.as_str().is_some_and(|s| FLUX_VAR.is_match(s));
        let push = |out: &mut Vec<Pending>, rule: Rule, path: Vec<PathSeg>, message: String, help, drop| {
            out.push(Pending { rule, path, message, help, drop, encrypted });
        };
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let known = self.known_properties(err.schema_path());
                for key in unexpected {
                    let mut p = path.clone();
                    p.push(PathSeg::Key(key.clone()));
                    // Edit distance above 3 never matches; skip names that cannot be that close.
                    let len = key.chars().count();
                    let candidates: Vec<&str> =
                        known.iter().map(String::as_str).filter(|k| k.chars().count().abs_diff(len) <= 3).collect();
                    let help = crate::kustomize::kustomization::closest(key, &candidates)
                        .map(|k| format!("did you mean '{k}'?"));
                    let enc = is_sops_content(&p, &Value::Null);
                    out.push(Pending {
                        rule: Rule::SchemaUnknownField,
                        path: p,
                        message: format!("unknown field '{key}'"),
                        help,
                        drop: false,
                        encrypted: enc,
                    });
                }
            }
            ValidationErrorKind::FalseSchema => {
                let field = match path.last() {
                    Some(PathSeg::Key(k)) => format!("field '{k}' is not allowed"),
                    _ => "value is not allowed here".to_string(),
                };
                push(out, Rule::SchemaUnknownField, path, field, None, false);
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => t.to_string(),
                    TypeKind::Multiple(set) => join_or(type_names(set)),
                };
                // Null is what an empty YAML value reads as; the API server decodes it as "unset"
                // (and prunes it from custom resources), so it is not a type error.
                let drop = contains_var_ref(instance) || instance.is_null();
                push(
                    out,
                    Rule::SchemaInvalidType,
                    path,
                    format!("expected {expected}, found {}", describe(instance)),
                    None,
                    drop,
                );
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().map_or_else(|| property.to_string(), str::to_string);
                push(out, Rule::SchemaRequired, path, format!("missing required field '{name}'"), None, false);
            }
            ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
                self.classify_alternatives(context, instance, path, root, out);
            }
            ValidationErrorKind::Custom { keyword, message } if keyword == LIST_TYPE => {
                let (idx, msg) = match message.split_once(INDEX_SEP) {
                    Some((i, m)) => (i.parse::<usize>().ok(), m.to_string()),
                    None => (None, message.clone()),
                };
                let mut p = path;
                if let Some(i) = idx {
                    p.push(PathSeg::Index(i));
                }
                push(out, Rule::SchemaDuplicateListKey, p, msg, None, false);
            }
            ValidationErrorKind::UniqueItems => {
                let mut p = path;
                if let Some(i) = instance.as_array().and_then(|a| first_duplicate(a.iter().map(canonical))) {
                    p.push(PathSeg::Index(i));
                }
                push(out, Rule::SchemaDuplicateListKey, p, "list items must be unique".to_string(), None, false);
            }
            kind => {
                let message = value_message(kind, instance, err);
                push(out, Rule::SchemaInvalidValue, path, message, None, var_ref);
            }
        }
    }

    /// `anyOf`/`oneOf` failed: when every alternative failed on the value's type alone, say
    /// which types would do ("expected integer or string"); otherwise report the errors of the
    /// alternative that came closest (right type, fewest errors).
    fn classify_alternatives(
        &self,
        context: &[Vec<ValidationError<'static>>],
        instance: &Value,
        path: Vec<PathSeg>,
        root: &Value,
        out: &mut Vec<Pending>,
    ) {
        let here = |e: &ValidationError<'_>| to_path(e.instance_path(), root) == path;
        let type_only = |branch: &Vec<ValidationError<'static>>| {
            branch.iter().any(|e| here(e) && matches!(e.kind(), ValidationErrorKind::Type { .. }))
        };
        let best = context.iter().filter(|b| !b.is_empty() && !type_only(b)).min_by_key(|b| b.len());
        if let Some(branch) = best {
            for e in branch {
                self.classify(e, root, out);
            }
            return;
        }
        let mut expected: Vec<String> = Vec::new();
        for branch in context {
            for e in branch {
                if let ValidationErrorKind::Type { kind } = e.kind() {
                    let names: Vec<String> = match kind {
                        TypeKind::Single(t) => vec![t.to_string()],
                        TypeKind::Multiple(set) => type_names(set),
                    };
                    for n in names {
                        if !expected.contains(&n) {
                            expected.push(n);
                        }
                    }
                }
            }
        }
        let message = if expected.is_empty() {
            format!("{} does not match any allowed form", describe(instance))
        } else {
            format!("expected {}, found {}", join_or(expected), describe(instance))
        };
        out.push(Pending {
            rule: Rule::SchemaInvalidType,
            encrypted: is_sops_content(&path, instance),
            path,
            message,
            help: None,
            drop: contains_var_ref(instance) || instance.is_null(),
        });
    }

    /// Property names the schema defines where an `additionalProperties` /
    /// `unevaluatedProperties` keyword failed (its canonical location, `$ref`s resolved).
    fn known_properties(&self, keyword_location: &Location) -> Vec<String> {
        let pointer = keyword_location.as_str();
        let parent = pointer.rsplit_once('/').map_or("", |(p, _)| p);
        let Some(schema) = self.schema.pointer(parent) else { return Vec::new() };
        let mut names = Vec::new();
        collect_properties(&self.schema, schema, &mut names, 0);
        names
    }
}

/// A violation before filtering.
struct Pending {
    rule: Rule,
    path: Vec<PathSeg>,
    message: String,
    help: Option<String>,
    /// A Flux reference or an empty value: not an error before substitution.
    drop: bool,
    /// Under `data`/`stringData`, or SOPS ciphertext: not content to check in a SOPS manifest.
    encrypted: bool,
}

/// Collects `properties` names of `schema`, following local `$ref`s and `allOf`/`anyOf`/`oneOf`
/// branches a few levels deep.
fn collect_properties(root: &Value, schema: &Value, names: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for k in props.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str)
        && let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p))
    {
        collect_properties(root, target, names, depth + 1);
    }
    for kw in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(kw).and_then(Value::as_array) {
            for b in branches {
                collect_properties(root, b, names, depth + 1);
            }
        }
    }
}

/// In a SOPS manifest, values under `data`/`stringData` are ciphertext, and any `ENC[...]`
/// string is an encrypted value whose plaintext type we cannot see.
fn is_sops_content(path: &[PathSeg], instance: &Value) -> bool {
    let under_data =
        path.len() >= 2 && matches!(path.first(), Some(PathSeg::Key(k)) if k == "data" || k == "stringData");
    under_data || instance.as_str().is_some_and(|s| s.starts_with("ENC["))
}

/// Whether a value is, or holds somewhere inside it, a string with a Flux `${VAR}` reference.
fn contains_var_ref(v: &Value) -> bool {
    match v {
        Value::String(s) => FLUX_VAR.is_match(s),
        Value::Array(a) => a.iter().any(contains_var_ref),
        Value::Object(m) => m.values().any(contains_var_ref),
        _ => false,
    }
}

/// Message for value constraints (enum, pattern, bounds, lengths, formats, ...).
fn value_message(kind: &ValidationErrorKind, instance: &Value, err: &ValidationError<'_>) -> String {
    let v = describe(instance);
    match kind {
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| a.iter().filter(|o| !o.is_null()).map(|o| o.to_string()).collect())
                .unwrap_or_else(|| vec![options.to_string()]);
            format!("{v} is not one of the allowed values: {}", allowed.join(", "))
        }
        ValidationErrorKind::Constant { expected_value } => format!("expected {expected_value}, found {v}"),
        ValidationErrorKind::Pattern { pattern } => format!("{v} does not match the pattern {pattern}"),
        ValidationErrorKind::Format { format } => format!("{v} is not a valid {format}"),
        ValidationErrorKind::Minimum { limit } => format!("{v} is less than the minimum {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("{v} is greater than the maximum {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("{v} must be greater than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("{v} must be less than {limit}"),
        ValidationErrorKind::MinLength { limit } => format!("{v} is shorter than {limit} characters"),
        ValidationErrorKind::MaxLength { limit } => format!("{v} is longer than {limit} characters"),
        ValidationErrorKind::MinItems { limit } => format!("the list has fewer than {limit} items"),
        ValidationErrorKind::MaxItems { limit } => format!("the list has more than {limit} items"),
        ValidationErrorKind::MinProperties { limit } => format!("the object has fewer than {limit} fields"),
        ValidationErrorKind::MaxProperties { limit } => format!("the object has more than {limit} fields"),
        ValidationErrorKind::MultipleOf { multiple_of } => format!("{v} is not a multiple of {multiple_of}"),
        ValidationErrorKind::OneOfMultipleValid { .. } => format!("{v} matches more than one allowed form"),
        ValidationErrorKind::Not { .. } => format!("{v} is a value that is not allowed here"),
        _ => err.to_string(),
    }
}

/// `"three"` → `string "three"`; long values are shortened so messages stay one line.
fn describe(v: &Value) -> String {
    let short = |s: String| {
        if s.chars().count() > 60 {
            let cut: String = s.chars().take(57).collect();
            format!("{cut}...")
        } else {
            s
        }
    };
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("integer {n}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", short(Value::String(s.clone()).to_string())),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// The names of a type set, without `null` when other types are allowed (null is never
/// reported as a type error, so offering it only distracts).
fn type_names(set: &jsonschema::JsonTypeSet) -> Vec<String> {
    let all: Vec<String> = set.iter().map(|t| t.to_string()).collect();
    let non_null: Vec<String> = all.iter().filter(|t| *t != "null").cloned().collect();
    if non_null.is_empty() { all } else { non_null }
}

/// `["integer", "string"]` → `integer or string`.
fn join_or(mut items: Vec<String>) -> String {
    match items.len() {
        0 => String::new(),
        1 => items.remove(0),
        _ => {
            let last = items.pop().unwrap_or_default();
            format!("{} or {last}", items.join(", "))
        }
    }
}

/// Converts a JSON pointer into path segments, using the instance to tell list indices from
/// map keys that look like numbers.
fn to_path(loc: &Location, root: &Value) -> Vec<PathSeg> {
    let mut out = Vec::new();
    let mut cur = Some(root);
    let s = loc.as_str();
    if s.is_empty() {
        return out;
    }
    for raw in s.trim_start_matches('/').split('/') {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match cur {
            Some(Value::Array(a)) => match seg.parse::<usize>() {
                Ok(i) => {
                    cur = a.get(i);
                    out.push(PathSeg::Index(i));
                }
                Err(_) => {
                    cur = None;
                    out.push(PathSeg::Key(seg));
                }
            },
            Some(Value::Object(m)) => {
                cur = m.get(&seg);
                out.push(PathSeg::Key(seg));
            }
            _ => {
                cur = None;
                out.push(PathSeg::Key(seg));
            }
        }
    }
    out
}

/// A hashable identity for a JSON value (object keys sorted, so map order does not matter).
fn canonical(v: &Value) -> String {
    fn write(v: &Value, s: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                s.push('{');
                for k in keys {
                    s.push_str(&Value::String(k.clone()).to_string());
                    s.push(':');
                    if let Some(x) = m.get(k) {
                        write(x, s);
                    }
                    s.push(',');
                }
                s.push('}');
            }
            Value::Array(a) => {
                s.push('[');
                for x in a {
                    write(x, s);
                    s.push(',');
                }
                s.push(']');
            }
            // Whole floats and integers are the same number to the API server.
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => s.push_str(&format!("{}", f as i64)),
                _ => s.push_str(&n.to_string()),
            },
            other => s.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    s
}

/// Index of the first item equal to an earlier one.
fn first_duplicate(items: impl Iterator<Item = String>) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    for (i, k) in items.enumerate() {
        if !seen.insert(k) {
            return Some(i);
        }
    }
    None
}

/// `x-kubernetes-list-type`: `map` items are unique by their `x-kubernetes-list-map-keys`,
/// `set` items are unique; `atomic` (or anything else) has no rule.
enum ListType {
    Map(Vec<String>),
    Set,
    Atomic,
}

impl ListType {
    /// Every duplicate: (index of the later item, message).
    fn duplicates(&self, items: &[Value]) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        match self {
            ListType::Map(keys) => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for (i, item) in items.iter().enumerate() {
                    let Some(obj) = item.as_object() else { continue };
                    let vals: Vec<&Value> = keys.iter().map(|k| obj.get(k).unwrap_or(&Value::Null)).collect();
                    let Some(id) = map_item_id(&vals) else { continue };
                    if let Some(first) = seen.get(&id) {
                        let named: Vec<String> = keys
                            .iter()
                            .zip(&vals)
                            .filter(|(_, v)| !v.is_null())
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        out.push((i, format!("duplicate entry with {} (first at index {first})", named.join(", "))));
                    } else {
                        seen.insert(id, i);
                    }
                }
            }
            ListType::Set => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for (i, item) in items.iter().enumerate() {
                    let Some(id) = set_item_id(item) else { continue };
                    if let Some(first) = seen.get(&id) {
                        out.push((i, format!("duplicate value {item} in a set (first at index {first})")));
                    } else {
                        seen.insert(id, i);
                    }
                }
            }
            ListType::Atomic => {}
        }
        out
    }

    /// Whether rendered `items` hold no duplicate: what [`ListType::duplicates`] finds in their
    /// JSON form, converting only the values that decide it.
    fn nodes_unique(&self, items: &[Node]) -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut unseen = |id: Option<String>| id.is_none_or(|id| seen.insert(id));
        match self {
            ListType::Map(keys) => items.iter().all(|item| {
                let NodeValue::Map(obj) = &item.value else { return true };
                let vals: Vec<Value> = keys.iter().map(|k| obj.get(k).map_or(Value::Null, Node::to_json)).collect();
                unseen(map_item_id(&vals.iter().collect::<Vec<_>>()))
            }),
            ListType::Set => items.iter().all(|item| unseen(set_item_id(&item.to_json()))),
            ListType::Atomic => true,
        }
    }

    /// The list-type errors of `items`, each naming its item.
    fn errors<'i>(&self, items: Option<&[Value]>) -> Box<dyn Iterator<Item = ValidationError<'i>> + 'i> {
        let dups = items.map(|a| self.duplicates(a)).unwrap_or_default();
        Box::new(dups.into_iter().map(|(i, m)| ValidationError::custom(format!("{i}{INDEX_SEP}{m}"))))
    }
}

/// The identity of a `map` list item, from the values of its keys (`None`: a `${VAR}` key may
/// differ once Flux substitutes it).
fn map_item_id(key_values: &[&Value]) -> Option<String> {
    (!key_values.iter().any(|v| contains_var_ref(v)))
        .then(|| key_values.iter().map(|v| canonical(v)).collect::<Vec<_>>().join("\u{0}"))
}

/// The identity of a `set` item (`None`: it holds a `${VAR}`).
fn set_item_id(item: &Value) -> Option<String> {
    (!contains_var_ref(item)).then(|| canonical(item))
}

impl<'i> Keyword<'i, NodeJson> for ListType {
    fn validate(&self, instance: &'i Node) -> Result<(), ValidationError<'i>> {
        match Keyword::<NodeJson>::iter_errors(self, instance).next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn is_valid(&self, instance: &'i Node) -> bool {
        match &instance.value {
            NodeValue::Seq(items) => self.nodes_unique(items),
            _ => true,
        }
    }

    fn iter_errors(&self, instance: &'i Node) -> Box<dyn Iterator<Item = ValidationError<'i>> + 'i> {
        self.errors(instance.to_json().as_array().map(Vec::as_slice))
    }
}

impl<'i> Keyword<'i> for ListType {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        match Keyword::<SerdeJson>::iter_errors(self, instance).next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        instance.as_array().is_none_or(|a| self.duplicates(a).is_empty())
    }

    fn iter_errors(&self, instance: &'i Value) -> Box<dyn Iterator<Item = ValidationError<'i>> + 'i> {
        self.errors(instance.as_array().map(Vec::as_slice))
    }
}

/// Builds the list-type keyword from its schema; unknown list types check nothing.
fn list_type_factory<'a, F: Json>(
    parent: &'a Map<String, Value>,
    value: &'a Value,
    _path: Location,
) -> Result<Box<dyn for<'i> Keyword<'i, F>>, ValidationError<'a>>
where
    ListType: for<'i> Keyword<'i, F>,
{
    let lt = match value.as_str() {
        Some("map") => {
            let keys: Vec<String> = parent
                .get(LIST_MAP_KEYS)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if keys.is_empty() { ListType::Atomic } else { ListType::Map(keys) }
        }
        Some("set") => ListType::Set,
        _ => ListType::Atomic,
    };
    Ok(Box::new(lt))
}

fn accept_any(_: &str) -> bool {
    true
}

/// RFC 3339 as Go's time parsers accept it (also a space separator, no seconds or no zone).
fn is_k8s_date_time(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::unwrap_used)]
        Regex::new(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$").unwrap()
    });
    RE.is_match(s)
}

fn is_date(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::unwrap_used)]
        Regex::new(r"^\d{4}-\d{2}-\d{2}$").unwrap()
    });
    RE.is_match(s)
}

/// Kubernetes `byte`: standard base64 (Go's `StdEncoding`), padding optional.
fn is_base64(s: &str) -> bool {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(&s).is_ok()
        || base64::engine::general_purpose::STANDARD_NO_PAD.decode(&s).is_ok()
}

/// Go durations (`1h30m`, `500ms`) and the "N unit" / ISO 8601 forms Kubernetes also reads.
fn is_duration(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::unwrap_used)]
        Regex::new(r"^(0|[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w))+|\d+\s*[A-Za-z]+|P[0-9YMWDTHS.]+)$").unwrap()
    });
    RE.is_match(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn obj(text: &str) -> Node {
        let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        parsed.docs.into_iter().next().expect("one document")
    }

    fn ids(v: &[SchemaViolation]) -> Vec<(String, &'static str, String)> {
        v.iter().map(|v| (super::super::display_path(&v.path), v.rule.id(), v.message.clone())).collect()
    }

    /// A small Deployment-shaped schema with `$defs`/`$ref`.
    fn deployment_schema() -> Value {
        json!({
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "additionalProperties": false,
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["template"],
                    "properties": {
                        "replicas": {"type": "integer", "format": "int32", "minimum": 0},
                        "template": {
                            "type": "object",
                            "additionalProperties": false,
                            "properties": {
                                "metadata": {"type": "object"},
                                "spec": {"$ref": "#/$defs/PodSpec"}
                            }
                        }
                    }
                }
            },
            "$defs": {
                "PodSpec": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["containers"],
                    "properties": {
                        "containers": {
                            "type": "array",
                            "items": {"$ref": "#/$defs/Container"},
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"]
                        },
                        "restartPolicy": {"type": "string", "enum": ["Always", "OnFailure", "Never"]}
                    }
                },
                "Container": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "image": {"type": "string"},
                        "imagePullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
                        "ports": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": false,
                                "properties": {
                                    "containerPort": {"type": "integer"},
                                    "protocol": {"type": "string", "enum": ["TCP", "UDP", "SCTP"]}
                                }
                            }
                        },
                        "args": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
                    }
                }
            }
        })
    }

    const GOOD: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      restartPolicy: Always
      containers:
        - name: web
          image: nginx:1.27
          imagePullPolicy: IfNotPresent
          ports:
            - containerPort: 80
              protocol: TCP
";

    #[test]
    fn valid_object_has_no_violations() {
        let s = compile(deployment_schema()).expect("compiles");
        assert_eq!(ids(&s.validate(&obj(GOOD))), vec![]);
    }

    #[test]
    fn unknown_field_at_depth_with_did_you_mean() {
        let s = compile(deployment_schema()).expect("compiles");
        let text = GOOD.replace("imagePullPolicy: IfNotPresent", "imagePullPolic: IfNotPresent\n          extra: 1");
        let v = s.validate(&obj(&text));
        assert_eq!(
            ids(&v),
            vec![
                (
                    "spec.template.spec.containers[0].extra".into(),
                    "schema-unknown-field",
                    "unknown field 'extra'".into()
                ),
                (
                    "spec.template.spec.containers[0].imagePullPolic".into(),
                    "schema-unknown-field",
                    "unknown field 'imagePullPolic'".into()
                ),
            ]
        );
        assert_eq!(v[1].help.as_deref(), Some("did you mean 'imagePullPolicy'?"));
        assert_eq!(v[0].help, None);
    }

    #[test]
    fn wrong_type_required_enum_and_minimum() {
        let s = compile(deployment_schema()).expect("compiles");
        let text = GOOD
            .replace("replicas: 3", "replicas: three")
            .replace("protocol: TCP", "protocol: TCPX")
            .replace("        - name: web\n", "        - image2: x\n");
        let v = s.validate(&obj(&text));
        assert_eq!(
            ids(&v),
            vec![
                ("spec.replicas".into(), "schema-invalid-type", "expected integer, found string \"three\"".into()),
                ("spec.template.spec.containers[0]".into(), "schema-required", "missing required field 'name'".into()),
                (
                    "spec.template.spec.containers[0].image2".into(),
                    "schema-unknown-field",
                    "unknown field 'image2'".into()
                ),
                (
                    "spec.template.spec.containers[0].ports[0].protocol".into(),
                    "schema-invalid-value",
                    "string \"TCPX\" is not one of the allowed values: \"TCP\", \"UDP\", \"SCTP\"".into()
                ),
            ]
        );
        let neg = s.validate(&obj(&GOOD.replace("replicas: 3", "replicas: -1")));
        assert_eq!(ids(&neg)[0].1, "schema-invalid-value");
    }

    #[test]
    fn duplicate_list_map_key_and_set_item() {
        let s = compile(deployment_schema()).expect("compiles");
        let text = GOOD.replace(
            "              protocol: TCP\n",
            "              protocol: TCP\n          args: [a, b, a]\n        - name: side\n        - name: web\n",
        );
        let v = s.validate(&obj(&text));
        assert_eq!(
            ids(&v),
            vec![
                (
                    "spec.template.spec.containers[0].args[2]".into(),
                    "schema-duplicate-list-key",
                    "duplicate value \"a\" in a set (first at index 0)".into()
                ),
                (
                    "spec.template.spec.containers[2]".into(),
                    "schema-duplicate-list-key",
                    "duplicate entry with name=\"web\" (first at index 0)".into()
                ),
            ]
        );
    }

    #[test]
    fn flux_variable_is_not_an_error() {
        let s = compile(deployment_schema()).expect("compiles");
        let text = GOOD
            .replace("replicas: 3", "replicas: ${REPLICAS:=2}")
            .replace("containerPort: 80", "containerPort: \"${PORT}\"")
            .replace("protocol: TCP", "protocol: ${PROTO}");
        assert_eq!(ids(&s.validate(&obj(&text))), vec![]);
        // The bash operators Flux's envsubst evaluates are references too.
        for r in ["${PROTO^^}", "${PROTO/tcp/TCP}", "${#PROTO}", "${PROTO:0:3}", "${PROTO%.*}"] {
            let text = GOOD.replace("protocol: TCP", &format!("protocol: \"{r}\""));
            assert!(ids(&s.validate(&obj(&text))).is_empty(), "{r}");
        }
        // Not a reference: still an error.
        let text = GOOD.replace("replicas: 3", "replicas: $REPLICAS");
        assert_eq!(ids(&s.validate(&obj(&text))).len(), 1);
    }

    #[test]
    fn sops_key_and_ciphertext_are_excluded() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                "data": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}},
                "spec": {"type": "object", "properties": {"port": {"type": "integer"}}}
            }
        });
        let s = compile(schema).expect("compiles");
        let text = "\
apiVersion: v1
kind: Secret
metadata: {name: s}
data:
  password: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]
spec:
  port: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:int]
sops:
  mac: x
  version: 3.9.0
";
        assert_eq!(ids(&s.validate(&obj(text))), vec![]);
        // Without `sops:` the same content is checked.
        let plain = text.split("sops:").next().unwrap_or_default();
        let v = s.validate(&obj(plain));
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn int_or_string_reports_both_types() {
        let schema = json!({
            "type": "object",
            "properties": {"port": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}
        });
        let s = compile(schema).expect("compiles");
        assert!(s.validate(&obj("port: 80")).is_empty());
        assert!(s.validate(&obj("port: http")).is_empty());
        let v = s.validate(&obj("port: [1]"));
        assert_eq!(
            ids(&v),
            vec![("port".into(), "schema-invalid-type", "expected integer or string, found a list".into())]
        );
    }

    #[test]
    fn one_of_reports_closest_alternative() {
        let schema = json!({
            "oneOf": [
                {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
                {"type": "string"}
            ]
        });
        let s = compile(schema).expect("compiles");
        let v = s.validate(&obj("a: 1"));
        assert_eq!(ids(&v), vec![("a".into(), "schema-invalid-type", "expected string, found integer 1".into())]);
    }

    #[test]
    fn compile_rejects_a_bad_schema_and_remote_refs() {
        assert!(compile(json!({"type": 5})).is_err());
        assert!(compile(json!({"$ref": "https://example.com/x.json"})).is_err());
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let s = compile(deployment_schema()).expect("compiles");
        for text in ["[]", "42", "\"x\"", "spec: null", "spec: {template: {spec: {containers: {}}}}", "a: ~"] {
            let n = obj(text);
            let _ = s.validate(&n);
        }
        let n = Node::synthetic(crate::source::node::Value::NULL);
        let _ = s.validate(&n);
    }

    #[test]
    fn measure_deployment_validation() {
        let s = compile(deployment_schema()).expect("compiles");
        let n = obj(GOOD);
        let rounds = 2000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert!(s.validate(&n).is_empty());
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("schema::validate: {per:.1} µs per Deployment (valid)");
        let bad = obj(&GOOD.replace("imagePullPolicy: IfNotPresent", "imagePullPolic: IfNotPresent"));
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert_eq!(s.validate(&bad).len(), 1);
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("schema::validate: {per:.1} µs per Deployment (one unknown field)");
    }

    /// `node` with one change at its `at`-th place (in document order) that a mutation of
    /// `kind` can make; `None` when it has fewer places.
    fn mutated(node: &Node, kind: usize, at: usize) -> Option<Node> {
        fn walk(n: &mut Node, kind: usize, left: &mut usize) -> bool {
            let here = match (&n.value, kind) {
                (NodeValue::Map(_), 0) | (NodeValue::Str(_), 1) | (NodeValue::Int(_), 2) | (NodeValue::Seq(_), 3) => {
                    true
                }
                (NodeValue::Map(m), 4) => !m.is_empty(),
                _ => false,
            };
            if here {
                if *left == 0 {
                    let loc = n.loc;
                    match (&mut n.value, kind) {
                        (NodeValue::Map(m), 0) => {
                            m.insert("zzUnknown".into(), Node::string("x", loc));
                        }
                        (NodeValue::Map(m), _) => {
                            m.shift_remove_index(0);
                        }
                        (v @ NodeValue::Str(_), _) => *v = NodeValue::Int(7),
                        (v @ NodeValue::Int(_), _) => *v = NodeValue::Str("x".into()),
                        (NodeValue::Seq(items), _) => {
                            if let Some(first) = items.first().cloned() {
                                items.push(first);
                            }
                        }
                        _ => {}
                    }
                    return true;
                }
                *left -= 1;
            }
            match &mut n.value {
                NodeValue::Map(m) => m.values_mut().any(|v| walk(v, kind, left)),
                NodeValue::Seq(items) => items.iter_mut().any(|v| walk(v, kind, left)),
                _ => false,
            }
        }
        let mut out = node.clone();
        let mut left = at;
        walk(&mut out, kind, &mut left).then_some(out)
    }

    /// The node validator decides validity exactly as the JSON one does, on every Kubernetes
    /// object of the fixtures and on each of them with a field added, removed, retyped or a
    /// list item repeated (unknown fields, missing required ones, wrong types, list-type
    /// duplicates), so skipping the JSON copy never changes a finding.
    #[test]
    fn the_node_validator_agrees_with_the_json_one() {
        let registry = crate::schema::registry::Registry::new(None).unwrap();
        let mut compiled: HashMap<(String, String), Option<jsonschema::Validator>> = HashMap::new();
        let mut per_kind: HashMap<(String, String), usize> = HashMap::new();
        let mut files = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))];
        let (mut checked, mut invalid) = (0, 0);
        while let Some(p) = files.pop() {
            if p.is_dir() {
                let mut entries: Vec<_> = std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()).collect();
                entries.sort();
                files.extend(entries);
                continue;
            }
            if !p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else { continue };
            for doc in parse(&text, FileId(0), Dialect::Yaml12, &Limits::default()).docs {
                let (Some(av), Some(kind)) = (doc.str_at(&["apiVersion"]), doc.str_at(&["kind"])) else { continue };
                let key = (av.to_string(), kind.to_string());
                // A few objects of each kind: the variety is in the kinds and the mutations.
                let seen = per_kind.entry(key.clone()).or_default();
                *seen += 1;
                if *seen > 3 {
                    continue;
                }
                // Kubernetes' kinds, Flux's and the catalog's CRDs, as a run resolves them.
                let resolved = registry.lookup(av, kind);
                let crate::schema::registry::Resolved::Schema { schema: Ok(fast), .. } = &*resolved else { continue };
                let Some(json) = compiled.entry(key).or_insert_with(|| build::<SerdeJson>(&fast.schema).ok()).as_ref()
                else {
                    continue;
                };
                let variants = (0..5).flat_map(|k| (0..6).map(move |at| (k, at)));
                for node in std::iter::once(doc.clone()).chain(variants.filter_map(|(k, at)| mutated(&doc, k, at))) {
                    let by_json = json.is_valid(&node.to_json());
                    assert_eq!(fast.fast.is_valid(&node), by_json, "{} in {}: {:?}", kind, p.display(), node.to_json());
                    checked += 1;
                    invalid += usize::from(!by_json);
                }
            }
        }
        println!("{checked} objects, {invalid} of them invalid, judged alike");
        assert!(checked > 1500 && invalid > 1000 && checked - invalid > 400, "{checked} objects, {invalid} invalid");
    }
}
