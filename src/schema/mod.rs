//! Schema validation: Kubernetes' own schemas (bundled per version), CRD schemas found in the
//! repository, bundled Flux CRDs and a repo-local catalog; strict (unknown fields are errors),
//! with CEL rules, removed/deprecated APIs and metadata syntax.

pub mod bundled;
pub mod catalog;
pub mod cel;
pub mod crd;
pub mod gopattern;
pub mod import;
pub mod metadata;
pub mod node_json;
pub mod registry;
pub mod removed;
pub mod validate;

use crate::rules::Rule;
use crate::source::{Loc, Node, Value};

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

/// The source location of the value at `path`, or of its nearest existing ancestor.
pub fn loc_at(node: &Node, path: &[PathSeg]) -> Loc {
    let mut cur = node;
    let mut best = node.loc;
    for seg in path {
        let next = match (seg, &cur.value) {
            (PathSeg::Key(k), Value::Map(m)) => m.get(k),
            (PathSeg::Index(i), Value::Seq(s)) => s.get(*i),
            _ => None,
        };
        match next {
            Some(n) => {
                cur = n;
                if !n.loc.is_none() {
                    best = n.loc;
                }
            }
            None => break,
        }
    }
    best
}
