//! `namePrefix` / `nameSuffix`: renames objects (not Namespaces, CRDs or APIServices, whose
//! names are fixed by the API); references follow via name references.

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::Resource;
use crate::source::{Loc, Value};

const SKIP: &[&str] = &["Namespace", "CustomResourceDefinition", "APIService"];

/// Adds the prefix and suffix to every renameable object's name, and to the `extra` fields
/// transformer configurations name (`namePrefix` / `nameSuffix` field specs).
pub fn apply(resources: &mut [Resource], prefix: &str, suffix: &str, extra: (&[CustomField], &[CustomField])) {
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for (fields, pre, suf) in [(extra.0, prefix, ""), (extra.1, "", suffix)] {
            if pre.is_empty() && suf.is_empty() {
                continue;
            }
            for f in fields.iter().filter(|f| f.applies(&gvk) && f.path != "metadata/name") {
                visit(&mut r.node, &split(&f.path), false, Loc::NONE, &mut |n| {
                    if let Value::Str(s) = &n.value {
                        n.value = Value::Str(format!("{pre}{s}{suf}"));
                    }
                });
            }
        }
        if SKIP.contains(&r.kind()) {
            continue;
        }
        if !prefix.is_empty() {
            r.affixes.0.push(prefix.to_string());
        }
        if !suffix.is_empty() {
            r.affixes.1.push(suffix.to_string());
        }
        let name = format!("{prefix}{}{suffix}", r.name());
        r.set_name(name);
    }
}
