//! Field-spec driven edits for builtin plugin configurations (`transformers:` entries), which
//! name every field they touch themselves: no builtin table applies. Also the
//! `ValueAddTransformer`'s value insertion.

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::Resource;
use crate::kustomize::transform::labels::set_pairs;
use crate::source::{Loc, Node, Value};

/// Writes `pairs` into the maps at `fields` (`LabelTransformer`, `AnnotationsTransformer`).
pub fn set_pairs_at(resources: &mut [Resource], pairs: &[(String, Node)], fields: &[CustomField], loc: Loc) {
    // With nothing to write, kustomize does not create the maps either.
    if pairs.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for f in fields.iter().filter(|f| f.applies(&gvk)) {
            set_pairs(&mut r.node, &split(&f.path), f.create, pairs, loc);
        }
    }
}

/// Adds a prefix and suffix to the strings at `fields` (a `PrefixSuffixTransformer` whose
/// field specs do not include `metadata/name`, so nothing is renamed).
pub fn affix(resources: &mut [Resource], prefix: &str, suffix: &str, fields: &[CustomField]) {
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for f in fields.iter().filter(|f| f.applies(&gvk)) {
            visit(&mut r.node, &split(&f.path), false, Loc::NONE, &mut |n| {
                if let Value::Str(s) = &n.value {
                    n.value = Value::Str(format!("{prefix}{s}{suffix}"));
                }
            });
        }
    }
}

/// Kinds a prefix or suffix plugin never renames (their names are fixed by the API).
const AFFIX_SKIP: &[&str] = &["CustomResourceDefinition", "APIService", "Namespace"];

/// A `PrefixTransformer` / `SuffixTransformer` pass: for each field spec that selects an
/// object, `metadata/name` renames it (references follow), any other path gets the affix.
pub fn affix_by_specs(resources: &mut [Resource], prefix: &str, suffix: &str, fields: &[CustomField]) {
    for r in resources.iter_mut() {
        let kind = r.kind().to_string();
        if AFFIX_SKIP.contains(&kind.as_str()) {
            continue;
        }
        let gvk = r.gvk();
        for f in fields.iter().filter(|f| f.applies(&gvk)) {
            if f.path == "metadata/name" {
                let name = format!("{prefix}{}{suffix}", r.name());
                r.set_name(name);
                continue;
            }
            affix(std::slice::from_mut(r), prefix, suffix, std::slice::from_ref(f));
        }
    }
}

/// A `ValueAddTransformer` field path split on `/` (`\/` keeps a slash in a key).
pub fn value_path(path: &str) -> Vec<String> {
    crate::kustomize::fieldspec::split_escaped(path)
}

/// Go's `filepath.Join` of parts (empty parts dropped, `.` and `..` resolved lexically).
fn join_clean(parts: &[String]) -> String {
    let absolute = parts.first().is_some_and(String::is_empty);
    let mut out: Vec<&str> = Vec::new();
    for p in parts.iter().flat_map(|p| p.split('/')) {
        match p {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            ".." if absolute => {}
            _ => out.push(p),
        }
    }
    let body = out.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) if parts.iter().any(|p| !p.is_empty()) => ".".into(),
        _ => body,
    }
}

/// kustomize's `InsertPathPart`: `part` inserted at position `pos` of a `/`-separated path
/// (an absolute path's leading `/` does not count as a position).
pub fn insert_path_part(path: &str, pos: usize, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let mut parts: Vec<String> = if path.is_empty() {
        Vec::new()
    } else if path == "/" {
        vec![String::new()]
    } else {
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let mut v: Vec<String> = trimmed.split('/').map(str::to_string).collect();
        if path.ends_with('/') && path.len() > 1 {
            v.push(String::new());
        }
        v
    };
    let mut pos = pos.min(parts.len());
    if parts.first().is_some_and(String::is_empty) && pos < parts.len() {
        pos += 1;
    }
    parts.insert(pos, part.to_string());
    join_clean(&parts)
}

/// Writes `value` at `path` (created as needed), or inserts it into the path-like string
/// already there when `position` > 0. Fails where the path holds a map or list.
pub fn value_add(node: &mut Node, path: &[String], value: &str, position: usize, loc: Loc) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else { return Ok(()) };
    let mut cur = node;
    for key in parents {
        let m = cur.as_map_mut().ok_or_else(|| format!("wrong node kind: expected a map at '{key}'"))?;
        if !m.contains_key(key.as_str()) {
            m.insert(key.clone(), Node::empty_map(loc));
        }
        cur = m.get_mut(key.as_str()).ok_or_else(|| format!("cannot create '{key}'"))?;
        if cur.is_null() {
            *cur = Node::empty_map(loc);
        }
    }
    let m = cur.as_map_mut().ok_or_else(|| format!("wrong node kind: expected a map holding '{last}'"))?;
    let current = match m.get(last.as_str()).map(|n| &n.value) {
        None | Some(Value::Null(_)) => String::new(),
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(_) => return Err(format!("wrong node kind: expected ScalarNode at '{last}'")),
    };
    let new = if position > 0 { insert_path_part(&current, position - 1, value) } else { value.to_string() };
    m.insert(last.clone(), Node::string(new, loc));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    #[test]
    fn only_listed_fields_change() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, x: v}\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        let f = |p: &str, create| CustomField { path: p.into(), create, ..CustomField::default() };
        set_pairs_at(&mut rs, &[("t".into(), Node::string("1", Loc::NONE))], &[f("metadata/labels", true)], Loc::NONE);
        affix(&mut rs, "p-", "", &[f("spec/x", false)]);
        assert_eq!(rs[0].node.str_at(&["metadata", "labels", "t"]), Some("1"));
        assert_eq!(rs[0].node.str_at(&["spec", "selector", "matchLabels", "t"]), None);
        assert_eq!(rs[0].node.str_at(&["spec", "x"]), Some("p-v"));
    }

    #[test]
    fn path_parts_insert_like_kustomize() {
        assert_eq!(insert_path_part("", 3, "P"), "P");
        assert_eq!(insert_path_part("/", 0, "P"), "/P");
        assert_eq!(insert_path_part("pie", 0, "P"), "P/pie");
        assert_eq!(insert_path_part("/pie", 0, "P"), "/P/pie");
        assert_eq!(insert_path_part("raw", 1, "P"), "raw/P");
        assert_eq!(insert_path_part("/raw", 9, "P"), "/raw/P");
        assert_eq!(insert_path_part("a/b/c", 1, "P"), "a/P/b/c");
        assert_eq!(value_path("a/b\\/c/d"), ["a", "b/c", "d"]);
    }

    #[test]
    fn value_add_creates_replaces_and_refuses_maps() {
        let mut n = parse("spec: {p: x/y, m: {k: v}}\n", FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0);
        let p = |s: &str| value_path(s);
        assert_eq!(value_add(&mut n, &p("spec/p"), "V", 2, Loc::NONE), Ok(()));
        assert_eq!(n.str_at(&["spec", "p"]), Some("x/V/y"));
        assert_eq!(value_add(&mut n, &p("spec/new/leaf"), "V", 0, Loc::NONE), Ok(()));
        assert_eq!(n.str_at(&["spec", "new", "leaf"]), Some("V"));
        assert!(value_add(&mut n, &p("spec/m"), "V", 0, Loc::NONE).is_err());
    }
}
