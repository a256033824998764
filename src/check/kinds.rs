//! Kind/apiVersion sanity: a built-in group must serve the kind at that version; a custom
//! resource must have a CRD somewhere in the repository, or it is reported as unchecked.

use crate::finding::Finding;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::Loc;

use super::builtin_kinds::{is_builtin_group, kinds_of, versions_serving};
use super::crds::CrdIndex;

/// A located finding about one object, before the caller attaches entry point and object.
pub struct ObjectFinding {
    pub finding: Finding,
    pub loc: Loc,
}

/// Checks one rendered object's apiVersion and kind.
pub fn check(r: &Resource, crds: &CrdIndex) -> Option<ObjectFinding> {
    let gvk = r.gvk();
    let kind_loc = r.node.get("kind").map_or(r.loc(), |n| n.loc);
    let api_loc = r.node.get("apiVersion").map_or(r.loc(), |n| n.loc);
    if is_builtin_group(&gvk.group) {
        if kinds_of(r.api_version()).is_some_and(|k| k.contains(&gvk.kind.as_str())) {
            return None;
        }
        let others = versions_serving(&gvk.group, &gvk.kind);
        let (msg, help, loc) = if !others.is_empty() {
            (
                format!("{} is not served at apiVersion '{}'", gvk.kind, r.api_version()),
                format!("use apiVersion: {}", others.join(" or ")),
                api_loc,
            )
        } else {
            let known = kinds_of(r.api_version()).unwrap_or(&[]);
            let help = crate::kustomize::kustomization::closest(&gvk.kind, known)
                .map(|s| format!("did you mean kind: {s}?"))
                .unwrap_or_else(|| format!("'{}' serves: {}", r.api_version(), known.join(", ")));
            (format!("apiVersion '{}' has no kind '{}'", r.api_version(), gvk.kind), help, kind_loc)
        };
        return Some(ObjectFinding { finding: Finding::new(Rule::UnknownKind, msg).help(help), loc });
    }
    if crds.serves(&gvk.group, &gvk.version, &gvk.kind) {
        return None;
    }
    let versions = crds.versions_of(&gvk.group, &gvk.kind);
    let (msg, help) = if versions.is_empty() {
        (
            format!("no CustomResourceDefinition in the repository defines {} ({})", gvk.kind, r.api_version()),
            "commit the CRD (e.g. the chart's crds/ or the operator's release manifest) so fluxgate can check this object".to_string(),
        )
    } else {
        (
            format!("the CRD for {} in group {} does not serve version {}", gvk.kind, gvk.group, gvk.version),
            format!("served versions: {}", versions.join(", ")),
        )
    };
    Some(ObjectFinding { finding: Finding::new(Rule::SchemaMissing, msg).help(help), loc: api_loc })
}
