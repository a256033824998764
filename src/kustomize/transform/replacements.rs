//! `replacements`: copies one field of one source object into fields of target objects, as
//! kustomize's ReplacementTransformer does (it runs after every other builtin transformer).
//! Field paths are dotted (`spec.template.spec.containers.[name=main].image`), with `[k=v]`
//! list item selection, `*` for every item and numeric list indexes.

use crate::kustomize::kustomization::{Replacement, ReplacementSource, ReplacementTarget, ResIdSelector};
use crate::kustomize::resource::Resource;
use crate::kustomize::select::LabelSelector;
use crate::source::{Loc, Mapping, Node, Value};

/// A replacement that could not be applied (kustomize fails the build for each of these).
#[derive(Debug, PartialEq)]
pub struct ReplacementError {
    pub message: String,
    pub loc: Loc,
}

fn err(loc: Loc, message: impl Into<String>) -> ReplacementError {
    ReplacementError { message: message.into(), loc }
}

/// Applies the replacements in order, within the default object size bound.
pub fn apply(resources: &mut [Resource], replacements: &[Replacement]) -> Result<(), ReplacementError> {
    apply_bounded(resources, replacements, crate::source::Limits::default().max_object_nodes)
}

/// Applies the replacements in order. A replacement that copies a map or list into the object
/// it came from doubles it, so a few of them grow it exponentially: after each such
/// replacement every object is checked against `max_nodes`.
pub fn apply_bounded(
    resources: &mut [Resource],
    replacements: &[Replacement],
    max_nodes: usize,
) -> Result<(), ReplacementError> {
    for r in replacements {
        let value = source_value(resources, &r.source, r.loc)?;
        for t in &r.targets {
            apply_target(resources, &value, t)?;
        }
        if matches!(value.value, Value::Map(_) | Value::Seq(_))
            && let Some(big) = resources.iter().find(|res| res.node.exceeds_nodes(max_nodes))
        {
            return Err(err(
                r.loc,
                format!("replacement makes {} larger than {max_nodes} nodes (an exponential replacement?)", big.id()),
            ));
        }
    }
    Ok(())
}

/// Whether any of the object's ids (current or earlier ones, each with the kind it had then) is
/// selected.
fn selected_by(r: &Resource, s: &ResIdSelector) -> bool {
    let gvk = r.gvk();
    if s.group.as_ref().is_some_and(|g| *g != gvk.group) || s.version.as_ref().is_some_and(|v| *v != gvk.version) {
        return false;
    }
    let ns_eq = |a: &str, b: &str| a == b || (a.is_empty() && b == "default") || (a == "default" && b.is_empty());
    std::iter::once((r.kind(), r.name(), r.namespace()))
        .chain(r.previous.iter().map(|p| (p.kind.as_str(), p.name.as_str(), p.namespace.as_str())))
        .any(|(kind, name, ns)| {
            s.kind.as_ref().is_none_or(|k| k == kind)
                && s.name.as_ref().is_none_or(|n| n == name)
                && s.namespace.as_ref().is_none_or(|n| ns_eq(n, ns))
        })
}

fn describe(s: &ResIdSelector) -> String {
    [("group", &s.group), ("version", &s.version), ("kind", &s.kind), ("name", &s.name), ("namespace", &s.namespace)]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_value(resources: &[Resource], s: &ReplacementSource, loc: Loc) -> Result<Node, ReplacementError> {
    let mut matches = resources.iter().filter(|r| selected_by(r, &s.id));
    let Some(src) = matches.next() else {
        return Err(err(loc, format!("replacement source ({}) selects nothing", describe(&s.id))));
    };
    if matches.next().is_some() {
        return Err(err(loc, format!("replacement source ({}) selects more than one object", describe(&s.id))));
    }
    let segs = split_path(&s.field_path);
    let found = lookup(&src.node, &segs).filter(|n| !is_empty(n));
    let Some(value) = found else {
        return Err(err(loc, format!("fieldPath '{}' is missing in replacement source {}", s.field_path, src.id())));
    };
    let Some(delim) = &s.delimiter else { return Ok(value.clone()) };
    let text = value.scalar_text().ok_or_else(|| err(loc, "the delimiter option can only be used with scalars"))?;
    let parts: Vec<&str> = text.split(delim.as_str()).collect();
    let part = usize::try_from(s.index)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| err(loc, format!("options.index {} is out of bounds for value {text}", s.index)))?;
    Ok(Node::new(Value::Str((*part).to_string()), value.loc))
}

fn apply_target(resources: &mut [Resource], value: &Node, t: &ReplacementTarget) -> Result<(), ReplacementError> {
    let labels = t.label_selector.as_deref().map(LabelSelector::parse).transpose().map_err(|e| err(t.loc, e))?;
    let annotations =
        t.annotation_selector.as_deref().map(LabelSelector::parse).transpose().map_err(|e| err(t.loc, e))?;
    for r in resources.iter_mut() {
        if !selected_by(r, &t.select)
            || t.reject.iter().any(|x| selected_by(r, x))
            || labels.as_ref().is_some_and(|l| !l.matches(r.node.path(&["metadata", "labels"])))
            || annotations.as_ref().is_some_and(|a| !a.matches(r.node.path(&["metadata", "annotations"])))
        {
            continue;
        }
        for fp in &t.field_paths {
            let segs = split_path(&fp.value);
            let mut hits = 0;
            set_at(&mut r.node, &segs, value, t, &mut hits, fp.loc);
            if hits == 0 {
                return Err(err(
                    fp.loc,
                    format!("unable to find field '{}' in replacement target {}", fp.value, r.id()),
                ));
            }
        }
    }
    Ok(())
}

/// Splits a field path the way kustomize does (kyaml's `SmarterPathSplitter`): on dots, where
/// `\.` is a literal dot; a bracketed run that spans dots is one segment, kept with its
/// brackets when it selects a list item (`[name=x.y]`) and without them when it is a map key
/// (`[limits.memory]` is the key `limits.memory`). A leading dot is dropped.
pub fn split_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for (i, p) in path.split('.').enumerate() {
        match parts.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(p);
            }
            _ if i == 0 && p.is_empty() && path.len() > 1 => {}
            _ => parts.push(p.to_string()),
        }
    }
    let mut out = Vec::with_capacity(parts.len());
    let mut it = parts.into_iter();
    while let Some(elem) = it.next() {
        if !elem.starts_with('[') || elem.ends_with(']') {
            out.push(elem);
            continue;
        }
        let mut joined = elem;
        for next in it.by_ref() {
            joined.push('.');
            joined.push_str(&next);
            if next.ends_with(']') {
                break;
            }
        }
        if joined.contains('=') {
            out.push(joined);
        } else {
            out.push(joined.trim_matches(['[', ']']).to_string());
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// `[k=v]` → `(k, v)`.
fn item_selector(seg: &str) -> Option<(&str, &str)> {
    seg.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

fn is_empty(n: &Node) -> bool {
    match &n.value {
        Value::Null(_) => true,
        Value::Map(m) => m.is_empty(),
        Value::Seq(s) => s.is_empty(),
        _ => false,
    }
}

fn item_matches(item: &Node, k: &str, v: &str) -> bool {
    if k.is_empty() {
        return item.scalar_text().as_deref() == Some(v);
    }
    item.get(k).and_then(Node::scalar_text).as_deref() == Some(v)
}

fn lookup<'a>(node: &'a Node, segs: &[String]) -> Option<&'a Node> {
    let Some((seg, rest)) = segs.split_first() else { return Some(node) };
    match &node.value {
        Value::Map(m) => lookup(m.get(seg.as_str())?, rest),
        Value::Seq(items) => {
            if let Some((k, v)) = item_selector(seg) {
                lookup(items.iter().find(|i| item_matches(i, k, v))?, rest)
            } else {
                lookup(items.get(seg.parse::<usize>().ok()?)?, rest)
            }
        }
        _ => None,
    }
}

/// Writes `value` at every node the path reaches, creating missing fields with `create`.
fn set_at(node: &mut Node, segs: &[String], value: &Node, t: &ReplacementTarget, hits: &mut usize, loc: Loc) {
    let Some((seg, rest)) = segs.split_first() else {
        *hits += 1;
        set_value(node, value, t);
        return;
    };
    if node.is_null() && t.create {
        node.value = if item_selector(seg).is_some() { Value::Seq(Vec::new()) } else { Value::Map(Box::default()) };
    }
    match &mut node.value {
        Value::Map(m) => {
            if !m.contains_key(seg.as_str()) {
                if !t.create {
                    return;
                }
                m.insert(seg.clone(), Node::new(Value::NULL, loc));
            }
            if let Some(child) = m.get_mut(seg.as_str()) {
                set_at(child, rest, value, t, hits, loc);
            }
        }
        Value::Seq(items) => {
            if seg == "*" {
                items.iter_mut().for_each(|i| set_at(i, rest, value, t, hits, loc));
            } else if let Some((k, v)) = item_selector(seg) {
                let mut any = false;
                for i in items.iter_mut().filter(|i| item_matches(i, k, v)) {
                    any = true;
                    set_at(i, rest, value, t, hits, loc);
                }
                if !any && t.create && !k.is_empty() {
                    let mut m = Mapping::default();
                    m.insert(k.to_string(), Node::string(v, loc));
                    items.push(Node::new(Value::Map(Box::new(m)), loc));
                    if let Some(last) = items.last_mut() {
                        set_at(last, rest, value, t, hits, loc);
                    }
                }
            } else if let Some(i) = seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                set_at(i, rest, value, t, hits, loc);
            }
        }
        _ => {}
    }
}

/// kustomize copies only the text into an existing scalar (its type stays), and the whole
/// node elsewhere; with a delimiter, one part of the target's text is replaced.
fn set_value(target: &mut Node, value: &Node, t: &ReplacementTarget) {
    let mut value = value.clone();
    if let Some(delim) = &t.delimiter {
        let cur = target.scalar_text().unwrap_or_default();
        let mut parts: Vec<String> = cur.split(delim.as_str()).map(str::to_string).collect();
        let v = value.scalar_text().unwrap_or_default();
        match usize::try_from(t.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        value = Node::new(Value::Str(parts.join(delim)), value.loc);
    }
    // kyaml keeps a string target a string; any other scalar (or a created field) takes the
    // text untagged, so `8080` becomes a number there.
    match (&target.value, value.scalar_text()) {
        (Value::Str(_), Some(text)) => target.value = Value::Str(text),
        (Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null(_), Some(text)) => {
            target.value = resolve_plain(&text);
            target.loc = value.loc;
        }
        _ => *target = value,
    }
}

/// The value an untagged plain scalar with this text has (YAML 1.2 core schema).
fn resolve_plain(text: &str) -> Value {
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(form) = crate::source::NullForm::of_plain(text) {
        return Value::Null(form);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Int(i);
    }
    if text.chars().any(|c| c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn resources(text: &str) -> Vec<Resource> {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect()
    }

    fn sel(kind: &str, name: Option<&str>) -> ResIdSelector {
        ResIdSelector { kind: Some(kind.into()), name: name.map(str::to_string), ..ResIdSelector::default() }
    }

    fn target(kind: &str, path: &str) -> ReplacementTarget {
        ReplacementTarget {
            select: sel(kind, None),
            reject: Vec::new(),
            label_selector: None,
            annotation_selector: None,
            field_paths: vec![crate::kustomize::kustomization::Located { value: path.into(), loc: Loc::NONE }],
            delimiter: None,
            index: 0,
            create: false,
            loc: Loc::NONE,
        }
    }

    const RES: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {tag: '1.2', port: '8080'}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: main, image: 'nginx:1.0'}\n      - {name: side, image: 'side:1'}\n";

    fn replacement(path: &str, t: ReplacementTarget) -> Replacement {
        Replacement {
            source: ReplacementSource {
                id: sel("ConfigMap", Some("cfg")),
                field_path: path.into(),
                delimiter: None,
                index: 0,
            },
            targets: vec![t],
            loc: Loc::NONE,
        }
    }

    #[test]
    fn copies_into_list_item_with_delimiter() {
        let mut rs = resources(RES);
        let mut t = target("Deployment", "spec.template.spec.containers.[name=main].image");
        t.delimiter = Some(":".into());
        t.index = 1;
        apply(&mut rs, &[replacement("data.tag", t)]).unwrap_or_else(|e| panic!("{e:?}"));
        let c = rs[1].node.path(&["spec", "template", "spec", "containers"]).and_then(Node::as_seq).cloned();
        let images: Vec<String> =
            c.unwrap_or_default().iter().filter_map(|c| c.str_at(&["image"]).map(str::to_string)).collect();
        assert_eq!(images, ["nginx:1.2", "side:1"]);
    }

    #[test]
    fn missing_target_field_fails_unless_create() {
        let mut rs = resources(RES);
        let t = target("Deployment", "metadata.annotations.port");
        assert!(apply(&mut rs, &[replacement("data.port", t)]).is_err());
        let mut t = target("Deployment", "metadata.annotations.port");
        t.create = true;
        apply(&mut rs, &[replacement("data.port", t)]).unwrap_or_else(|e| panic!("{e:?}"));
        let port = rs[1].node.path(&["metadata", "annotations", "port"]).map(|n| n.value.clone());
        assert_eq!(port, Some(Value::Int(8080)));
    }

    #[test]
    fn source_must_select_one_object() {
        let mut rs = resources(RES);
        let mut r = replacement("data.port", target("Deployment", "metadata.name"));
        r.source.id = sel("Secret", None);
        assert!(apply(&mut rs, &[r]).is_err());
        assert_eq!(split_path("a.[name=x.y].b"), ["a", "[name=x.y]", "b"]);
    }

    #[test]
    fn field_paths_split_like_kyaml() {
        assert_eq!(split_path("data.[limits.memory]"), ["data", "limits.memory"]);
        assert_eq!(split_path("metadata.annotations.[a.b/c]"), ["metadata", "annotations", "a.b/c"]);
        assert_eq!(split_path("spec.[name=a]"), ["spec", "[name=a]"]);
        assert_eq!(split_path(r"data.a\.b.c"), ["data", "a.b", "c"]);
        assert_eq!(split_path(".spec.replicas"), ["spec", "replicas"]);
        assert_eq!(split_path("spec.[unclosed.x"), ["spec", "unclosed.x"]);
    }
}
