//! HelmRelease values against the chart's `values.schema.json`, for charts kept in this
//! repository. Helm validates the coalesced values (chart defaults, then `valuesFrom` in
//! order, then `spec.values`) at install time; a mismatch fails the release in the cluster
//! after the merge, so the gate checks the same merge first. Every merged value keeps the
//! location it came from, so a violation points at the `spec.values` line (or the ConfigMap
//! entry, or the chart default) that set it.

use crate::rules::Rule;
use crate::schema::display_path;
use crate::schema::loc_at;
use crate::schema::validate::compile;
use crate::source::{Loc, Mapping, Node, RelPath, Value, yaml};

use super::graph::{
    Cluster, GraphFinding, GraphOptions, HELM_GROUP, ValuesFrom, field_loc, flux_path, qualified, resolve_values_from,
};

const CHART_PATH: &[&str] = &["spec", "chart", "spec", "chart"];

/// Validates every HelmRelease whose chart is a directory of this repository with a
/// `values.schema.json`.
pub(crate) fn check(c: &Cluster, opts: &GraphOptions) -> Vec<GraphFinding> {
    let mut out = Vec::new();
    for o in c.of_kind(HELM_GROUP, "HelmRelease") {
        let r = o.resource;
        let Some(source) = r.node.path(&["spec", "chart", "spec", "sourceRef"]) else { continue };
        let kind = source.str_at(&["kind"]).unwrap_or("");
        let ns = source.str_at(&["namespace"]).unwrap_or(r.namespace());
        let name = source.str_at(&["name"]).unwrap_or("");
        if !opts.is_this_repo(kind, ns, name) {
            continue;
        }
        let Some(chart) = r.node.str_at(CHART_PATH) else { continue };
        let Some(dir) = flux_path(chart) else { continue };
        let Some(schema_path) = dir.join("values.schema.json") else { continue };
        if !c.repo.is_file(&schema_path) {
            continue;
        }
        let chart_loc = field_loc(&r.node, CHART_PATH);
        let fail = |message: String, loc: Loc| {
            c.finding(
                o,
                Rule::FluxHelmValuesInvalid,
                message,
                "fix the values (or the chart's values.schema.json); helm-controller fails the release on them",
                loc,
            )
        };
        let schema = c
            .repo
            .read(&schema_path)
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.text).map_err(|e| e.to_string()))
            .and_then(compile);
        let schema = match schema {
            Ok(s) => s,
            Err(e) => {
                out.push(fail(
                    format!("chart {chart} of HelmRelease '{}': {schema_path}: {e}", qualified(r)),
                    chart_loc,
                ));
                continue;
            }
        };
        let values = merged_values(c, r, &dir);
        for v in schema.validate(&values) {
            let loc = loc_at(&values, &v.path);
            let at = if v.path.is_empty() { "the values".to_string() } else { display_path(&v.path) };
            let mut f = fail(
                format!("HelmRelease '{}' values fail {schema_path}: {at}: {}", qualified(r), v.message),
                if loc.is_none() { field_loc(&r.node, &["spec", "values"]) } else { loc },
            );
            if let Some(h) = v.help {
                f.finding.help = Some(h);
            }
            out.push(f);
        }
    }
    out
}

/// The values Helm validates: the chart's `values.yaml`, then each resolvable `valuesFrom`
/// entry, then `spec.values`, merged the way Helm coalesces them.
fn merged_values(c: &Cluster, r: &crate::kustomize::resource::Resource, dir: &RelPath) -> Node {
    let mut merged = Node::empty_map(Loc::NONE);
    if let Some(defaults) = dir.join("values.yaml").and_then(|p| c.repo.load_yaml(&p).ok())
        && let Some(d) = defaults.docs.first()
    {
        merge(&mut merged, d.clone());
    }
    merge(&mut merged, release_values(c, r).values);
    merged
}

/// A HelmRelease's own values (what helm-controller passes to Helm over the chart's
/// defaults), and the text of every value read from a Secret (never to be shown in a report).
pub(crate) struct ReleaseValues {
    pub values: Node,
    pub secrets: Vec<String>,
}

/// Each resolvable `valuesFrom` entry in order, then `spec.values`, merged the way
/// helm-controller merges them (entries it cannot resolve are left out; the graph check
/// reports them).
pub(crate) fn release_values(c: &Cluster, r: &crate::kustomize::resource::Resource) -> ReleaseValues {
    let mut merged = Node::empty_map(Loc::NONE);
    let mut secrets = Vec::new();
    for item in r.node.path(&["spec", "valuesFrom"]).and_then(Node::as_seq).into_iter().flatten() {
        let ValuesFrom::Found { text, loc } = resolve_values_from(c, r, item) else { continue };
        let layer = match item.str_at(&["targetPath"]).filter(|t| !t.is_empty()) {
            Some(path) => match at_target_path(path, Node::string(text.clone(), loc)) {
                Some(n) => n,
                None => continue,
            },
            None => {
                let parsed = yaml::parse(&text, loc.file, yaml::Dialect::Yaml12, &c.repo.limits);
                let Some(mut doc) = parsed.docs.into_iter().next() else { continue };
                match block_offset(c, &text, loc) {
                    // A literal block scalar: every embedded line is a file line, shifted.
                    Some(indent) => shift_locs(&mut doc, loc, indent),
                    // Positions inside a quoted or folded string are not file positions.
                    None => doc.set_loc_deep(loc),
                }
                doc
            }
        };
        if item.str_at(&["kind"]) == Some("Secret") {
            collect_scalars(&layer, &mut secrets);
        }
        merge(&mut merged, layer);
    }
    if let Some(v) = r.node.path(&["spec", "values"]) {
        merge(&mut merged, v.clone());
    }
    ReleaseValues { values: merged, secrets }
}

/// Every scalar's text in a values tree (the secret values to mask).
fn collect_scalars(n: &Node, out: &mut Vec<String>) {
    match &n.value {
        Value::Map(m) => m.values().for_each(|v| collect_scalars(v, out)),
        Value::Seq(s) => s.iter().for_each(|v| collect_scalars(v, out)),
        _ => out.extend(n.scalar_text().filter(|t| !t.is_empty())),
    }
}

/// When `text` (a ConfigMap/Secret value at `loc`) is a literal block scalar whose lines
/// appear verbatim in the file from `loc` on, the column offset of its lines; else `None`.
fn block_offset(c: &Cluster, text: &str, loc: Loc) -> Option<u32> {
    let file = c.repo.file_of(loc)?;
    let indent = loc.col.checked_sub(1)?;
    for (i, want) in text.lines().enumerate() {
        let line = file.line_text(loc.line + u32::try_from(i).ok()?)?;
        let got = if want.is_empty() { line.trim() } else { line.get(indent as usize..)? };
        if got != want {
            return None;
        }
    }
    Some(indent)
}

/// Moves locations parsed from embedded text (line 1 = the text's first line) to file
/// positions, the text starting at `at` and indented by `indent` columns.
fn shift_locs(node: &mut Node, at: Loc, indent: u32) {
    if node.loc.is_none() {
        node.loc = at;
    } else {
        node.loc = Loc::new(at.file, at.line + node.loc.line.saturating_sub(1), node.loc.col + indent);
    }
    match &mut node.value {
        Value::Seq(s) => s.iter_mut().for_each(|n| shift_locs(n, at, indent)),
        Value::Map(m) => m.values_mut().for_each(|n| shift_locs(n, at, indent)),
        _ => {}
    }
}

/// `a.b.c` + value → `{a: {b: {c: value}}}`; `None` for Helm's list and escape syntax, which
/// this check does not model.
fn at_target_path(path: &str, value: Node) -> Option<Node> {
    if path.contains(['[', ']', '\\']) {
        return None;
    }
    let loc = value.loc;
    let mut node = value;
    for key in path.rsplit('.') {
        let mut m = Mapping::default();
        m.insert(key.to_string(), node);
        node = Node::new(Value::Map(Box::new(m)), loc);
    }
    Some(node)
}

/// Helm's coalesce: maps merge key by key, anything else replaces; a null removes the key.
pub(crate) fn merge(base: &mut Node, over: Node) {
    match (&mut base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (k, v) in *o {
                if v.is_null() {
                    b.shift_remove(&k);
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (_, value) => *base = Node::new(value, over.loc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Node)]) -> Node {
        Node::synthetic(Value::Map(Box::new(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())))
    }

    #[test]
    fn merge_is_deep_and_null_deletes() {
        let int = |i| Node::synthetic(Value::Int(i));
        let mut base = map(&[("a", map(&[("x", int(1)), ("y", int(2))])), ("b", int(3))]);
        merge(&mut base, map(&[("a", map(&[("y", int(5))])), ("b", Node::synthetic(Value::NULL))]));
        assert_eq!(base.to_json(), serde_json::json!({"a": {"x": 1, "y": 5}}));
    }

    #[test]
    fn target_path_nests_the_value() {
        let n = at_target_path("a.b", Node::string("v", Loc::NONE)).map(|n| n.to_json());
        assert_eq!(n, Some(serde_json::json!({"a": {"b": "v"}})));
        assert!(at_target_path("a[0]", Node::string("v", Loc::NONE)).is_none());
    }
}
