//! Object-for-object comparison of two renders (fluxgate's and `kubectl kustomize`'s), shared by
//! the differential test and `examples/parity_compare.rs` (used by `scripts/parity-real.sh`), so
//! the corpus and the real-world check judge agreement the same way: object ids in order, then
//! the first field path at which the values differ.

use fluxgate::source::yaml::{Dialect, parse};
use fluxgate::source::{FileId, Limits, Node, Value};

/// The documents of a render, or the parse error (our own output must always parse).
pub fn docs(yaml: &str) -> Result<Vec<Node>, String> {
    let p = parse(yaml, FileId(0), Dialect::Yaml12, &Limits::default());
    match p.error {
        Some(e) => Err(format!("unparseable output: {e:?}")),
        None => Ok(p.docs),
    }
}

/// The first path at which two values differ.
pub fn first_diff(a: &Node, b: &Node, path: &str) -> Option<String> {
    match (&a.value, &b.value) {
        (Value::Map(x), Value::Map(y)) => {
            for (k, v) in x.iter() {
                match y.get(k) {
                    None => return Some(format!("{path}.{k}: only in fluxgate")),
                    Some(w) => {
                        if let Some(d) = first_diff(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{path}.{k}: only in kustomize"))
        }
        (Value::Seq(x), Value::Seq(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: {} items in fluxgate, {} in kustomize", x.len(), y.len()));
            }
            x.iter().zip(y).enumerate().find_map(|(i, (v, w))| first_diff(v, w, &format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: fluxgate {:?} != kustomize {:?}", a.to_json(), b.to_json())),
    }
}

/// `Kind/namespace/name` of an object (`_` for no namespace, `?` for a missing field).
pub fn id(n: &Node) -> String {
    format!(
        "{}/{}/{}",
        n.str_at(&["kind"]).unwrap_or("?"),
        n.str_at(&["metadata", "namespace"]).unwrap_or("_"),
        n.str_at(&["metadata", "name"]).unwrap_or("?")
    )
}

/// Compares the two renders; `None` when they agree object for object and in order.
pub fn compare(ours: &str, theirs: &str) -> Option<String> {
    let a = match docs(ours) {
        Ok(d) => d,
        Err(e) => return Some(format!("fluxgate output: {e}")),
    };
    let b = match docs(theirs) {
        Ok(d) => d,
        Err(e) => return Some(format!("kustomize output: {e}")),
    };
    let ids_a: Vec<String> = a.iter().map(id).collect();
    let ids_b: Vec<String> = b.iter().map(id).collect();
    if ids_a != ids_b {
        return Some(objects_differ(&ids_a, &ids_b));
    }
    a.iter().zip(&b).find_map(|(x, y)| first_diff(x, y, "").map(|d| format!("{}: {d}", id(x))))
}

/// Describes differing id lists: the first position where they part, plus the full lists when short.
fn objects_differ(a: &[String], b: &[String]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let mut s = format!(
        "objects differ at #{at} ({} in fluxgate, {} in kustomize): fluxgate {:?}, kustomize {:?}",
        a.len(),
        b.len(),
        a.get(at).map_or("(end)", |s| s.as_str()),
        b.get(at).map_or("(end)", |s| s.as_str())
    );
    let only_a: Vec<&String> = a.iter().filter(|x| !b.contains(x)).take(5).collect();
    let only_b: Vec<&String> = b.iter().filter(|x| !a.contains(x)).take(5).collect();
    if !only_a.is_empty() || !only_b.is_empty() {
        s.push_str(&format!("; only in fluxgate {only_a:?}, only in kustomize {only_b:?}"));
    }
    s
}
