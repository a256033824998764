//! Image automation markers: `# {"$imagepolicy": "namespace:name"}` comments (and the
//! `:tag`, `:name`, `:digest` forms) that image-automation-controller rewrites. A marker naming
//! a policy that does not exist is silently never updated, so the gate reports it.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::finding::Finding;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::source::{Loc, RelPath, Repo};

use super::graph::{GraphFinding, IMAGE_GROUP};

/// A marker comment; group 1 is the policy reference.
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(r#"#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}"#).unwrap()
});

/// The fields a marker may select from a policy's latest image.
const FIELDS: &[&str] = &["tag", "name", "digest"];

/// The (namespace, name) of every ImagePolicy among `objects`, for [`check_markers`].
pub fn image_policies<'a>(objects: impl IntoIterator<Item = &'a Resource>) -> BTreeSet<(String, String)> {
    objects
        .into_iter()
        .filter(|r| r.kind() == "ImagePolicy" && r.group() == IMAGE_GROUP)
        .map(|r| (r.namespace().to_string(), r.name().to_string()))
        .collect()
}

/// One marker found in a file: the policy reference and where the comment starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub reference: String,
    pub line: u32,
    pub col: u32,
}

/// Every marker in `text`, in order.
pub fn find_markers(text: &str) -> Vec<Marker> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for cap in MARKER.captures_iter(line) {
            let (Some(all), Some(r)) = (cap.get(0), cap.get(1)) else { continue };
            let col = line[..all.start()].chars().count() + 1;
            out.push(Marker {
                reference: r.as_str().to_string(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX),
            });
        }
    }
    out
}

/// Checks the markers of `files` (YAML files of the repository) against `policies`, the
/// ImagePolicies the repository defines (rendered in any cluster, or raw YAML). Each finding's
/// entry point is the file's path; files that cannot be read are skipped (the render reports them).
pub fn check_markers(repo: &Repo, files: &[RelPath], policies: &BTreeSet<(String, String)>) -> Vec<GraphFinding> {
    let mut out = Vec::new();
    for path in files {
        let Ok(file) = repo.read(path) else { continue };
        for m in find_markers(&file.text) {
            let parts: Vec<&str> = m.reference.split(':').collect();
            let message = match parts.as_slice() {
                [ns, name] | [ns, name, _] if ns.is_empty() || name.is_empty() => malformed(&m.reference),
                [_, _, field] if !FIELDS.contains(field) => format!(
                    "image automation marker '{}' selects '{field}'; the field is one of {}",
                    m.reference,
                    FIELDS.join(", ")
                ),
                [ns, name] | [ns, name, _] => {
                    if policies.contains(&(ns.to_string(), name.to_string())) {
                        continue;
                    }
                    format!("image automation marker names ImagePolicy '{ns}/{name}', which is not in the repository")
                }
                _ => malformed(&m.reference),
            };
            let loc = Loc::new(file.id, m.line, m.col);
            let finding = Finding::new(Rule::FluxImagePolicyMissing, message)
                .help("markers read {\"$imagepolicy\": \"<namespace>:<name>\"} (optionally :tag, :name or :digest) and name an existing ImagePolicy")
                .entry_point(path.to_string())
                .at(crate::finding::location(repo, loc));
            out.push(GraphFinding { entry_point: path.to_string(), finding, loc });
        }
    }
    super::graph::sort(&mut out);
    out
}

fn malformed(reference: &str) -> String {
    format!("image automation marker '{reference}' is malformed: it must read <namespace>:<name>[:tag|:name|:digest]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_marker_form_with_its_column() {
        let text = "image: web:1.0 # {\"$imagepolicy\": \"flux-system:web\"}\n  newTag: 1.0 #{\"$imagepolicy\":\"ns:p:tag\"}\nplain: # not a marker\n";
        let m = find_markers(text);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].reference.as_str(), m[0].line, m[0].col), ("flux-system:web", 1, 16));
        assert_eq!((m[1].reference.as_str(), m[1].line, m[1].col), ("ns:p:tag", 2, 15));
    }
}
