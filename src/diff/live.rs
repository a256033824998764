//! `fluxgate diff --cluster`: the rendered objects against the live ones, read-only. An object
//! the cluster lacks is to be created; one it has is compared on the fields the manifest sets
//! only (so status, managedFields, server defaults and fields other managers own never show);
//! a live object that carries a Flux Kustomization's `kustomize.toolkit.fluxcd.io/name` and
//! `/namespace` labels but that the render no longer has is one Flux would prune. Secret
//! values are masked on both sides before anything is compared in text.

use std::collections::BTreeSet;

use base64::Engine as _;
use rayon::prelude::*;
use serde_json::{Map, Value};

use super::{Change, DiffReport, EntryDiff, ObjectDiff, ObjectId, group_of, limit, mask};
use crate::cluster::lookup::{Fact, Lookup};
use crate::config::Config;
use crate::discover::discover;
use crate::finding::EntryPointKind;
use crate::flux::entry::{NAME_LABEL, NAMESPACE_LABEL};
use crate::kustomize::build::{Failed, Rendered};
use crate::pipeline;
use crate::source::{Loc, Node, Repo, emit};

/// kustomize-controller's opt-out annotation.
const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";

/// Compares every entry point (or those `base` selects) with the live cluster. With Flux entry
/// points, only those of the Flux tree the cluster syncs (its `flux-system` Kustomization's
/// `spec.path`) when it names one of the repository's trees; plain overlays only in a
/// repository without Flux entry points. Fails on the first problem reading the cluster.
pub fn cluster_diff(
    repo: &Repo,
    config: &Config,
    lookup: &Lookup,
    base: Option<&str>,
    max_bytes: usize,
) -> Result<DiffReport, String> {
    let discovery = discover(repo, config);
    let renders = pipeline::render_entry_points(repo, config, &discovery);
    let selected = match base {
        Some(b) => {
            let (_, sel) = pipeline::change_selection(repo, config, b)?;
            Some(pipeline::selected_names(repo, &renders, &sel))
        }
        None => None,
    };
    let wanted = |name: &str| selected.as_ref().is_none_or(|s| s.contains(name));
    let tree =
        lookup.synced_tree().filter(|t| renders.flux.iter().any(|e| crate::flux::entry::cluster_of(&e.name) == t));
    let mut entry_points = Vec::new();
    if renders.flux.is_empty() {
        for (dir, res) in &renders.plain {
            let Some(res) = res.as_ref() else { continue };
            if wanted(dir.as_str()) {
                let mut e = entry_vs_live(lookup, dir.as_str(), EntryPointKind::Kustomize, None, res);
                e.group = group_of(config, EntryPointKind::Kustomize, dir.as_str(), dir.as_str());
                entry_points.push(e);
            }
        }
    } else {
        for e in &renders.flux {
            let cluster = crate::flux::entry::cluster_of(&e.name);
            if !wanted(&e.name) || tree.as_deref().is_some_and(|t| t != cluster) {
                continue;
            }
            let key = (e.key.namespace.as_str(), e.key.name.as_str());
            let mut d = entry_vs_live(lookup, &e.name, EntryPointKind::Flux, Some(key), &e.result);
            d.group = group_of(config, EntryPointKind::Flux, &e.name, &e.dir);
            entry_points.push(d);
        }
    }
    if let Some(problem) = lookup.problems().into_iter().next() {
        return Err(problem);
    }
    let mut report = DiffReport {
        version: 1,
        base: format!("cluster {}", lookup.client().context()),
        merge_base: String::new(),
        everything: None,
        entry_points,
        truncated: 0,
        max_bytes,
        cluster: Some(super::LiveSide {
            context: lookup.client().context().to_string(),
            server: lookup.client().server().to_string(),
            tree,
        }),
    };
    limit(&mut report, max_bytes);
    Ok(report)
}

fn id_of(v: &Value) -> ObjectId {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let api = s("/apiVersion");
    ObjectId {
        group: api.rsplit_once('/').map_or("", |(g, _)| g).to_string(),
        kind: s("/kind"),
        namespace: s("/metadata/namespace"),
        name: s("/metadata/name"),
    }
}

/// One entry point against the cluster. `key`: the Flux Kustomization (namespace, name) whose
/// labels mark what it applied, for pruning.
fn entry_vs_live(
    lookup: &Lookup,
    name: &str,
    kind: EntryPointKind,
    key: Option<(&str, &str)>,
    result: &Result<Rendered, Failed>,
) -> EntryDiff {
    let mut rendered = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut wanted = Vec::new();
    if let Ok(r) = result {
        for res in &r.resources {
            let want = normalize(res.node.to_json());
            let mut id = id_of(&want);
            if id.namespace.is_empty() && !crate::kustomize::resource::is_cluster_scoped(&id.kind) {
                id.namespace = "default".into();
            }
            kinds.insert((id.group.clone(), id.kind.clone()));
            rendered.insert(id.clone());
            wanted.push((res.node.str_at(&["apiVersion"]).unwrap_or("").to_string(), id, want));
        }
    }
    // One GET per object, several at a time (a large entry point has thousands).
    let mut objects: Vec<ObjectDiff> = wanted
        .into_par_iter()
        .filter_map(|(api, id, want)| match lookup.object(&api, &id.kind, &id.namespace, &id.name) {
            Fact::Known(None) => {
                Some(ObjectDiff { id, change: Change::Added, diff: None, masked_values_changed: false })
            }
            Fact::Known(Some(live)) => compare(id, &want, &live),
            Fact::Unknown => None,
        })
        .collect();
    if let (Some((ns, n)), Ok(_)) = (key, result) {
        objects.extend(pruned(lookup, ns, n, &rendered, kinds));
    }
    objects.sort_by(|a, b| a.id.cmp(&b.id));
    let head_error = result.as_ref().err().map(|f| format!("{}: {}", f.error.rule, f.error.message));
    let status = if objects.is_empty() && head_error.is_none() { Change::Unchanged } else { Change::Changed };
    EntryDiff { name: name.to_string(), kind, status, base_error: None, head_error, objects, group: String::new() }
}

/// Live objects labelled as applied by Flux Kustomization `ns/name` that the render lacks, of
/// the kinds the render has or the Kustomization's inventory lists.
fn pruned(
    lookup: &Lookup,
    ns: &str,
    name: &str,
    rendered: &BTreeSet<ObjectId>,
    mut kinds: BTreeSet<(String, String)>,
) -> Vec<ObjectDiff> {
    if let Fact::Known(Some(k)) = lookup.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", ns, name) {
        // Inventory ids are `<namespace>_<name>_<group>_<kind>`.
        for entry in k.pointer("/status/inventory/entries").and_then(Value::as_array).into_iter().flatten() {
            let id = entry.get("id").and_then(Value::as_str).unwrap_or("");
            let parts: Vec<&str> = id.rsplitn(3, '_').collect();
            if let [kind, group, _] = parts.as_slice() {
                kinds.insert((group.to_string(), kind.to_string()));
            }
        }
    }
    let selector = format!("{NAME_LABEL}={name},{NAMESPACE_LABEL}={ns}");
    let mut out = Vec::new();
    for (group, kind) in kinds {
        let Fact::Known(items) = lookup.list_labelled(&group, &kind, &selector) else { continue };
        for live in items {
            // Metadata-only items say `PartialObjectMetadata`: the kind is the one listed.
            let meta =
                |k: &str| live.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or("").to_string();
            let id =
                ObjectId { group: group.clone(), kind: kind.clone(), namespace: meta("namespace"), name: meta("name") };
            let disabled =
                live.pointer("/metadata/annotations").and_then(|a| a.get(PRUNE_ANNOTATION)).and_then(Value::as_str)
                    == Some("disabled");
            if !rendered.contains(&id) && !disabled {
                out.push(ObjectDiff { id, change: Change::Removed, diff: None, masked_values_changed: false });
            }
        }
    }
    out
}

/// The manifest as the API server stores it: a Secret's `stringData` merged into `data`
/// (base64), `null`s and `status` dropped (the server ignores them on apply).
fn normalize(mut v: Value) -> Value {
    fn drop_nulls(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                m.values_mut().for_each(drop_nulls);
            }
            Value::Array(a) => a.iter_mut().for_each(drop_nulls),
            _ => {}
        }
    }
    drop_nulls(&mut v);
    let Some(m) = v.as_object_mut() else { return v };
    m.remove("status");
    let is_secret = m.get("kind").and_then(Value::as_str) == Some("Secret")
        && m.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if is_secret && let Some(Value::Object(sd)) = m.remove("stringData") {
        let data = m.entry("data").or_insert_with(|| Value::Object(Map::new()));
        if let Some(d) = data.as_object_mut() {
            for (k, x) in sd {
                let text = x.as_str().map(String::from).unwrap_or_else(|| x.to_string());
                d.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
            }
        }
    }
    v
}

/// The live value restricted to what `want` sets: maps keep `want`'s keys; lists of maps
/// with names are matched by name (other managers' items are left out), other lists item by
/// item, whole (a list the manifest sets is replaced whole on apply).
fn project(want: &Value, live: &Value) -> Option<Value> {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => {
            let mut out = Map::new();
            for (k, wv) in w {
                if let Some(p) = l.get(k).and_then(|lv| project(wv, lv)) {
                    out.insert(k.clone(), p);
                }
            }
            Some(Value::Object(out))
        }
        (Value::Array(w), Value::Array(l)) if w.iter().all(|x| x.get("name").is_some()) && !w.is_empty() => {
            let named = |x: &Value| x.get("name").cloned();
            let items = w
                .iter()
                .filter_map(|wi| l.iter().find(|li| named(li) == named(wi)).and_then(|li| project(wi, li)))
                .collect();
            Some(Value::Array(items))
        }
        (Value::Array(w), Value::Array(l)) => {
            let mut items: Vec<Value> = w.iter().zip(l).filter_map(|(wi, li)| project(wi, li)).collect();
            items.extend(l.iter().skip(w.len()).cloned());
            Some(Value::Array(items))
        }
        (Value::String(w), _) if w.contains("${") && placeholders_match(w, live) => Some(want.clone()),
        // The server stores quantities canonically (`1000m` as `1`, `1024Mi` as `1Gi`); one side
        // must carry a unit, so that versions (`1.10` and `1.1`) are never taken as equal.
        (Value::String(w), Value::String(l)) if same_quantity(w, l) => Some(want.clone()),
        _ => Some(live.clone()),
    }
}

/// Whether two texts are the same Kubernetes quantity written two ways, one with a unit.
fn same_quantity(a: &str, b: &str) -> bool {
    match (quantity(a), quantity(b)) {
        (Some((x, ux)), Some((y, uy))) => (ux || uy) && (x - y).abs() <= x.abs().max(y.abs()) * 1e-9,
        _ => false,
    }
}

/// A Kubernetes quantity's value (`500m`, `1.5Gi`, `2e3`, `4`) and whether it has a unit.
fn quantity(text: &str) -> Option<(f64, bool)> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor, unit) = SUFFIXES
        .iter()
        .find_map(|(suf, f)| text.strip_suffix(suf).map(|n| (n, *f, true)))
        .unwrap_or((text, 1.0, false));
    let digits_only = number.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'+' || b == b'-');
    if number.is_empty()
        || !number.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+' || c == '-')
        || !digits_only
    {
        return None;
    }
    number.parse::<f64>().ok().map(|n| (n * factor, unit))
}

/// Whether a live value fits a manifest string holding `${VAR}`s that stayed unsubstituted
/// (values only the cluster has): each `${...}` stands for any text.
fn placeholders_match(want: &str, live: &Value) -> bool {
    let text = match live {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => live.to_string(),
        _ => return false,
    };
    let mut literals = Vec::new();
    let mut rest = want;
    while let Some(i) = rest.find("${") {
        literals.push(&rest[..i]);
        rest = match rest[i..].find('}') {
            Some(j) => &rest[i + j + 1..],
            None => "",
        };
    }
    literals.push(rest);
    let (first, last) = (literals[0], literals[literals.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for lit in &literals[1..literals.len() - 1] {
        match middle.find(lit) {
            Some(i) => middle = &middle[i + lit.len()..],
            None => return false,
        }
    }
    true
}

/// YAML of a JSON object with Secret values masked.
fn masked_yaml(v: &Value, is_secret: bool) -> String {
    let mut n = Node::from_json(v, Loc::default());
    mask(&mut n, is_secret);
    emit::emit_node(&n)
}

/// The change of one object that exists live, if any.
fn compare(id: ObjectId, want: &Value, live: &Value) -> Option<ObjectDiff> {
    let seen = project(want, live).unwrap_or(Value::Null);
    if &seen == want {
        return None;
    }
    let is_secret = id.kind == "Secret" && id.group.is_empty();
    let (l, w) = (masked_yaml(&seen, is_secret), masked_yaml(want, is_secret));
    let diff = (l != w).then(|| {
        similar::TextDiff::from_lines(l.as_str(), w.as_str())
            .unified_diff()
            .context_radius(3)
            .header("live", "head")
            .to_string()
    });
    let masked_values_changed = is_secret && seen.get("data") != want.get("data");
    Some(ObjectDiff { id, change: Change::Changed, diff, masked_values_changed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_fields_the_manifest_sets_are_compared() {
        let want =
            json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "a:1"}]}}}});
        let live = json!({"spec": {"replicas": 2, "progressDeadlineSeconds": 600, "template": {"spec": {
            "containers": [{"name": "sidecar", "image": "s"}, {"name": "web", "image": "a:1", "imagePullPolicy": "IfNotPresent"}],
            "dnsPolicy": "ClusterFirst"}}}, "status": {"replicas": 2}});
        assert_eq!(project(&want, &live).unwrap(), want);
        let changed =
            json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "a:1"}]}}}});
        assert_ne!(project(&want, &changed).unwrap(), want);
        // A list the manifest sets is compared whole: an item more live is a difference.
        let args = json!({"args": ["a"]});
        assert_ne!(project(&args, &json!({"args": ["a", "b"]})).unwrap(), args);
    }

    #[test]
    fn unsubstituted_variables_match_any_live_text() {
        assert!(placeholders_match("${CLUSTER}", &json!("prod")));
        assert!(placeholders_match("db-${ENV}.${DOMAIN}:5432", &json!("db-prod.example.com:5432")));
        assert!(placeholders_match("${REPLICAS}", &json!(3)));
        assert!(!placeholders_match("db-${ENV}:5432", &json!("cache-prod:5432")));
        assert!(!placeholders_match("${A}-x", &json!({"a": 1})));
        let want = json!({"data": {"url": "https://${HOST}/"}});
        assert_eq!(project(&want, &json!({"data": {"url": "https://a.example/"}})).unwrap(), want);
    }

    #[test]
    fn quantities_compare_by_value() {
        let want = json!({"cpu": "1000m", "memory": "1024Mi", "share": "0.5"});
        let live = json!({"cpu": "1", "memory": "1Gi", "share": "500m"});
        assert_eq!(project(&want, &live).unwrap(), want);
        assert_ne!(project(&json!({"cpu": "100m"}), &json!({"cpu": "1"})).unwrap(), json!({"cpu": "100m"}));
        let version = json!({"version": "1.10"});
        assert_ne!(project(&version, &json!({"version": "1.1"})).unwrap(), version, "no unit: compared as text");
        assert_eq!(quantity("web"), None);
        assert_eq!(quantity("1e3"), Some((1000.0, false)));
        assert_eq!(quantity("v1.2"), None);
    }

    #[test]
    fn string_data_is_compared_as_the_data_the_server_stores() {
        let want = normalize(
            json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "v"}, "metadata": {"creationTimestamp": null}}),
        );
        assert_eq!(want, json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "dg=="}, "metadata": {}}));
        let d = compare(
            ObjectId { group: String::new(), kind: "Secret".into(), namespace: "a".into(), name: "s".into() },
            &want,
            &json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "eA=="}, "metadata": {"uid": "1"}}),
        )
        .unwrap();
        assert!(d.masked_values_changed && d.diff.is_none(), "{d:?}");
    }
}
