//! The built-in rules: checks every platform team wants, configured per environment.
//!
//! Each rule has a spec here (default level, a default for the `production` environment,
//! parameters with defaults) and its check in [`pod`] (everything with a pod template) or
//! [`objects`] (single objects and cross-object checks of one render). Checks return [`Hit`]s
//! located at the offending field; [`crate::policy`] turns them into findings.

pub mod objects;
pub mod pod;

use crate::config::policy::{Effective, PolicyConfig};
pub use crate::config::policy::{Param, ParamKind, RULES, Spec, is_configurable, spec};
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::schema::PathSeg;
use crate::source::{Loc, Node, RelPath};

/// The effective settings of every built-in rule for one environment.
pub struct RuleSet {
    settings: Vec<Effective>,
}

impl RuleSet {
    pub fn new(config: &PolicyConfig, env: Option<&str>) -> RuleSet {
        RuleSet { settings: RULES.iter().map(|r| config.effective(*r, env)).collect() }
    }

    /// The settings of a built-in rule.
    pub fn get(&self, rule: Rule) -> &Effective {
        let i = RULES.iter().position(|r| *r == rule).unwrap_or(0);
        &self.settings[i]
    }

    pub fn on(&self, rule: Rule) -> bool {
        self.get(rule).severity.is_some()
    }
}

/// A rule violation at a source location, about `object` (an index into the render's objects).
#[derive(Clone, Debug)]
pub struct Hit {
    pub rule: Rule,
    pub loc: Loc,
    pub object: Option<usize>,
    pub message: String,
    pub help: String,
    /// The field the hit is about (`spec.template.spec.containers[0].image`), when it is
    /// about one: chart output has no lines of its own, so its findings name the field.
    pub path: Option<String>,
}

/// What the rules look at besides the objects.
pub struct Ctx<'a> {
    pub rules: &'a RuleSet,
    /// Cross-object rules (dangling-service, pdb-missing) need the whole application; a base
    /// that other overlays build on is not one.
    pub complete: bool,
    /// The image automation markers of the files the render read: (file, marker locations).
    pub markers: &'a [(RelPath, Vec<Loc>)],
}

/// A JSON path from string keys.
/// The names in `wanted` that the map `have` lacks (or holds as null), in `wanted`'s order.
pub fn missing<'a>(have: Option<&Node>, wanted: &'a [String]) -> Vec<&'a str> {
    wanted.iter().map(String::as_str).filter(|k| have.and_then(|h| h.get(k)).is_none_or(Node::is_null)).collect()
}

pub fn path(keys: &[&str]) -> Vec<PathSeg> {
    keys.iter().map(|k| PathSeg::Key((*k).to_string())).collect()
}

/// `base` followed by more keys.
pub fn join(base: &[PathSeg], keys: &[&str]) -> Vec<PathSeg> {
    let mut p = base.to_vec();
    p.extend(keys.iter().map(|k| PathSeg::Key((*k).to_string())));
    p
}

/// Runs every enabled built-in rule over the objects of one render.
pub fn evaluate(resources: &[Resource], ctx: &Ctx) -> Vec<Hit> {
    let mut out = Vec::new();
    let templates: Vec<Option<pod::PodTemplate>> = resources.iter().map(pod::pod_template).collect();
    for (i, r) in resources.iter().enumerate() {
        if let Some(t) = &templates[i] {
            pod::check(r, i, t, ctx, &mut out);
        }
        objects::check(r, i, ctx, &mut out);
    }
    objects::check_render(resources, &templates, ctx, &mut out);
    out
}

#[cfg(test)]
mod tests;
