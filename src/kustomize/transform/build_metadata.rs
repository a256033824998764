//! `buildMetadata`: kustomize's provenance annotations and label, written at the end of the
//! top-level build. Paths are relative to the top kustomization's directory, as kustomize
//! writes them (`../base/deploy.yaml`). Only the top kustomization's options count.

use crate::kustomize::kustomization::BuildMetadata;
use crate::kustomize::resource::{Configured, Origin, Resource, Transformations};
use crate::source::{Loc, Node, RelPath};

/// The label value kustomize writes for `managedByLabel`. kubectl's embedded kustomize is a
/// development build and reports its version as `(devel)`; fluxgate renders like kubectl.
pub const MANAGED_BY: &str = "kustomize-(devel)";

/// `to` written relative to the directory `from`.
pub fn relative(from: &RelPath, to: &RelPath) -> String {
    let f: Vec<&str> = from.as_str().split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let t: Vec<&str> = to.as_str().split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend(&t[common..]);
    parts.join("/")
}

fn configured(c: &Configured, top: &RelPath, indent: &str) -> String {
    let mut name = c.name.as_ref().map(|n| format!("{indent}  name: {n}\n")).unwrap_or_default();
    if let Some(ns) = &c.namespace {
        name.push_str(&format!("{indent}  namespace: {ns}\n"));
    }
    format!(
        "configuredIn: {}\n{indent}configuredBy:\n{indent}  apiVersion: builtin\n{indent}  kind: {}\n{name}",
        relative(top, &c.file),
        c.kind
    )
}

/// The `config.kubernetes.io/origin` annotation value for an object.
pub fn origin_text(origin: &Origin, top: &RelPath) -> String {
    match origin {
        Origin::File(p) => format!("path: {}\n", relative(top, p)),
        Origin::Generator(c) => configured(c, top, ""),
    }
}

/// The `alpha.config.kubernetes.io/transformations` annotation value.
pub fn transformations_text(list: &Transformations, top: &RelPath) -> String {
    list.iter().map(|c| format!("- {}", configured(c, top, "  "))).collect()
}

fn annotate(r: &mut Resource, key: &str, value: String) {
    if let Some(m) = r.node.ensure_map(&["metadata", "annotations"], Loc::NONE) {
        m.insert(key.to_string(), Node::string(value, Loc::NONE));
    }
}

/// Writes the annotations and label the options ask for.
pub fn apply(resources: &mut [Resource], top: &RelPath, opts: BuildMetadata) {
    for r in resources.iter_mut() {
        if opts.transformations && !r.transformations.is_empty() {
            let text = transformations_text(&r.transformations, top);
            annotate(r, "alpha.config.kubernetes.io/transformations", text);
        }
        if opts.origin
            && let Some(o) = r.origin.clone()
        {
            annotate(r, "config.kubernetes.io/origin", origin_text(&o, top));
        }
        if opts.managed_by
            && let Some(m) = r.node.ensure_map(&["metadata", "labels"], Loc::NONE)
        {
            m.insert("app.kubernetes.io/managed-by".into(), Node::string(MANAGED_BY, Loc::NONE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn p(s: &str) -> RelPath {
        RelPath::parse(s).unwrap_or_else(RelPath::root)
    }

    #[test]
    fn origins_are_relative_to_the_top() {
        assert_eq!(relative(&p("apps/prod"), &p("apps/base/r.yaml")), "../base/r.yaml");
        assert_eq!(relative(&p("apps/prod"), &p("apps/prod/r.yaml")), "r.yaml");
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        let at = |kind| Configured { file: p("a/kustomization.yaml"), kind, name: None, namespace: None };
        rs[0].origin = Some(Origin::Generator(Box::new(at("ConfigMapGenerator"))));
        rs[0].transformations.push(&std::sync::Arc::new(at("PrefixTransformer")));
        apply(&mut rs, &p("a"), BuildMetadata { origin: true, transformations: true, managed_by: true });
        assert_eq!(
            rs[0].node.str_at(&["metadata", "annotations", "config.kubernetes.io/origin"]),
            Some(
                "configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n"
            )
        );
        assert_eq!(
            rs[0].node.str_at(&["metadata", "annotations", "alpha.config.kubernetes.io/transformations"]),
            Some(
                "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n"
            )
        );
        assert_eq!(rs[0].node.str_at(&["metadata", "labels", "app.kubernetes.io/managed-by"]), Some(MANAGED_BY));
    }
}
