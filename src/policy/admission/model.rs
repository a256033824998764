//! ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding as fluxgate reads them
//! (`admissionregistration.k8s.io/v1`, and the same shapes in `v1beta1`/`v1alpha1`), with
//! every expression compiled. Parse problems are `(location, message)` pairs; the loader
//! turns them into `admission-policy-invalid` findings.

use crate::finding::Severity;
use crate::source::{Loc, Node};

use super::expr::{CompiledExpr, Facts};
use crate::policy::selector::LabelSelector;

/// Which objects a resource rule matches by scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    Any,
    Cluster,
    Namespaced,
}

/// One `resourceRules` / `excludeResourceRules` entry.
#[derive(Clone, Debug)]
pub(super) struct ResourceRule {
    pub groups: Vec<String>,
    pub versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
    pub scope: Scope,
    pub names: Vec<String>,
}

/// `matchConstraints` of a policy or `matchResources` of a binding.
#[derive(Clone, Debug, Default)]
pub(super) struct MatchResources {
    pub namespace_selector: LabelSelector,
    pub object_selector: LabelSelector,
    pub rules: Vec<ResourceRule>,
    pub exclude: Vec<ResourceRule>,
    /// `matchPolicy: Exact`; the default, Equivalent, also matches other versions of a resource.
    pub exact: bool,
}

/// A named expression: a `matchConditions` entry or a variable.
pub(super) struct Named {
    pub name: String,
    pub expr: CompiledExpr,
}

/// One `validations` entry.
pub(super) struct Validation {
    pub expr: CompiledExpr,
    pub message: Option<String>,
    pub message_expression: Option<CompiledExpr>,
    pub reason: Option<String>,
}

/// The kind of the parameter objects a policy reads (`spec.paramKind`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ParamKind {
    pub api_version: String,
    pub kind: String,
}

/// A parsed, compiled policy.
pub(super) struct Policy {
    pub name: String,
    pub loc: Loc,
    pub param_kind: Option<ParamKind>,
    pub constraints: MatchResources,
    pub conditions: Vec<Named>,
    pub variables: Vec<Named>,
    pub validations: Vec<Validation>,
    /// `failurePolicy: Fail` (the default): an expression that errs rejects the request.
    pub fail: bool,
}

/// `paramRef` of a binding.
#[derive(Clone, Debug)]
pub(super) struct ParamRef {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub selector: Option<LabelSelector>,
    /// `parameterNotFoundAction: Deny` (the default): no parameter object means rejection.
    pub deny_if_missing: bool,
}

/// A parsed binding.
pub(super) struct Binding {
    pub name: String,
    pub loc: Loc,
    pub policy: String,
    pub param_ref: Option<ParamRef>,
    pub match_resources: Option<MatchResources>,
    /// `validationActions` as written, for messages.
    pub actions: Vec<String>,
    /// What a failed validation is: Deny is an error; Warn or Audit alone a warning.
    pub severity: Severity,
}

/// A parse problem: where, and what.
pub(super) type Problem = (Loc, String);

fn strings(node: Option<&Node>, what: &str, out: &mut Vec<String>) -> Result<(), Problem> {
    let Some(node) = node.filter(|n| !n.is_null()) else { return Ok(()) };
    let seq = node.as_seq().ok_or_else(|| (node.loc, format!("{what} must be a list of strings")))?;
    for s in seq {
        out.push(s.scalar_text().ok_or_else(|| (s.loc, format!("{what} entries must be strings")))?);
    }
    Ok(())
}

fn rule(node: &Node, what: &str) -> Result<ResourceRule, Problem> {
    let mut r = ResourceRule {
        groups: Vec::new(),
        versions: Vec::new(),
        resources: Vec::new(),
        operations: Vec::new(),
        scope: Scope::Any,
        names: Vec::new(),
    };
    if node.as_map().is_none() {
        return Err((node.loc, format!("{what} entries must be maps")));
    }
    strings(node.get("apiGroups"), &format!("{what}.apiGroups"), &mut r.groups)?;
    strings(node.get("apiVersions"), &format!("{what}.apiVersions"), &mut r.versions)?;
    strings(node.get("resources"), &format!("{what}.resources"), &mut r.resources)?;
    strings(node.get("operations"), &format!("{what}.operations"), &mut r.operations)?;
    strings(node.get("resourceNames"), &format!("{what}.resourceNames"), &mut r.names)?;
    if let Some(s) = node.get("scope") {
        r.scope = match s.as_str() {
            Some("*") => Scope::Any,
            Some("Cluster") => Scope::Cluster,
            Some("Namespaced") => Scope::Namespaced,
            _ => return Err((s.loc, format!("{what}.scope must be Cluster, Namespaced or *"))),
        };
    }
    for op in &r.operations {
        if !matches!(op.as_str(), "*" | "CREATE" | "UPDATE" | "DELETE" | "CONNECT") {
            return Err((node.loc, format!("{what}.operations: unknown operation '{op}'")));
        }
    }
    Ok(r)
}

fn rules(node: Option<&Node>, what: &str) -> Result<Vec<ResourceRule>, Problem> {
    let Some(node) = node.filter(|n| !n.is_null()) else { return Ok(Vec::new()) };
    let seq = node.as_seq().ok_or_else(|| (node.loc, format!("{what} must be a list")))?;
    seq.iter().map(|n| rule(n, what)).collect()
}

/// Parses `matchConstraints` / `matchResources`.
pub(super) fn match_resources(node: &Node, what: &str) -> Result<MatchResources, Problem> {
    if node.as_map().is_none() {
        return Err((node.loc, format!("{what} must be a map")));
    }
    let exact = match node.get("matchPolicy") {
        None => false,
        Some(n) => match n.as_str() {
            Some("Exact") => true,
            Some("Equivalent") => false,
            _ => return Err((n.loc, format!("{what}.matchPolicy must be Exact or Equivalent"))),
        },
    };
    Ok(MatchResources {
        namespace_selector: LabelSelector::parse(node.get("namespaceSelector"))?,
        object_selector: LabelSelector::parse(node.get("objectSelector"))?,
        rules: rules(node.get("resourceRules"), &format!("{what}.resourceRules"))?,
        exclude: rules(node.get("excludeResourceRules"), &format!("{what}.excludeResourceRules"))?,
        exact,
    })
}

/// A string field that must be set.
fn req_str<'a>(node: &'a Node, key: &str, what: &str) -> Result<&'a str, Problem> {
    node.str_at(&[key])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| (node.get(key).map_or(node.loc, |n| n.loc), format!("{what} needs a `{key}`")))
}

fn compile(node: &Node, key: &str, what: &str) -> Result<CompiledExpr, Problem> {
    let src = req_str(node, key, what)?;
    let loc = node.get(key).map_or(node.loc, |n| n.loc);
    CompiledExpr::compile(src).map_err(|e| (loc, format!("{what}: `{src}` does not compile: {e}")))
}

fn named(node: Option<&Node>, what: &str, out: &mut Vec<Named>, problems: &mut Vec<Problem>) {
    let Some(node) = node.filter(|n| !n.is_null()) else { return };
    let Some(seq) = node.as_seq() else {
        problems.push((node.loc, format!("{what} must be a list")));
        return;
    };
    for n in seq {
        let name = match req_str(n, "name", what) {
            Ok(s) => s.to_string(),
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if out.iter().any(|x| x.name == name) {
            problems.push((n.loc, format!("{what}: the name '{name}' is used twice")));
            continue;
        }
        match compile(n, "expression", &format!("{what} '{name}'")) {
            Ok(expr) => out.push(Named { name, expr }),
            Err(p) => problems.push(p),
        }
    }
}

/// Parses a ValidatingAdmissionPolicy document. Expressions that do not compile are left out
/// and reported; the rest of the policy still applies (the API server would refuse the whole
/// policy, so the problems are errors).
pub(super) fn policy(doc: &Node) -> (Option<Policy>, Vec<Problem>) {
    let mut problems = Vec::new();
    let Some(name) = doc.str_at(&["metadata", "name"]).map(str::to_string) else {
        return (None, vec![(doc.loc, "a ValidatingAdmissionPolicy needs metadata.name".into())]);
    };
    let Some(spec) = doc.get("spec").filter(|s| s.as_map().is_some()) else {
        return (None, vec![(doc.loc, format!("ValidatingAdmissionPolicy '{name}' has no spec"))]);
    };
    let param_kind = match spec.get("paramKind").filter(|n| !n.is_null()) {
        None => None,
        Some(pk) => match (pk.str_at(&["apiVersion"]), pk.str_at(&["kind"])) {
            (Some(a), Some(k)) => Some(ParamKind { api_version: a.to_string(), kind: k.to_string() }),
            _ => {
                problems.push((pk.loc, "paramKind needs apiVersion and kind".to_string()));
                None
            }
        },
    };
    let constraints = match spec.get("matchConstraints") {
        None => {
            problems.push((
                spec.loc,
                "spec.matchConstraints is required (it names the resources the policy applies to)".into(),
            ));
            None
        }
        Some(mc) => match match_resources(mc, "matchConstraints") {
            Ok(m) if m.rules.is_empty() => {
                problems.push((mc.loc, "matchConstraints.resourceRules is required".into()));
                None
            }
            Ok(m) => Some(m),
            Err(p) => {
                problems.push(p);
                None
            }
        },
    };
    let fail = match spec.get("failurePolicy") {
        None => true,
        Some(n) => match n.as_str() {
            Some("Fail") => true,
            Some("Ignore") => false,
            _ => {
                problems.push((n.loc, "failurePolicy must be Fail or Ignore".into()));
                true
            }
        },
    };
    let mut conditions = Vec::new();
    named(spec.get("matchConditions"), "matchConditions", &mut conditions, &mut problems);
    let mut variables = Vec::new();
    named(spec.get("variables"), "variables", &mut variables, &mut problems);
    // A variable reads earlier ones: fold in what those need, in order.
    for i in 0..variables.len() {
        let (earlier, rest) = variables.split_at_mut(i);
        let v = &mut rest[0];
        let used: Vec<Facts> =
            earlier.iter().filter(|e| v.expr.facts.variables.contains(&e.name)).map(|e| e.expr.facts.clone()).collect();
        for facts in &used {
            v.expr.facts.absorb(facts);
        }
    }
    let mut validations = Vec::new();
    match spec.get("validations").filter(|n| !n.is_null()) {
        None => {}
        Some(vs) => match vs.as_seq() {
            None => problems.push((vs.loc, "validations must be a list".into())),
            Some(seq) => {
                for v in seq {
                    let expr = match compile(v, "expression", "validations") {
                        Ok(e) => e,
                        Err(p) => {
                            problems.push(p);
                            continue;
                        }
                    };
                    let message_expression = match v.get("messageExpression") {
                        None => None,
                        Some(_) => match compile(v, "messageExpression", "validations.messageExpression") {
                            Ok(e) => Some(e),
                            Err(p) => {
                                problems.push(p);
                                None
                            }
                        },
                    };
                    let reason = v.str_at(&["reason"]).map(str::to_string);
                    if let Some(r) = &reason
                        && !matches!(r.as_str(), "Unauthorized" | "Forbidden" | "Invalid" | "RequestEntityTooLarge")
                    {
                        problems.push((v.get("reason").map_or(v.loc, |n| n.loc), format!("validations.reason '{r}' must be Unauthorized, Forbidden, Invalid or RequestEntityTooLarge")));
                    }
                    let mut expr = expr;
                    absorb_variables(&mut expr, &variables);
                    let message_expression = message_expression.map(|mut m| {
                        absorb_variables(&mut m, &variables);
                        m
                    });
                    validations.push(Validation {
                        expr,
                        message: v.str_at(&["message"]).map(str::to_string),
                        message_expression,
                        reason,
                    });
                }
            }
        },
    }
    for c in &mut conditions {
        absorb_variables(&mut c.expr, &variables);
    }
    let written = spec.get("validations").and_then(Node::as_seq).is_some_and(|v| !v.is_empty());
    if !written && spec.get("auditAnnotations").is_none() {
        problems.push((spec.loc, format!("ValidatingAdmissionPolicy '{name}' has no validations")));
    }
    let Some(constraints) = constraints else { return (None, problems) };
    (Some(Policy { name, loc: doc.loc, param_kind, constraints, conditions, variables, validations, fail }), problems)
}

fn absorb_variables(expr: &mut CompiledExpr, variables: &[Named]) {
    let used: Vec<Facts> =
        variables.iter().filter(|v| expr.facts.variables.contains(&v.name)).map(|v| v.expr.facts.clone()).collect();
    for facts in &used {
        expr.facts.absorb(facts);
    }
}

/// Parses a ValidatingAdmissionPolicyBinding document.
pub(super) fn binding(doc: &Node) -> Result<Binding, Problem> {
    let name = doc
        .str_at(&["metadata", "name"])
        .ok_or_else(|| (doc.loc, "a ValidatingAdmissionPolicyBinding needs metadata.name".to_string()))?
        .to_string();
    let spec = doc
        .get("spec")
        .filter(|s| s.as_map().is_some())
        .ok_or_else(|| (doc.loc, format!("binding '{name}' has no spec")))?;
    let policy = req_str(spec, "policyName", &format!("binding '{name}'"))?.to_string();
    let param_ref = match spec.get("paramRef").filter(|n| !n.is_null()) {
        None => None,
        Some(pr) => {
            if pr.as_map().is_none() {
                return Err((pr.loc, "paramRef must be a map".into()));
            }
            let selector = match pr.get("selector").filter(|n| !n.is_null()) {
                None => None,
                Some(s) => Some(LabelSelector::parse(Some(s))?),
            };
            let name_ = pr.str_at(&["name"]).map(str::to_string);
            if name_.is_some() == selector.is_some() {
                return Err((pr.loc, "paramRef needs exactly one of name and selector".into()));
            }
            let deny_if_missing = match pr.get("parameterNotFoundAction") {
                None => true,
                Some(n) => match n.as_str() {
                    Some("Deny") => true,
                    Some("Allow") => false,
                    _ => return Err((n.loc, "paramRef.parameterNotFoundAction must be Allow or Deny".into())),
                },
            };
            Some(ParamRef {
                name: name_,
                namespace: pr.str_at(&["namespace"]).map(str::to_string),
                selector,
                deny_if_missing,
            })
        }
    };
    let match_resources = match spec.get("matchResources").filter(|n| !n.is_null()) {
        None => None,
        Some(m) => Some(match_resources(m, "matchResources")?),
    };
    let mut actions = Vec::new();
    strings(spec.get("validationActions"), "validationActions", &mut actions)?;
    if actions.is_empty() {
        return Err((spec.loc, format!("binding '{name}' needs validationActions (Deny, Warn and/or Audit)")));
    }
    for a in &actions {
        if !matches!(a.as_str(), "Deny" | "Warn" | "Audit") {
            let loc = spec.get("validationActions").map_or(spec.loc, |n| n.loc);
            return Err((loc, format!("validationActions: unknown action '{a}' (Deny, Warn or Audit)")));
        }
    }
    if actions.iter().any(|a| a == "Deny") && actions.iter().any(|a| a == "Warn") {
        let loc = spec.get("validationActions").map_or(spec.loc, |n| n.loc);
        return Err((loc, "validationActions: Deny and Warn together are not allowed".into()));
    }
    let severity = if actions.iter().any(|a| a == "Deny") { Severity::Error } else { Severity::Warning };
    Ok(Binding { name, loc: doc.loc, policy, param_ref, match_resources, actions, severity })
}
