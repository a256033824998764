//! Field-spec driven edits for builtin plugin configurations (`transformers:` entries), which
//! name every field they touch themselves: no builtin table applies.

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::Resource;
use crate::kustomize::transform::labels::set_pairs;
use crate::source::{Loc, Node, Value};

/// Writes `pairs` into the maps at `fields` (`LabelTransformer`, `AnnotationsTransformer`).
pub fn set_pairs_at(resources: &mut [Resource], pairs: &[(String, Node)], fields: &[CustomField], loc: Loc) {
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
}
