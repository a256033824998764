//! Legacy `vars`: `$(NAME)` in kustomize's var-reference fields (container command, args, env
//! values, mount paths, Ingress hosts, labels...) is replaced by a field of the object the var
//! names. kustomize ties each var to its object when the declaring kustomization is built
//! (so later renames are followed) and substitutes once, at the top, after name references.

use crate::kustomize::fieldspec::{FieldSpec, fs, split, visit};
use crate::kustomize::kustomization::{CustomField, VarSpec};
use crate::kustomize::resource::{Gvk, Resource, kustomize_cluster_scoped};
use crate::source::{Loc, Node, Value};

/// Workload kinds and where their pod spec is, for the container fields below.
const WORKLOADS: &[(&str, &str)] = &[
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("Pod", "spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
];

/// Container fields (below `containers` and `initContainers`) kustomize substitutes in.
const CONTAINER_FIELDS: &[&str] = &["args", "command", "env/value", "volumeMounts/mountPath"];

/// kustomize's other default var-reference fields (measured against kustomize v5.5).
const OTHER: &[FieldSpec] = &[
    fs(Some("Ingress"), "spec/rules/host", false),
    fs(Some("Ingress"), "spec/tls/hosts", false),
    fs(Some("Ingress"), "spec/tls/secretName", false),
    fs(Some("Service"), "spec/ports/port", false),
    fs(Some("Service"), "spec/ports/targetPort", false),
    fs(None, "metadata/labels", false),
];

/// The default var-reference paths that apply to an object of this kind.
fn default_paths(kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (_, pod) in WORKLOADS.iter().filter(|(k, _)| *k == kind) {
        for list in ["containers", "initContainers"] {
            for f in CONTAINER_FIELDS {
                out.push(format!("{pod}/{list}/{f}"));
            }
        }
    }
    out.extend(OTHER.iter().filter(|s| s.kind.is_none_or(|k| k == kind)).map(|s| s.path.to_string()));
    out
}

/// A var failure, located at the var's declaration.
#[derive(Debug, PartialEq)]
pub struct VarError {
    pub message: String,
    pub loc: Loc,
}

fn objref_gvk(v: &VarSpec) -> Gvk {
    Gvk {
        group: v.objref.group.clone().unwrap_or_default(),
        version: v.objref.version.clone().unwrap_or_default(),
        kind: v.objref.kind.clone().unwrap_or_default(),
    }
}

/// Ties each var to the one object it names (current or earlier name), as kustomize's
/// `MergeVars` does when the declaring kustomization is built. More than one match is an error;
/// none is fine here (it fails later, when the var is resolved).
pub fn attach(resources: &mut [Resource], vars: &[VarSpec]) -> Result<(), VarError> {
    for v in vars {
        let gvk = objref_gvk(v);
        let name = v.objref.name.clone().unwrap_or_default();
        let ns = v.objref.namespace.clone().unwrap_or_default();
        let check_ns = !ns.is_empty() || kustomize_cluster_scoped(&gvk.api_version(), &gvk.kind);
        let matched: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let rg = r.gvk();
                if rg != gvk {
                    return false;
                }
                let rns = if kustomize_cluster_scoped(r.api_version(), r.kind()) { "" } else { r.namespace() };
                std::iter::once((r.name(), rns))
                    .chain(r.previous.iter().map(|p| (p.name.as_str(), p.namespace.as_str())))
                    .any(|(n, s)| n == name && (!check_ns || s == ns))
            })
            .map(|(i, _)| i)
            .collect();
        match matched.as_slice() {
            [] => {}
            [i] => resources[*i].ref_vars.push(v.name.clone()),
            many => {
                return Err(VarError {
                    message: format!("found {} objects matching var '{}' (unable to disambiguate)", many.len(), v.name),
                    loc: v.loc,
                });
            }
        }
    }
    Ok(())
}

/// Adds a kustomization's vars to the accumulated ones; a name may be declared once.
pub fn merge(into: &mut Vec<VarSpec>, incoming: &[VarSpec]) -> Result<(), VarError> {
    for v in incoming {
        if into.iter().any(|x| x.name == v.name) {
            return Err(VarError { message: format!("var '{}' already encountered", v.name), loc: v.loc });
        }
        into.push(v.clone());
    }
    Ok(())
}

/// Reads a `fieldref.fieldpath` (`spec.ports[0].port`, `a.b[name=x].c`) from an object.
fn field_value(node: &Node, path: &str) -> Option<Node> {
    let mut cur = node;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, idx) = match part.split_once('[') {
            Some((k, rest)) => (k, Some(rest.trim_end_matches(']'))),
            None => (part, None),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        if let Some(i) = idx {
            let seq = cur.as_seq()?;
            cur = match i.split_once('=') {
                Some((k, want)) => seq.iter().find(|item| item.str_at(&[k]) == Some(want))?,
                None => seq.get(i.parse::<usize>().ok()?)?,
            };
        }
    }
    match cur.value {
        Value::Map(_) | Value::Seq(_) | Value::Null(_) => None,
        _ => Some(cur.clone()),
    }
}

/// kustomize's `$(VAR)` expansion: `$$` escapes, unknown names stay as written, and a string
/// that is exactly one reference takes the value's type (a port stays a number).
pub fn expand(input: &str, values: &[(String, Node)]) -> Option<Value> {
    let lookup = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let b = input.as_bytes();
    let mut out = String::new();
    let (mut checkpoint, mut cursor) = (0, 0);
    let mut changed = false;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    changed = true;
                    1
                }
                b'(' => match rest.find(')') {
                    Some(end) => {
                        let name = &rest[1..end];
                        match lookup(name) {
                            Some(v) => {
                                changed = true;
                                if input.len() == name.len() + 3 {
                                    return Some(v.value.clone());
                                }
                                out.push_str(&v.scalar_text().unwrap_or_default());
                            }
                            None => {
                                out.push_str(&input[cursor..cursor + end + 2]);
                            }
                        }
                        end + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..c]);
                    c
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if !changed {
        return None;
    }
    out.push_str(input.get(checkpoint..).unwrap_or(""));
    Some(Value::Str(out))
}

fn substitute(node: &mut Node, values: &[(String, Node)]) {
    let one = |n: &mut Node| {
        if let Value::Str(s) = &n.value
            && let Some(v) = expand(s, values)
        {
            n.value = v;
        }
    };
    match &mut node.value {
        Value::Str(_) => one(node),
        Value::Map(m) => m.values_mut().for_each(one),
        Value::Seq(items) => items.iter_mut().for_each(one),
        _ => {}
    }
}

/// Resolves every var against the object it was tied to and substitutes `$(NAME)` in the
/// default var-reference fields plus `extra` ones (from `configurations`).
pub fn resolve(resources: &mut [Resource], vars: &[VarSpec], extra: &[CustomField]) -> Result<(), VarError> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = Vec::new();
    for v in vars {
        let Some(r) = resources.iter().find(|r| r.ref_vars.contains(&v.name)) else {
            return Err(VarError {
                message: format!("var '{}' cannot be mapped to a field in the set of known resources", v.name),
                loc: v.loc,
            });
        };
        let value = field_value(&r.node, &v.field_path).ok_or_else(|| VarError {
            message: format!("field '{}' of var '{}' not found in {}", v.field_path, v.name, r.id()),
            loc: v.loc,
        })?;
        values.push((v.name.clone(), value));
    }
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        let mut paths = default_paths(&gvk.kind);
        paths.extend(extra.iter().filter(|f| f.applies(&gvk)).map(|f| f.path.clone()));
        for p in &paths {
            visit(&mut r.node, &split(p), false, Loc::NONE, &mut |n| substitute(n, &values));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kustomize::kustomization::ResIdSelector;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn vals() -> Vec<(String, Node)> {
        vec![("A".into(), Node::string("web", Loc::NONE)), ("P".into(), Node::new(Value::Int(80), Loc::NONE))]
    }

    #[test]
    fn expansion_follows_kustomize() {
        assert_eq!(expand("$(A):$(P)", &vals()), Some(Value::Str("web:80".into())));
        assert_eq!(expand("$(P)", &vals()), Some(Value::Int(80)));
        assert_eq!(expand("$$(A)", &vals()), Some(Value::Str("$(A)".into())));
        assert_eq!(expand("$(NOPE)", &vals()), None);
        assert_eq!(expand("x$(A", &vals()), None);
    }

    #[test]
    fn vars_resolve_after_renames() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 8080}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        args: [\"--svc=$(SVC)\", \"$(PORT)\"]\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        let objref = ResIdSelector {
            version: Some("v1".into()),
            kind: Some("Service".into()),
            name: Some("web".into()),
            ..ResIdSelector::default()
        };
        let vars = vec![
            VarSpec { name: "SVC".into(), objref: objref.clone(), field_path: "metadata.name".into(), loc: Loc::NONE },
            VarSpec { name: "PORT".into(), objref, field_path: "spec.ports[0].port".into(), loc: Loc::NONE },
        ];
        assert_eq!(attach(&mut rs, &vars), Ok(()));
        rs[0].set_name("p-web".into());
        assert_eq!(resolve(&mut rs, &vars, &[]), Ok(()));
        let args = rs[1].node.path(&["spec", "template", "spec", "containers"]).and_then(Node::as_seq).cloned();
        let args = args.unwrap_or_default()[0].get("args").cloned().unwrap_or_else(|| Node::empty_map(Loc::NONE));
        assert_eq!(args.as_seq().map(|s| s[0].as_str()), Some(Some("--svc=p-web")));
        assert_eq!(args.as_seq().map(|s| s[1].as_i64()), Some(Some(8080)));
    }
}
