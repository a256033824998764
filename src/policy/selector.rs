//! Label selectors: structured ones (`matchLabels` + `matchExpressions`), as workloads,
//! PodDisruptionBudgets, admission policies, bindings and `paramRef` write them, and the plain
//! maps of Services and ReplicationControllers. One parser and one matcher for every policy.

use std::collections::BTreeMap;

use crate::source::{Loc, Node};

/// One `matchExpressions` operator.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A parsed selector. An absent selector and `{}` both select everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    labels: Vec<(String, String)>,
    exprs: Vec<(String, Op, Vec<String>)>,
}

/// The labels of an object (`metadata.labels`), scalar values as text.
pub fn labels_of(obj: &Node) -> BTreeMap<String, String> {
    label_map(obj.path(&["metadata", "labels"]))
}

/// A labels map (`metadata.labels`, a pod template's labels), scalar values as text.
pub fn label_map(labels: Option<&Node>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(m) = labels.and_then(Node::as_map) {
        for (k, v) in m {
            if let Some(t) = v.scalar_text() {
                out.insert(k.clone(), t);
            }
        }
    }
    out
}

impl LabelSelector {
    /// Parses a selector node; `None` (absent or null) selects everything.
    pub fn parse(node: Option<&Node>) -> Result<LabelSelector, (Loc, String)> {
        let mut out = LabelSelector::default();
        let Some(node) = node.filter(|n| !n.is_null()) else { return Ok(out) };
        let m = node.as_map().ok_or_else(|| (node.loc, "a label selector must be a map".to_string()))?;
        for (k, v) in m {
            match k.as_str() {
                "matchLabels" => {
                    if v.is_null() {
                        continue;
                    }
                    let labels = v.as_map().ok_or_else(|| (v.loc, "matchLabels must be a map".to_string()))?;
                    for (lk, lv) in labels {
                        let t =
                            lv.scalar_text().ok_or_else(|| (lv.loc, format!("matchLabels '{lk}' must be a string")))?;
                        out.labels.push((lk.clone(), t));
                    }
                }
                "matchExpressions" => {
                    if v.is_null() {
                        continue;
                    }
                    let seq = v.as_seq().ok_or_else(|| (v.loc, "matchExpressions must be a list".to_string()))?;
                    for e in seq {
                        out.exprs.push(parse_expression(e)?);
                    }
                }
                other => return Err((v.loc, format!("unknown label selector field '{other}'"))),
            }
        }
        Ok(out)
    }

    /// A plain-map selector (a Service's or ReplicationController's `spec.selector`): every
    /// key must have that value.
    pub fn from_map(node: &Node) -> Result<LabelSelector, (Loc, String)> {
        let m = node.as_map().ok_or_else(|| (node.loc, "a selector must be a map of labels".to_string()))?;
        let mut out = LabelSelector::default();
        for (k, v) in m {
            let t = v.scalar_text().ok_or_else(|| (v.loc, format!("selector label '{k}' must be a string")))?;
            out.labels.push((k.clone(), t));
        }
        Ok(out)
    }

    /// Whether the selector selects everything (`{}` or absent).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.exprs.is_empty()
    }

    /// One label the selector requires (key and value), if it requires any: only objects
    /// carrying it can match, so an index by label finds the candidates.
    pub fn first_label(&self) -> Option<(&str, &str)> {
        self.labels.first().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.exprs.iter().all(|(k, op, values)| match op {
                Op::In => labels.get(k).is_some_and(|v| values.contains(v)),
                Op::NotIn => labels.get(k).is_none_or(|v| !values.contains(v)),
                Op::Exists => labels.contains_key(k),
                Op::DoesNotExist => !labels.contains_key(k),
            })
    }
}

fn parse_expression(e: &Node) -> Result<(String, Op, Vec<String>), (Loc, String)> {
    let key = e.str_at(&["key"]).ok_or_else(|| (e.loc, "a matchExpressions entry needs a key".to_string()))?;
    let op_node = e.get("operator").ok_or_else(|| (e.loc, format!("matchExpressions '{key}' needs an operator")))?;
    let op = match op_node.as_str() {
        Some("In") => Op::In,
        Some("NotIn") => Op::NotIn,
        Some("Exists") => Op::Exists,
        Some("DoesNotExist") => Op::DoesNotExist,
        _ => {
            return Err((
                op_node.loc,
                format!("matchExpressions '{key}': operator must be In, NotIn, Exists or DoesNotExist"),
            ));
        }
    };
    let mut values = Vec::new();
    if let Some(seq) = e.get("values").and_then(Node::as_seq) {
        for v in seq {
            values.push(
                v.scalar_text().ok_or_else(|| (v.loc, format!("matchExpressions '{key}': values must be strings")))?,
            );
        }
    }
    match op {
        Op::In | Op::NotIn if values.is_empty() => {
            Err((e.loc, format!("matchExpressions '{key}': operator {op:?} needs at least one value")))
        }
        Op::Exists | Op::DoesNotExist if !values.is_empty() => {
            Err((e.loc, format!("matchExpressions '{key}': operator {op:?} takes no values")))
        }
        _ => Ok((key.to_string(), op, values)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn sel(text: &str) -> Result<LabelSelector, (Loc, String)> {
        let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        LabelSelector::parse(parsed.docs.first())
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn match_labels_and_expressions() {
        let s = sel("matchLabels: {team: a}\nmatchExpressions:\n- {key: env, operator: In, values: [prod, stage]}\n- {key: legacy, operator: DoesNotExist}\n").unwrap();
        assert!(s.matches(&labels(&[("team", "a"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("team", "a"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("team", "a"), ("env", "prod"), ("legacy", "")])));
        assert!(!s.matches(&labels(&[("env", "prod")])));
        let not_in = sel("matchExpressions: [{key: env, operator: NotIn, values: [dev]}]").unwrap();
        assert!(not_in.matches(&labels(&[])));
        assert!(!not_in.matches(&labels(&[("env", "dev")])));
        assert!(sel("{}").unwrap().is_empty());
    }

    #[test]
    fn bad_selectors_are_errors() {
        assert!(sel("matchExpressions: [{key: env, operator: Equals, values: [a]}]").is_err());
        assert!(sel("matchExpressions: [{key: env, operator: In}]").is_err());
        assert!(sel("matchExpressions: [{key: env, operator: Exists, values: [a]}]").is_err());
        assert!(sel("matchLables: {a: b}").is_err());
    }
}
