//! `namePrefix` / `nameSuffix`: renames objects (not Namespaces, CRDs or APIServices, whose
//! names are fixed by the API); references follow via name references.

use crate::kustomize::resource::Resource;

const SKIP: &[&str] = &["Namespace", "CustomResourceDefinition", "APIService"];

/// Adds the prefix and suffix to every renameable object's name.
pub fn apply(resources: &mut [Resource], prefix: &str, suffix: &str) {
    if prefix.is_empty() && suffix.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        if SKIP.contains(&r.kind()) {
            continue;
        }
        let name = format!("{prefix}{}{suffix}", r.name());
        r.set_name(name);
    }
}
