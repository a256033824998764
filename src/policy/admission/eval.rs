//! Evaluating one policy, through one binding, against one object: the CEL variables the API
//! server provides (`object`, `oldObject` = null on create, `params`, `namespaceObject`,
//! `request`, `variables`), then `matchConditions`, `variables` and `validations`, with
//! `failurePolicy` for expressions that err. What an offline check cannot know is never
//! guessed: such a validation is reported as skipped with the reason.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::CelNull;
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::objects::{Key, Map};
use cel::{Context, Value as CelValue};

use crate::finding::Finding;
use crate::rules::Rule;
use crate::schema::cel::shared;
use crate::source::Loc;

use super::expr::CompiledExpr;
use super::matching::Target;
use super::model::{Binding, Policy, Validation};

/// A value in the form a CEL context holds it. Converting is a deep copy, so each value is
/// converted once and lent to every context (see [`Resolver`]).
pub(super) fn to_val(v: CelValue) -> Box<dyn Val> {
    // Values built from YAML are never of a kind that cannot convert; null stands in anyway.
    Box::<dyn Val>::try_from(v).unwrap_or_else(|_| Box::new(CelNull))
}

/// The per-object CEL values, converted once and shared by every policy that matches the object.
pub(super) struct ObjectValues<'a> {
    pub object: Box<dyn Val + 'a>,
    pub request: Box<dyn Val>,
    /// `namespaceObject`: the Namespace from the render (converted once per render); `None`
    /// (null) for cluster-scoped objects and namespaces the render lacks.
    pub namespace_object: Option<&'a (dyn Val + 'a)>,
    /// The object is namespaced but its Namespace is not in the render: expressions that read
    /// `namespaceObject` cannot be decided.
    pub namespace_unknown: bool,
}

fn map(entries: Vec<(&str, CelValue)>) -> CelValue {
    let m: HashMap<Key, CelValue> =
        entries.into_iter().map(|(k, v)| (Key::String(Arc::new(k.to_string())), v)).collect();
    CelValue::Map(Map { map: Arc::new(m) })
}

fn s(v: &str) -> CelValue {
    CelValue::String(Arc::new(v.to_string()))
}

impl<'a> ObjectValues<'a> {
    pub fn new(target: &Target<'a>, namespace: Option<&'a (dyn Val + 'a)>) -> ObjectValues<'a> {
        let kind = map(vec![("group", s(&target.group)), ("version", s(&target.version)), ("kind", s(&target.kind))]);
        let resource =
            map(vec![("group", s(&target.group)), ("version", s(&target.version)), ("resource", s(&target.resource))]);
        let request = map(vec![
            ("uid", s("")),
            ("kind", kind.clone()),
            ("resource", resource.clone()),
            ("subResource", s("")),
            ("requestKind", kind),
            ("requestResource", resource),
            ("requestSubResource", s("")),
            ("name", s(&target.name)),
            ("namespace", s(&target.namespace)),
            ("operation", s("CREATE")),
            ("dryRun", CelValue::Bool(false)),
            ("options", map(vec![("apiVersion", s("meta.k8s.io/v1")), ("kind", s("CreateOptions"))])),
        ]);
        ObjectValues {
            object: shared::node_to_val(target.node),
            request: to_val(request),
            namespace_object: namespace,
            namespace_unknown: !target.namespace.is_empty() && namespace.is_none(),
        }
    }
}

/// What one expression came to.
enum Verdict {
    Value(CelValue),
    /// Cannot be decided offline; the reason.
    Skip(String),
    /// A runtime error the API server would hit too.
    Error(String),
}

/// A variable's value, or why it has none.
enum VarResult {
    Ok,
    Skip(String),
    Error(String),
}

/// One policy/binding/parameter evaluation against one object.
pub(super) struct Evaluation<'a> {
    pub policy: &'a Policy,
    pub binding: &'a Binding,
    pub target: &'a Target<'a>,
    pub values: &'a ObjectValues<'a>,
    pub params: Box<dyn Val + 'a>,
    /// Which parameter object, for messages (`ConfigMap 'shop/limits'`).
    pub param_label: Option<String>,
    /// Prepended to messages (`pod template of Deployment 'web': `).
    pub prefix: &'a str,
}

/// Lends the evaluation's values to a CEL context without copying them.
struct Resolver<'a> {
    ev: &'a Evaluation<'a>,
    variables: &'a dyn Val,
}

impl VariableResolver for Resolver<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let v: &dyn Val = match name {
            "object" => &*self.ev.values.object,
            "oldObject" => return Some(CowVal::owned(CelNull)),
            "params" => &*self.ev.params,
            "namespaceObject" => match self.ev.values.namespace_object {
                Some(v) => v,
                None => return Some(CowVal::owned(CelNull)),
            },
            "request" => &*self.ev.values.request,
            "variables" => self.variables,
            _ => return None,
        };
        Some(CowVal::Borrowed(v))
    }
}

impl<'a> Evaluation<'a> {
    /// Runs `f` with a context holding this evaluation's variables and `variables`.
    fn with_context<R>(&'a self, variables: &HashMap<Key, CelValue>, f: impl FnOnce(&Context) -> R) -> R {
        let vars = to_val(CelValue::Map(Map { map: Arc::new(variables.clone()) }));
        let resolver = Resolver { ev: self, variables: &*vars };
        let mut ctx = Context::with_env(shared::env());
        ctx.set_variable_resolver(&resolver);
        f(&ctx)
    }

    /// Why `expr` cannot be decided for this object, if it cannot.
    fn gap(&self, expr: &CompiledExpr) -> Option<String> {
        if let Some(g) = expr.facts.offline_gap() {
            return Some(g.to_string());
        }
        if expr.facts.namespace_object && self.values.namespace_unknown {
            return Some(format!(
                "it reads `namespaceObject` and the Namespace '{}' is not in this render",
                self.target.namespace
            ));
        }
        None
    }

    fn run(&self, expr: &CompiledExpr, ctx: &Context, vars: &HashMap<String, VarResult>) -> Verdict {
        if let Some(g) = self.gap(expr) {
            return Verdict::Skip(g);
        }
        for name in &expr.facts.variables {
            match vars.get(name) {
                Some(VarResult::Skip(r)) => return Verdict::Skip(format!("variable '{name}': {r}")),
                Some(VarResult::Error(e)) => return Verdict::Error(format!("variable '{name}': {e}")),
                _ => {}
            }
        }
        match expr.run(ctx) {
            Ok(v) => Verdict::Value(v),
            Err(e) if shared::is_unsupported_error(&expr.program, &e) => Verdict::Skip(format!(
                "it calls a Kubernetes CEL function fluxgate does not implement ({})",
                shared::one_line_error(&e.to_string())
            )),
            Err(e) => Verdict::Error(shared::one_line_error(&e.to_string())),
        }
    }

    fn help(&self) -> String {
        let mut h = format!(
            "ValidatingAdmissionPolicy '{}' through binding '{}' (validationActions: {})",
            self.policy.name,
            self.binding.name,
            self.binding.actions.join(", ")
        );
        if let Some(p) = &self.param_label {
            h.push_str(&format!(", with parameters {p}"));
        }
        h
    }

    fn finding(&self, rule: Rule, message: String) -> Finding {
        let mut f = Finding::new(rule, format!("{}{message}", self.prefix)).policy(&self.policy.name).help(self.help());
        if rule == Rule::AdmissionPolicy {
            f.severity = self.binding.severity;
        }
        f
    }

    /// The deepest node of the object that `expr` reads, or the object itself.
    fn loc_of(&self, expr: &CompiledExpr) -> Loc {
        let mut best = (0, self.target.node.loc);
        for path in &expr.facts.object_paths {
            let mut cur = self.target.node;
            for (depth, seg) in path.iter().enumerate() {
                let Some(next) = cur.get(seg) else { break };
                cur = next;
                if depth + 1 > best.0 && !next.loc.is_none() {
                    best = (depth + 1, next.loc);
                }
            }
        }
        best.1
    }

    /// An expression that erred: a finding under `failurePolicy: Fail`, a skip under Ignore.
    fn failed(&self, what: &str, expr: &CompiledExpr, error: &str) -> (Loc, Finding) {
        let loc = self.loc_of(expr);
        if self.policy.fail {
            let m = format!(
                "{what} `{}` cannot be evaluated: {error} (failurePolicy: Fail rejects the object)",
                expr.source
            );
            (loc, self.finding(Rule::AdmissionPolicy, m))
        } else {
            let m = format!("{what} `{}` was not checked: it errs ({error}) and failurePolicy is Ignore", expr.source);
            (loc, self.finding(Rule::AdmissionPolicySkipped, m))
        }
    }

    fn skipped(&self, what: &str, expr: &CompiledExpr, reason: &str) -> (Loc, Finding) {
        let m = format!("{what} `{}` was not checked: {reason}", expr.source);
        (self.loc_of(expr), self.finding(Rule::AdmissionPolicySkipped, m))
    }

    /// Runs the evaluation; findings are (location, finding).
    pub fn run_all(&'a self, out: &mut Vec<(Loc, Finding)>) {
        if !self.with_context(&HashMap::new(), |ctx| self.conditions(ctx, out)) {
            return;
        }
        // Variables, in order, each seeing the ones before it.
        let mut results: HashMap<String, VarResult> = HashMap::new();
        let mut bound: HashMap<Key, CelValue> = HashMap::new();
        for v in &self.policy.variables {
            let r = match self.with_context(&bound, |ctx| self.run(&v.expr, ctx, &results)) {
                Verdict::Value(val) => {
                    bound.insert(Key::String(Arc::new(v.name.clone())), val);
                    VarResult::Ok
                }
                Verdict::Skip(r) => VarResult::Skip(r),
                Verdict::Error(e) => VarResult::Error(e),
            };
            results.insert(v.name.clone(), r);
        }
        self.with_context(&bound, |ctx| {
            for v in &self.policy.validations {
                self.validate(v, ctx, &results, out);
            }
        });
    }

    /// Whether the policy applies after its matchConditions; a condition that errs or cannot
    /// be decided adds its finding and stops the evaluation.
    fn conditions(&self, ctx: &Context, out: &mut Vec<(Loc, Finding)>) -> bool {
        // matchConditions: any false → the policy does not apply; otherwise an error wins
        // over an undecidable condition.
        let (mut error, mut skip) = (None, None);
        for c in &self.policy.conditions {
            match self.run(&c.expr, ctx, &HashMap::new()) {
                Verdict::Value(CelValue::Bool(false)) => return false,
                Verdict::Value(CelValue::Bool(true)) => {}
                Verdict::Value(other) => {
                    error.get_or_insert((c, format!("it evaluates to {}, not a bool", other.type_of())));
                }
                Verdict::Error(e) => {
                    error.get_or_insert((c, e));
                }
                Verdict::Skip(r) => {
                    skip.get_or_insert((c, r));
                }
            }
        }
        if let Some((c, e)) = error {
            out.push(self.failed(&format!("matchCondition '{}'", c.name), &c.expr, &e));
            return false;
        }
        if let Some((c, r)) = skip {
            let m = format!(
                "not checked: whether the policy applies depends on matchCondition '{}' (`{}`), and {r}",
                c.name, c.expr.source
            );
            out.push((self.loc_of(&c.expr), self.finding(Rule::AdmissionPolicySkipped, m)));
            return false;
        }
        true
    }

    fn validate(
        &self,
        v: &Validation,
        ctx: &Context,
        vars: &HashMap<String, VarResult>,
        out: &mut Vec<(Loc, Finding)>,
    ) {
        match self.run(&v.expr, ctx, vars) {
            Verdict::Value(CelValue::Bool(true)) => {}
            Verdict::Value(CelValue::Bool(false)) => {
                let mut message = self.message(v, ctx, vars);
                if let Some(r) = &v.reason {
                    message.push_str(&format!(" (reason: {r})"));
                }
                out.push((self.loc_of(&v.expr), self.finding(Rule::AdmissionPolicy, message)));
            }
            Verdict::Value(other) => out.push(self.failed(
                "validation",
                &v.expr,
                &format!("it evaluates to {}, not a bool", other.type_of()),
            )),
            Verdict::Error(e) => out.push(self.failed("validation", &v.expr, &e)),
            Verdict::Skip(r) => out.push(self.skipped("validation", &v.expr, &r)),
        }
    }

    /// The API server's message for a failed validation: `messageExpression` when it yields a
    /// non-empty single-line string, else `message`, else `failed expression: <expression>`.
    fn message(&self, v: &Validation, ctx: &Context, vars: &HashMap<String, VarResult>) -> String {
        if let Some(me) = &v.message_expression
            && let Verdict::Value(CelValue::String(s)) = self.run(me, ctx, vars)
            && !s.trim().is_empty()
            && !s.contains('\n')
        {
            return s.trim().to_string();
        }
        match &v.message {
            Some(m) if !m.trim().is_empty() => m.clone(),
            _ => format!("failed expression: {}", v.expr.source),
        }
    }
}
