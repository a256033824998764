//! Schema validation: Kubernetes' own schemas (bundled per version), CRD schemas found in the
//! repository, bundled Flux CRDs and a repo-local catalog; strict (unknown fields are errors),
//! with CEL rules, removed/deprecated APIs and metadata syntax.

pub mod bundled;
pub mod cel;
pub mod crd;
pub mod import;
pub mod metadata;
pub mod registry;
pub mod removed;
pub mod validate;

use crate::rules::Rule;

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// A schema problem, located by its path from the object root; the caller maps the path back
/// to the source line that produced the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaViolation {
    pub rule: Rule,
    pub path: Vec<PathSeg>,
    pub message: String,
    pub help: Option<String>,
}

/// Renders a path as `spec.template.spec.containers[0].image` for messages.
pub fn display_path(path: &[PathSeg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSeg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}
