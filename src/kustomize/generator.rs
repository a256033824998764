//! `configMapGenerator` / `secretGenerator`: builds the objects, and the content-hash name
//! suffix exactly as kustomize computes it.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::kustomize::kustomization::{GeneratorOptions, GeneratorSpec};
use crate::kustomize::resource::Resource;
use crate::source::{Loc, Mapping, Node, Value};

/// One key of generated data, with where its value came from.
pub struct DataEntry {
    pub key: String,
    pub value: Vec<u8>,
    pub loc: Loc,
}

/// Builds the ConfigMap or Secret for a generator from already-read data entries.
pub fn make_object(spec: &GeneratorSpec, global: &GeneratorOptions, entries: Vec<DataEntry>) -> Resource {
    let loc = spec.loc;
    let mut meta = Mapping::default();
    meta.insert("name".into(), Node::string(spec.name.clone(), loc));
    if let Some(ns) = &spec.namespace {
        meta.insert("namespace".into(), Node::string(ns.clone(), loc));
    }
    let mut labels: Vec<(String, Node)> = global.labels.clone();
    labels.extend(spec.options.labels.iter().cloned());
    let mut annotations: Vec<(String, Node)> = global.annotations.clone();
    annotations.extend(spec.options.annotations.iter().cloned());
    if !labels.is_empty() {
        meta.insert("labels".into(), Node::new(Value::Map(Box::new(labels.into_iter().collect())), loc));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Node::new(Value::Map(Box::new(annotations.into_iter().collect())), loc));
    }
    let mut obj = Mapping::default();
    obj.insert("apiVersion".into(), Node::string("v1", loc));
    obj.insert("kind".into(), Node::string(if spec.is_secret { "Secret" } else { "ConfigMap" }, loc));
    obj.insert("metadata".into(), Node::new(Value::Map(Box::new(meta)), loc));
    let mut data = Mapping::default();
    let mut binary = Mapping::default();
    for e in entries {
        if spec.is_secret {
            data.insert(e.key, Node::string(encode_base64(&e.value), e.loc));
        } else {
            match String::from_utf8(e.value) {
                Ok(s) => {
                    data.insert(e.key, Node::string(s, e.loc));
                }
                Err(err) => {
                    binary.insert(e.key, Node::string(encode_base64(err.as_bytes()), e.loc));
                }
            }
        }
    }
    // A generated Secret always has `data` (`{}` when empty); a ConfigMap only when non-empty.
    if !data.is_empty() || spec.is_secret {
        obj.insert("data".into(), Node::new(Value::Map(Box::new(data)), loc));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Node::new(Value::Map(Box::new(binary)), loc));
    }
    if spec.is_secret {
        obj.insert("type".into(), Node::string(spec.secret_type.clone().unwrap_or_else(|| "Opaque".into()), loc));
    }
    // kustomize merges the options as plain booleans: a global `true` wins over a local `false`.
    if spec.options.immutable.unwrap_or(false) || global.immutable.unwrap_or(false) {
        obj.insert("immutable".into(), Node::new(Value::Bool(true), loc));
    }
    let mut r = Resource::new(Node::new(Value::Map(Box::new(obj)), loc));
    r.generated = true;
    r.needs_hash =
        !(spec.options.disable_name_suffix_hash.unwrap_or(false) || global.disable_name_suffix_hash.unwrap_or(false));
    r
}

/// Base64 as kustomize writes generated data: an encoding of 70 characters or more is cut
/// into lines of 70, each ending in a line break (the last one too); a shorter one stays one
/// line. The content hash is computed on this form, so it must match to the byte.
pub fn encode_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    if b64.len() < LINE {
        return b64;
    }
    let mut out = String::with_capacity(b64.len() + b64.len() / LINE + 1);
    for chunk in b64.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Splits a `KEY=VALUE` literal; surrounding quotes on the value are removed as kustomize does.
pub fn split_literal(lit: &str) -> Option<(String, String)> {
    let (k, v) = lit.split_once('=')?;
    let v = if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    Some((k.to_string(), v.to_string()))
}

/// One env-file entry: key, value and 1-based line.
pub type EnvEntry = (String, String, u32);

/// Parses an env file as kustomize v5.5 does: `KEY=VALUE` lines; a line without `=` is a key
/// with an empty value (kustomize does not read its environment); a line whose key is empty
/// (`=value`), blank lines and `#` comments are skipped. Only leading space is trimmed.
/// Returns the entries or the 1-based line of the first bad line.
pub fn parse_env_file(text: &str) -> Result<Vec<EnvEntry>, (u32, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        // kustomize trims only leading space: `KEY = v` has the key `KEY ` and value ` v`.
        let t = line.trim_start_matches('\u{feff}').trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        if k.is_empty() {
            continue;
        }
        out.push((k.to_string(), v.to_string(), line_no));
    }
    Ok(out)
}

/// kustomize's content hash suffix of a generated ConfigMap or Secret (10 characters).
pub fn hash_suffix(obj: &Node) -> String {
    let kind = obj.str_at(&["kind"]).unwrap_or("");
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), kind.into());
    m.insert("name".into(), "".into());
    m.insert("data".into(), obj.get("data").map_or(serde_json::Value::String(String::new()), Node::to_json));
    if kind == "Secret" {
        m.insert("type".into(), obj.get("type").map_or(serde_json::Value::String(String::new()), Node::to_json));
        if let Some(s) = obj.get("stringData") {
            m.insert("stringData".into(), s.to_json());
        }
    } else if let Some(b) = obj.get("binaryData") {
        m.insert("binaryData".into(), b.to_json());
    }
    let json = serde_json::Value::Object(m).to_string();
    let json = json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// Merges a generator's result into an existing generated object (`behavior: merge`).
pub fn merge_into(existing: &mut Node, new: &Node) {
    for field in ["data", "binaryData"] {
        if let Some(nd) = new.get(field).and_then(Node::as_map)
            && let Some(m) = existing.ensure_map(&[field], new.loc)
        {
            for (k, v) in nd {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    for field in ["labels", "annotations"] {
        if let Some(nd) = new.path(&["metadata", field]).and_then(Node::as_map)
            && let Some(m) = existing.ensure_map(&["metadata", field], new.loc)
        {
            for (k, v) in nd {
                m.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Replaces an existing generated object's data (`behavior: replace`), keeping its name.
pub fn replace_into(existing: &mut Node, new: &Node) {
    if let Some(m) = existing.as_map_mut() {
        m.shift_remove("data");
        m.shift_remove("binaryData");
    }
    merge_into(existing, new);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn node(text: &str) -> Node {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0)
    }

    #[test]
    fn base64_wraps_at_seventy_like_kustomize() {
        assert_eq!(encode_base64(b"hi"), "aGk=");
        // 51 bytes encode to 68 characters: one line; 52 bytes to 72: two lines.
        assert!(!encode_base64(&[b'a'; 51]).contains('\n'));
        let two = encode_base64(&[b'a'; 52]);
        assert_eq!(two.lines().map(str::len).collect::<Vec<_>>(), [70, 2]);
        assert!(two.ends_with('\n'));
        // 105 bytes encode to 140 characters: two full lines, each with its line break.
        assert_eq!(encode_base64(&[0u8; 105]).lines().map(str::len).collect::<Vec<_>>(), [70, 70]);
    }

    #[test]
    fn literal_quotes_are_stripped() {
        assert_eq!(split_literal("a=\"b=c\""), Some(("a".into(), "b=c".into())));
        assert_eq!(split_literal("novalue"), None);
    }

    #[test]
    fn env_file_key_without_value_is_empty_and_empty_key_skipped() {
        let kv = parse_env_file("# c\nA=1\n\nB\n=skipped\nC  \n").unwrap_or_default();
        let keys: Vec<(&str, &str)> = kv.iter().map(|(k, v, _)| (k.as_str(), v.as_str())).collect();
        assert_eq!(keys, [("A", "1"), ("B", ""), ("C  ", "")]);
    }

    #[test]
    fn env_file_keeps_spaces_around_equals_like_kustomize() {
        let kv = parse_env_file("  B = spaced\nC=x \n").unwrap_or_default();
        assert_eq!(kv[0].0, "B ");
        assert_eq!(kv[0].1, " spaced");
        assert_eq!(kv[1].1, "x ");
    }

    #[test]
    fn a_global_true_option_wins_over_a_local_false() {
        let spec = GeneratorSpec {
            is_secret: false,
            name: "g".into(),
            namespace: None,
            behavior: crate::kustomize::kustomization::Behavior::Create,
            literals: Vec::new(),
            files: Vec::new(),
            envs: Vec::new(),
            secret_type: None,
            options: GeneratorOptions {
                disable_name_suffix_hash: Some(false),
                immutable: Some(false),
                ..Default::default()
            },
            loc: Loc::NONE,
        };
        let global =
            GeneratorOptions { disable_name_suffix_hash: Some(true), immutable: Some(true), ..Default::default() };
        let r = make_object(&spec, &global, Vec::new());
        assert!(!r.needs_hash);
        assert_eq!(r.node.get("immutable").and_then(Node::as_bool), Some(true));
        let r = make_object(&spec, &GeneratorOptions::default(), Vec::new());
        assert!(r.needs_hash && r.node.get("immutable").is_none());
    }

    #[test]
    fn hash_is_stable_and_ignores_name() {
        let a = node("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n");
        let b = node("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, labels: {x: y}}\ndata: {k: v}\n");
        assert_eq!(hash_suffix(&a), hash_suffix(&b));
        assert_eq!(hash_suffix(&a).len(), 10);
    }
}
