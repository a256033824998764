//! CRD `x-kubernetes-validations` rules, evaluated offline the way the API server evaluates them
//! on create: each rule sees `self` = the value at the schema node it is declared on, after the
//! schema's defaults were applied, with values typed by the schema (an `integer` is a CEL `int`,
//! a `number` a `double`, a `format: duration` string a duration, `date`/`date-time` a timestamp).
//!
//! The `cel` crate lacks most of the Kubernetes CEL library; the common pieces are registered here
//! (list `isSorted`/`sum`/`min`/`max`/`indexOf`/`lastIndexOf`, regex `find`/`findAll`, `isURL`/`url`,
//! `isQuantity`/`quantity`).
//! A rule that calls anything still missing is counted as unsupported, never reported as a failure:
//! a gap in this evaluator must not block a merge.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use cel::common::types::{INT_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::objects::{Key, Map};
use cel::{Context, Env, ExecutionError, Program, Value as CelValue};
use serde_json::Value as J;

use super::{PathSeg, SchemaViolation};
use crate::rules::Rule;
use crate::source::{Loc, Node, Value};

/// One step from a schema node to the values below it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// `properties.<key>`: the object's field of that name.
    Key(String),
    /// `items`: every element of a list.
    Items,
    /// `additionalProperties`: every value of a map.
    Values,
}

/// Why a rule will not be evaluated.
#[derive(Debug)]
enum Skip {
    /// The rule compares with `oldSelf`; on create there is no old object.
    Transition,
}

/// One compiled `x-kubernetes-validations` entry and where it sits in the schema.
struct CompiledRule {
    steps: Vec<Step>,
    /// The schema node the rule is declared on, used to type `self` and apply defaults.
    schema: Arc<J>,
    source: String,
    program: Result<Program, Skip>,
    message: Option<String>,
    message_expression: Option<Program>,
    field_path: Vec<PathSeg>,
}

/// The CEL rules of one CRD version's `openAPIV3Schema`, compiled once and evaluated against every
/// object of that kind (compiling is much dearer than evaluating).
pub struct CelRules {
    rules: Vec<CompiledRule>,
    /// Rules that do not parse, as `<schema path>: <rule>: <error>`. The API server would have
    /// refused such a CRD; the caller reports them against the CRD, once.
    pub compile_errors: Vec<String>,
}

/// What evaluating the rules against one object found.
#[derive(Debug, Default)]
pub struct CelOutcome {
    /// Rules that evaluated to false or failed at runtime (the API server rejects both).
    pub violations: Vec<SchemaViolation>,
    /// Transition rules (they read `oldSelf`), which have nothing to compare with on create.
    pub skipped_transition_rules: usize,
    /// Rules calling a Kubernetes CEL function this evaluator lacks; skipped, not failed.
    pub unsupported_rules: usize,
    /// Rules that failed on a value still holding a Flux `${VAR}` reference (a plain render):
    /// not reported, since Flux substitutes it first; the Flux entry point checks the result.
    pub skipped_flux_variables: usize,
}

/// Deepest schema nesting walked; real CRDs are far shallower, this only bounds hostile input.
const MAX_SCHEMA_DEPTH: usize = 128;

/// The shared environment: the CEL standard library, the cel-go extensions Kubernetes enables
/// (strings, lists, math) and the Kubernetes library functions implemented here.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(build_env()));

fn build_env() -> Env {
    let mut env = Env::stdlib();
    // Each registration can only fail on a duplicate declaration; a failed one leaves that
    // function undeclared, so rules calling it count as unsupported instead of crashing.
    let _ = env.add_extension(cel::extensions::strings);
    let _ = env.add_extension(cel::extensions::lists);
    let _ = env.add_extension(cel::extensions::math);
    let _ = env.add_extension(kube::extension);
    env
}

impl CelRules {
    /// Collects and compiles every `x-kubernetes-validations` rule of a CRD version's
    /// `openAPIV3Schema`.
    pub fn compile(open_api_v3: &J) -> CelRules {
        let mut out = CelRules { rules: Vec::new(), compile_errors: Vec::new() };
        let mut steps = Vec::new();
        collect(open_api_v3, &mut steps, &mut out, 0);
        out
    }

    /// True when the schema has no rules at all, so callers can skip the object conversion.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates every rule against `obj` (the whole object, as the CRD's root schema sees it).
    pub fn evaluate(&self, obj: &Node) -> CelOutcome {
        let mut outcome = CelOutcome::default();
        for rule in &self.rules {
            let program = match &rule.program {
                Ok(p) => p,
                Err(Skip::Transition) => {
                    outcome.skipped_transition_rules += 1;
                    continue;
                }
            };
            let mut targets = Vec::new();
            find_targets(obj, &rule.steps, &mut Vec::new(), &mut targets);
            for (node, path) in targets {
                let this = to_cel(node, Some(&rule.schema));
                match run(program, &this) {
                    Ok(CelValue::Bool(true)) => {}
                    // A plain render still holds Flux `${VAR}` references; the Flux entry
                    // point's render checks the substituted value, as schema checks do.
                    _ if holds_flux_var(node) => outcome.skipped_flux_variables += 1,
                    Ok(CelValue::Bool(false)) => {
                        let message = rule_message(rule, &this);
                        outcome.violations.push(violation(rule, path, message));
                    }
                    Ok(other) => {
                        let message = format!("rule did not evaluate to a boolean: {}", other.type_of());
                        outcome.violations.push(violation(rule, path, message));
                    }
                    Err(e) if is_unsupported(program, &e) => outcome.unsupported_rules += 1,
                    Err(e) => {
                        let message = format!("rule evaluation error: {}", one_line(&e.to_string()));
                        outcome.violations.push(violation(rule, path, message));
                    }
                }
            }
        }
        outcome
    }
}

fn violation(rule: &CompiledRule, mut path: Vec<PathSeg>, message: String) -> SchemaViolation {
    path.extend(rule.field_path.iter().cloned());
    SchemaViolation {
        rule: Rule::SchemaCelRule,
        path,
        message,
        help: Some(format!("the CRD requires `{}` to hold here", rule.source)),
    }
}

/// The message of a failed rule: `messageExpression` if it yields a non-empty string, else
/// `message`, else the rule text, in the API server's order.
fn rule_message(rule: &CompiledRule, this: &CelValue) -> String {
    if let Some(expr) = &rule.message_expression
        && let Ok(CelValue::String(s)) = run(expr, this)
        && !s.trim().is_empty()
    {
        return s.to_string();
    }
    match &rule.message {
        Some(m) if !m.is_empty() => m.clone(),
        _ => format!("failed rule: {}", rule.source),
    }
}

fn run(program: &Program, this: &CelValue) -> Result<CelValue, ExecutionError> {
    let mut ctx = Context::with_env(Arc::clone(&ENV));
    ctx.add_variable_from_value("self", this.clone());
    program.execute(&ctx)
}

/// A runtime error that comes from this evaluator's gaps rather than from the object: a call to
/// an undeclared function, or a named function with no overload for the runtime types (Kubernetes
/// type-checks rules when the CRD is created, so a well-formed rule only hits that here).
fn is_unsupported(program: &Program, e: &ExecutionError) -> bool {
    match e {
        ExecutionError::UndeclaredReference(name) => program.references().has_function(name.as_str()),
        ExecutionError::NoSuchOverload(o) => {
            let f = o.function();
            !f.starts_with('_') && !f.starts_with('@') && !f.starts_with('!')
        }
        _ => false,
    }
}

/// Walks the schema, compiling the rules it finds. `allOf`/`anyOf`/`oneOf`/`not` cannot carry
/// rules in a structural schema, so only `properties`, `items` and `additionalProperties` lead
/// further down.
fn collect(schema: &J, steps: &mut Vec<Step>, out: &mut CelRules, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Some(obj) = schema.as_object() else { return };
    if let Some(rules) = obj.get("x-kubernetes-validations").and_then(J::as_array) {
        let shared = Arc::new(schema.clone());
        for entry in rules {
            compile_rule(entry, steps, &shared, out);
        }
    }
    if let Some(props) = obj.get("properties").and_then(J::as_object) {
        for (k, sub) in props {
            steps.push(Step::Key(k.clone()));
            collect(sub, steps, out, depth + 1);
            steps.pop();
        }
    }
    if let Some(items) = obj.get("items") {
        steps.push(Step::Items);
        collect(items, steps, out, depth + 1);
        steps.pop();
    }
    if let Some(values) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        steps.push(Step::Values);
        collect(values, steps, out, depth + 1);
        steps.pop();
    }
}

fn compile_rule(entry: &J, steps: &[Step], schema: &Arc<J>, out: &mut CelRules) {
    let Some(source) = entry.get("rule").and_then(J::as_str) else {
        out.compile_errors.push(format!("{}: x-kubernetes-validations entry without a rule", schema_path(steps)));
        return;
    };
    let program = match ENV.compile(source) {
        Ok(p) => p,
        Err(e) => {
            out.compile_errors.push(format!("{}: {source}: {}", schema_path(steps), one_line(&e.to_string())));
            return;
        }
    };
    let program = if program.references().has_variable("oldSelf") { Err(Skip::Transition) } else { Ok(program) };
    // A messageExpression that does not compile falls back to `message`, as it does when it fails
    // at runtime; the rule itself is still checked.
    let message_expression = entry.get("messageExpression").and_then(J::as_str).and_then(|m| ENV.compile(m).ok());
    let field_path = entry.get("fieldPath").and_then(J::as_str).map(parse_field_path).unwrap_or_default();
    out.rules.push(CompiledRule {
        steps: steps.to_vec(),
        schema: Arc::clone(schema),
        source: source.to_string(),
        program,
        message: entry.get("message").and_then(J::as_str).map(str::to_string),
        message_expression,
        field_path,
    });
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Renders schema steps as `spec.items[*].values[*]` for compile errors.
fn schema_path(steps: &[Step]) -> String {
    let mut s = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Items | Step::Values => s.push_str("[*]"),
        }
    }
    if s.is_empty() { "<root>".to_string() } else { s }
}

/// Parses a rule's `fieldPath` (`.spec.foo`, `.map['key.with.dots']`, `.list[2]`) into path
/// segments relative to the rule's node. Anything unparsable ends the path there: the finding
/// then points at the nearest parent, still correct if less precise.
fn parse_field_path(s: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end] != b'.' && b[end] != b'[' {
                    end += 1;
                }
                if end == start {
                    break;
                }
                out.push(PathSeg::Key(s[start..end].to_string()));
                i = end;
            }
            b'[' => {
                let Some(close) = s[i..].find(']').map(|c| i + c) else { break };
                let inner = s[i + 1..close].trim();
                let quoted = inner.len() >= 2
                    && ((inner.starts_with('\'') && inner.ends_with('\''))
                        || (inner.starts_with('"') && inner.ends_with('"')));
                if quoted {
                    out.push(PathSeg::Key(inner[1..inner.len() - 1].to_string()));
                } else if let Ok(n) = inner.parse::<usize>() {
                    out.push(PathSeg::Index(n));
                } else {
                    break;
                }
                i = close + 1;
            }
            _ => break,
        }
    }
    out
}

/// Every value in `node` that the schema steps lead to, with its path; absent fields are no
/// targets (a rule on an unset field does not run).
fn find_targets<'a>(node: &'a Node, steps: &[Step], path: &mut Vec<PathSeg>, out: &mut Vec<(&'a Node, Vec<PathSeg>)>) {
    let Some((step, rest)) = steps.split_first() else {
        // The API server skips rules on null values (an unset optional field).
        if !node.is_null() {
            out.push((node, path.clone()));
        }
        return;
    };
    match (step, &node.value) {
        (Step::Key(k), Value::Map(m)) => {
            if let Some(child) = m.get(k) {
                path.push(PathSeg::Key(k.clone()));
                find_targets(child, rest, path, out);
                path.pop();
            }
        }
        (Step::Items, Value::Seq(items)) => {
            for (i, child) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                find_targets(child, rest, path, out);
                path.pop();
            }
        }
        (Step::Values, Value::Map(m)) => {
            for (k, child) in m.iter() {
                path.push(PathSeg::Key(k.clone()));
                find_targets(child, rest, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Words CEL reserves; Kubernetes exposes a property with such a name as `__<name>__`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name under which CEL sees an object property, escaped the way Kubernetes escapes it
/// (`x-y` → `x__dash__y`, `a.b` → `a__dot__b`, `namespace` → `__namespace__`).
fn escape_property(name: &str) -> String {
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    let mut s = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                s.push_str("__underscores__");
            }
            '.' => s.push_str("__dot__"),
            '-' => s.push_str("__dash__"),
            '/' => s.push_str("__slash__"),
            c => s.push(c),
        }
    }
    s
}

fn schema_type(schema: Option<&J>) -> Option<&str> {
    schema.and_then(|s| s.get("type")).and_then(J::as_str)
}

/// Converts a node to a CEL value, typed by its schema the way the API server types it:
/// integers stay `int` (never `uint`), an integer in a `number` field becomes a `double`,
/// object properties are escaped and unset properties with a `default` get it.
fn to_cel(node: &Node, schema: Option<&J>) -> CelValue {
    match &node.value {
        Value::Null(_) => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Int(i) if schema_type(schema) == Some("number") => CelValue::Float(*i as f64),
        Value::Int(i) => CelValue::Int(*i),
        Value::Float(f) => CelValue::Float(*f),
        Value::Str(s) => string_to_cel(s, schema.and_then(|s| s.get("format")).and_then(J::as_str)),
        Value::Seq(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            CelValue::List(Arc::new(items.iter().map(|n| to_cel(n, item_schema)).collect()))
        }
        Value::Map(m) => {
            let props = schema.and_then(|s| s.get("properties")).and_then(J::as_object);
            let values = schema.and_then(|s| s.get("additionalProperties")).filter(|v| v.is_object());
            let mut map: HashMap<Key, CelValue> = HashMap::with_capacity(m.len());
            match props {
                Some(props) => {
                    for (k, v) in m.iter() {
                        let sub = props.get(k).or(values);
                        map.insert(Key::String(Arc::new(escape_property(k))), to_cel(v, sub));
                    }
                    for (k, sub) in props {
                        if m.contains_key(k) {
                            continue;
                        }
                        if let Some(default) = sub.get("default") {
                            let n = Node::from_json(default, Loc::NONE);
                            map.insert(Key::String(Arc::new(escape_property(k))), to_cel(&n, Some(sub)));
                        }
                    }
                }
                None => {
                    for (k, v) in m.iter() {
                        map.insert(Key::String(Arc::new(k.clone())), to_cel(v, values));
                    }
                }
            }
            CelValue::Map(Map { map: Arc::new(map) })
        }
    }
}

/// A string typed by its schema `format`, as Kubernetes types it: `duration` is a CEL duration,
/// `date`/`date-time` a timestamp. A value that does not parse stays a string (the schema check
/// reports the bad format).
fn string_to_cel(s: &str, format: Option<&str>) -> CelValue {
    let typed = match format {
        Some("duration") => parse_go_duration(s).map(CelValue::Duration),
        Some("date-time") => chrono::DateTime::parse_from_rfc3339(s).ok().map(CelValue::Timestamp),
        Some("date") => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| CelValue::Timestamp(dt.and_utc().fixed_offset())),
        _ => None,
    };
    typed.unwrap_or_else(|| CelValue::String(Arc::new(s.to_string())))
}

/// Parses a Go duration (`1h30m`, `500ms`, `-1.5s`, `0`).
fn parse_go_duration(s: &str) -> Option<chrono::Duration> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let unit_end =
            rest[num_end..].find(|c: char| c.is_ascii_digit() || c == '.').map_or(rest.len(), |i| num_end + i);
        let (number, unit) = (&rest[..num_end], &rest[num_end..unit_end]);
        let per_unit: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
        let int: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
        nanos = nanos.checked_add(int.checked_mul(per_unit)?)?;
        let mut scale = per_unit;
        for b in frac_part.bytes().take(18) {
            scale /= 10;
            nanos = nanos.checked_add(i128::from(b - b'0').checked_mul(scale)?)?;
        }
        rest = &rest[unit_end..];
    }
    let nanos = i64::try_from(if negative { -nanos } else { nanos }).ok()?;
    Some(chrono::Duration::nanoseconds(nanos))
}

/// The pieces ValidatingAdmissionPolicy evaluation (`crate::policy::admission`) shares with
/// the CRD rules, so both see one Kubernetes CEL environment and one value conversion.
pub mod shared {
    use super::*;

    /// The environment with the Kubernetes library functions; clone it into each `Context`.
    pub fn env() -> Arc<Env> {
        Arc::clone(&ENV)
    }

    /// Compiles an expression in that environment; the error is one line.
    pub fn compile(source: &str) -> Result<Program, String> {
        ENV.compile(source).map_err(|e| one_line(&e.to_string()))
    }

    /// Converts a node straight into the form a CEL context holds, borrowing its strings: the
    /// values the CRD rules see for a field without a schema (integers stay `int`; property
    /// names are not escaped, built-in kinds have none that need it and map keys such as
    /// labels never are), with no intermediate copy, for values lent to many evaluations.
    pub fn node_to_val(node: &Node) -> Box<dyn Val + '_> {
        use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString};
        match &node.value {
            Value::Null(_) => Box::new(CelNull),
            Value::Bool(b) => Box::new(CelBool::from(*b)),
            Value::Int(i) => Box::new(CelInt::from(*i)),
            Value::Float(f) => Box::new(CelDouble::from(*f)),
            Value::Str(s) => Box::new(CelString::from(s.as_str())),
            Value::Seq(items) => Box::new(CelList::from(items.iter().map(node_to_val).collect::<Vec<_>>())),
            Value::Map(m) => Box::new(CelMap::from(
                m.iter().map(|(k, v)| (CelMapKey::from(k.as_str()), node_to_val(v))).collect::<HashMap<_, _>>(),
            )),
        }
    }

    /// Whether a runtime error comes from a gap of this evaluator (a Kubernetes function it
    /// lacks), not from the data: such an expression is skipped, never failed.
    pub fn is_unsupported_error(program: &Program, e: &ExecutionError) -> bool {
        is_unsupported(program, e)
    }

    /// An error message on one line.
    pub fn one_line_error(s: &str) -> String {
        one_line(s)
    }
}

/// The Kubernetes CEL library functions implemented on top of the `cel` crate.
mod kube {
    use super::*;

    /// Registers the functions on `env`.
    pub(super) fn extension(env: &mut Env) -> Result<(), cel::DeclarationError> {
        env.add_member_overload("isSorted", "list.isSorted()", LIST_TYPE, vec![], is_sorted)?;
        env.add_member_overload("sum", "list.sum()", LIST_TYPE, vec![], sum)?;
        env.add_member_overload("min", "list.min()", LIST_TYPE, vec![], min)?;
        env.add_member_overload("max", "list.max()", LIST_TYPE, vec![], max)?;
        env.add_member_overload("indexOf", "list.indexOf(dyn)", LIST_TYPE, vec![cel_dyn()], index_of)?;
        env.add_member_overload("lastIndexOf", "list.lastIndexOf(dyn)", LIST_TYPE, vec![cel_dyn()], last_index_of)?;
        env.add_member_overload("find", "string.find(string)", STRING_TYPE, vec![STRING_TYPE], find)?;
        env.add_member_overload("findAll", "string.findAll(string)", STRING_TYPE, vec![STRING_TYPE], find_all)?;
        env.add_member_overload(
            "findAll",
            "string.findAll(string,int)",
            STRING_TYPE,
            vec![STRING_TYPE, INT_TYPE],
            find_all_n,
        )?;
        env.add_overload("isURL", "isURL(string)", vec![STRING_TYPE], is_url)?;
        env.add_overload("url", "url(string)", vec![STRING_TYPE], url)?;
        for (name, f) in URL_GETTERS {
            env.add_member_overload(name, &format!("url.{name}()"), MAP_TYPE, vec![], *f)?;
        }
        env.add_overload("isQuantity", "isQuantity(string)", vec![STRING_TYPE], is_quantity)?;
        env.add_overload("quantity", "quantity(string)", vec![STRING_TYPE], quantity)?;
        for (name, f) in QUANTITY_UNARY {
            env.add_member_overload(name, &format!("quantity.{name}()"), MAP_TYPE, vec![], *f)?;
        }
        for (name, f) in QUANTITY_BINARY {
            env.add_member_overload(name, &format!("quantity.{name}(quantity)"), MAP_TYPE, vec![MAP_TYPE], *f)?;
        }
        Ok(())
    }

    fn cel_dyn() -> cel::common::types::Type {
        cel::common::types::DYN_TYPE
    }

    type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
    type Ret<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

    fn value_arg(args: &Args<'_, '_>, i: usize) -> Result<CelValue, ExecutionError> {
        let v = args.get(i).ok_or_else(ExecutionError::missing_argument_or_target)?;
        CelValue::try_from(&**v)
    }

    fn list_arg(args: &Args<'_, '_>, fname: &str) -> Result<Arc<Vec<CelValue>>, ExecutionError> {
        match value_arg(args, 0)? {
            CelValue::List(l) => Ok(l),
            other => Err(ExecutionError::function_error(fname, format!("expected a list, got {}", other.type_of()))),
        }
    }

    fn string_arg(args: &Args<'_, '_>, i: usize, fname: &str) -> Result<Arc<String>, ExecutionError> {
        match value_arg(args, i)? {
            CelValue::String(s) => Ok(s),
            other => Err(ExecutionError::function_error(fname, format!("expected a string, got {}", other.type_of()))),
        }
    }

    fn ret<'b, 'v>(v: CelValue) -> Ret<'b, 'v> {
        let boxed: Box<dyn cel::common::value::Val> = v.try_into()?;
        Ok(CowVal::Owned(boxed))
    }

    /// Orders two CEL values of the same comparable kind; mixed numbers compare by value.
    fn compare(a: &CelValue, b: &CelValue) -> Option<std::cmp::Ordering> {
        use CelValue as V;
        match (a, b) {
            (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
            (V::UInt(x), V::UInt(y)) => Some(x.cmp(y)),
            (V::Float(x), V::Float(y)) => x.partial_cmp(y),
            (V::Int(x), V::Float(y)) => (*x as f64).partial_cmp(y),
            (V::Float(x), V::Int(y)) => x.partial_cmp(&(*y as f64)),
            (V::String(x), V::String(y)) => Some(x.cmp(y)),
            (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
            (V::Duration(x), V::Duration(y)) => Some(x.cmp(y)),
            (V::Timestamp(x), V::Timestamp(y)) => Some(x.cmp(y)),
            _ => None,
        }
    }

    fn not_comparable(fname: &str) -> ExecutionError {
        ExecutionError::function_error(fname, "list elements are not comparable")
    }

    fn is_sorted<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let l = list_arg(&args, "isSorted")?;
        for w in l.windows(2) {
            match compare(&w[0], &w[1]) {
                Some(std::cmp::Ordering::Greater) => return ret(CelValue::Bool(false)),
                Some(_) => {}
                None => return Err(not_comparable("isSorted")),
            }
        }
        ret(CelValue::Bool(true))
    }

    fn sum<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let l = list_arg(&args, "sum")?;
        let mut int: i64 = 0;
        let mut float: Option<f64> = None;
        for v in l.iter() {
            match v {
                CelValue::Int(i) => {
                    int =
                        int.checked_add(*i).ok_or_else(|| ExecutionError::function_error("sum", "integer overflow"))?
                }
                CelValue::Float(f) => *float.get_or_insert(0.0) += f,
                other => {
                    return Err(ExecutionError::function_error("sum", format!("cannot sum {}", other.type_of())));
                }
            }
        }
        match float {
            Some(f) => ret(CelValue::Float(f + int as f64)),
            None => ret(CelValue::Int(int)),
        }
    }

    fn extreme<'b, 'v>(args: Args<'b, 'v>, fname: &str, want: std::cmp::Ordering) -> Ret<'b, 'v> {
        let l = list_arg(&args, fname)?;
        let mut best: Option<&CelValue> = None;
        for v in l.iter() {
            best = match best {
                None => Some(v),
                Some(b) => match compare(v, b) {
                    Some(o) if o == want => Some(v),
                    Some(_) => Some(b),
                    None => return Err(not_comparable(fname)),
                },
            };
        }
        match best {
            Some(v) => ret(v.clone()),
            None => Err(ExecutionError::function_error(fname, "list is empty")),
        }
    }

    fn min<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        extreme(args, "min", std::cmp::Ordering::Less)
    }

    fn max<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        extreme(args, "max", std::cmp::Ordering::Greater)
    }

    fn same(a: &CelValue, b: &CelValue) -> bool {
        match compare(a, b) {
            Some(o) => o == std::cmp::Ordering::Equal,
            None => a == b,
        }
    }

    fn index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let l = list_arg(&args, "indexOf")?;
        let x = value_arg(&args, 1)?;
        let i = l.iter().position(|v| same(v, &x)).map_or(-1, |i| i as i64);
        ret(CelValue::Int(i))
    }

    fn last_index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let l = list_arg(&args, "lastIndexOf")?;
        let x = value_arg(&args, 1)?;
        let i = l.iter().rposition(|v| same(v, &x)).map_or(-1, |i| i as i64);
        ret(CelValue::Int(i))
    }

    fn regex(pattern: &str, fname: &str) -> Result<Arc<regex::Regex>, ExecutionError> {
        crate::source::regex_cache::compiled(pattern).map_err(|e| ExecutionError::function_error(fname, e))
    }

    fn find<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let s = string_arg(&args, 0, "find")?;
        let re = regex(&string_arg(&args, 1, "find")?, "find")?;
        let found = re.find(&s).map(|m| m.as_str().to_string()).unwrap_or_default();
        ret(CelValue::String(Arc::new(found)))
    }

    fn find_all_limited<'b, 'v>(args: &Args<'b, 'v>, limit: Option<i64>) -> Ret<'b, 'v> {
        let s = string_arg(args, 0, "findAll")?;
        let re = regex(&string_arg(args, 1, "findAll")?, "findAll")?;
        // A negative limit means all matches, as in Go's FindAllString.
        let limit = limit.and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
        let found: Vec<CelValue> =
            re.find_iter(&s).take(limit).map(|m| CelValue::String(Arc::new(m.as_str().to_string()))).collect();
        ret(CelValue::List(Arc::new(found)))
    }

    fn find_all<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        find_all_limited(&args, None)
    }

    fn find_all_n<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let n = match value_arg(&args, 2)? {
            CelValue::Int(n) => n,
            _ => -1,
        };
        find_all_limited(&args, Some(n))
    }

    /// The parts of a URL, split the way Go's `url.Parse` splits the URLs Kubernetes' `url()`
    /// accepts: absolute URIs (`scheme://host/path?query`) and absolute paths (`/path`).
    struct Url {
        scheme: String,
        host: String,
        path: String,
        query: String,
    }

    fn parse_url(s: &str) -> Option<Url> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let rest = s.split_once('#').map_or(s, |(a, _)| a);
        let (scheme, rest) = if rest.starts_with('/') {
            (String::new(), rest)
        } else {
            let (scheme, rest) = rest.split_once(':')?;
            let mut chars = scheme.chars();
            let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
                return None;
            }
            (scheme.to_string(), rest)
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, q.to_string()),
            None => (rest, String::new()),
        };
        let (host, path) = match before_query.strip_prefix("//") {
            Some(authority_and_path) => {
                let (authority, path) = match authority_and_path.find('/') {
                    Some(i) => (&authority_and_path[..i], &authority_and_path[i..]),
                    None => (authority_and_path, ""),
                };
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                (host.to_string(), path.to_string())
            }
            None if scheme.is_empty() => (String::new(), before_query.to_string()),
            // `mailto:x` style opaque URIs: Kubernetes only accepts absolute URIs and paths.
            None => return None,
        };
        Some(Url { scheme, host, path, query })
    }

    fn is_url<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let s = string_arg(&args, 0, "isURL")?;
        ret(CelValue::Bool(parse_url(&s).is_some()))
    }

    /// The key under which a `url()` value keeps its source; URLs are maps internally, since the
    /// `cel` crate has no cheap way to declare a new receiver type.
    const URL_KEY: &str = "@url";

    fn url<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let s = string_arg(&args, 0, "url")?;
        if parse_url(&s).is_none() {
            return Err(ExecutionError::function_error("url", format!("URL parse error: {s}")));
        }
        let mut m = HashMap::new();
        m.insert(Key::String(Arc::new(URL_KEY.to_string())), CelValue::String(s));
        ret(CelValue::Map(Map { map: Arc::new(m) }))
    }

    fn url_receiver(args: &Args<'_, '_>, fname: &str) -> Result<Url, ExecutionError> {
        let CelValue::Map(m) = value_arg(args, 0)? else {
            return Err(ExecutionError::function_error(fname, "not a URL"));
        };
        match m.map.get(&Key::String(Arc::new(URL_KEY.to_string()))) {
            Some(CelValue::String(s)) => parse_url(s).ok_or_else(|| ExecutionError::function_error(fname, "not a URL")),
            _ => Err(ExecutionError::function_error(fname, "not a URL")),
        }
    }

    fn split_host_port(host: &str) -> (&str, &str) {
        if let Some(rest) = host.strip_prefix('[') {
            // IPv6 literal: `[::1]:8080`; getHostname drops the brackets.
            return match rest.split_once(']') {
                Some((h, p)) => (h, p.strip_prefix(':').unwrap_or("")),
                None => (rest, ""),
            };
        }
        match host.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p),
            _ => (host, ""),
        }
    }

    const URL_GETTERS: &[(&str, Fun)] = &[
        ("getScheme", get_scheme),
        ("getHost", get_host),
        ("getHostname", get_hostname),
        ("getPort", get_port),
        ("getEscapedPath", get_escaped_path),
        ("getQuery", get_query),
    ];

    fn string_ret<'b, 'v>(s: impl Into<String>) -> Ret<'b, 'v> {
        ret(CelValue::String(Arc::new(s.into())))
    }

    fn get_scheme<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        string_ret(url_receiver(&args, "getScheme")?.scheme)
    }

    fn get_host<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        string_ret(url_receiver(&args, "getHost")?.host)
    }

    fn get_hostname<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let u = url_receiver(&args, "getHostname")?;
        string_ret(split_host_port(&u.host).0)
    }

    fn get_port<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let u = url_receiver(&args, "getPort")?;
        string_ret(split_host_port(&u.host).1)
    }

    fn get_escaped_path<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        string_ret(url_receiver(&args, "getEscapedPath")?.path)
    }

    /// `getQuery()` returns `map(string, list(string))`, as Go's `url.Values`.
    fn get_query<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let u = url_receiver(&args, "getQuery")?;
        let mut m: HashMap<Key, Vec<CelValue>> = HashMap::new();
        for pair in u.query.split(['&', ';']).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            m.entry(Key::String(Arc::new(k.to_string()))).or_default().push(CelValue::String(Arc::new(v.to_string())));
        }
        let map = m.into_iter().map(|(k, v)| (k, CelValue::List(Arc::new(v)))).collect();
        ret(CelValue::Map(Map { map: Arc::new(map) }))
    }

    /// Parses a Kubernetes resource quantity (`500m`, `1.5Gi`, `2e3`) into nano-units, the finest
    /// precision Kubernetes keeps. `None` when it is not a quantity or too large for i128.
    pub(super) fn parse_quantity(s: &str) -> Option<i128> {
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
        let (number, suffix) = body.split_at(num_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
        // value = digits * 10^(exp10 - frac digits) * 2^exp2, evaluated in nano-units.
        let (exp10, exp2): (i32, u32) = match suffix {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            e if e.starts_with(['e', 'E']) => {
                let exp = &e[1..];
                let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (exp.parse::<i32>().ok().filter(|e| e.abs() <= 40)?, 0)
            }
            _ => return None,
        };
        let mut digits: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            digits = digits.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let frac_len = i32::try_from(frac_part.len()).ok()?;
        let mut value = digits.checked_mul(1i128.checked_shl(exp2)?)?;
        let scale = exp10.checked_add(9)?.checked_sub(frac_len)?;
        if scale >= 0 {
            value = value.checked_mul(10i128.checked_pow(scale.unsigned_abs())?)?;
        } else {
            // Below a nano-unit: Kubernetes rounds up (away from zero).
            let div = 10i128.checked_pow(scale.unsigned_abs())?;
            value = value / div + i128::from(value % div != 0);
        }
        Some(if negative { -value } else { value })
    }

    /// The key under which a `quantity()` value keeps its nano-units, as a decimal string (a map,
    /// like URLs; equal quantities are equal maps).
    const QUANTITY_KEY: &str = "@quantity";

    fn quantity_value<'b, 'v>(nanos: i128) -> Ret<'b, 'v> {
        let mut m = HashMap::new();
        m.insert(Key::String(Arc::new(QUANTITY_KEY.to_string())), CelValue::String(Arc::new(nanos.to_string())));
        ret(CelValue::Map(Map { map: Arc::new(m) }))
    }

    fn is_quantity<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let s = string_arg(&args, 0, "isQuantity")?;
        ret(CelValue::Bool(parse_quantity(&s).is_some()))
    }

    fn quantity<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let s = string_arg(&args, 0, "quantity")?;
        match parse_quantity(&s) {
            Some(n) => quantity_value(n),
            None => Err(ExecutionError::function_error("quantity", format!("invalid quantity: {s}"))),
        }
    }

    fn quantity_arg(args: &Args<'_, '_>, i: usize, fname: &str) -> Result<i128, ExecutionError> {
        let not_quantity = || ExecutionError::function_error(fname, "not a quantity");
        let CelValue::Map(m) = value_arg(args, i)? else { return Err(not_quantity()) };
        match m.map.get(&Key::String(Arc::new(QUANTITY_KEY.to_string()))) {
            Some(CelValue::String(s)) => s.parse().map_err(|_| not_quantity()),
            _ => Err(not_quantity()),
        }
    }

    type Fun = for<'b, 'v> fn(Args<'b, 'v>) -> Ret<'b, 'v>;

    const QUANTITY_UNARY: &[(&str, Fun)] = &[
        ("sign", q_sign),
        ("isInteger", q_is_integer),
        ("asInteger", q_as_integer),
        ("asApproximateFloat", q_as_float),
    ];

    const QUANTITY_BINARY: &[(&str, Fun)] = &[
        ("compareTo", q_compare_to),
        ("isLessThan", q_is_less_than),
        ("isGreaterThan", q_is_greater_than),
        ("add", q_add),
        ("sub", q_sub),
    ];

    const NANO: i128 = 1_000_000_000;

    fn q_sign<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        ret(CelValue::Int(quantity_arg(&args, 0, "sign")?.signum() as i64))
    }

    fn q_is_integer<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let q = quantity_arg(&args, 0, "isInteger")?;
        ret(CelValue::Bool(q % NANO == 0 && i64::try_from(q / NANO).is_ok()))
    }

    fn q_as_integer<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let q = quantity_arg(&args, 0, "asInteger")?;
        match i64::try_from(q / NANO) {
            Ok(i) if q % NANO == 0 => ret(CelValue::Int(i)),
            _ => Err(ExecutionError::function_error("asInteger", "cannot convert value to integer")),
        }
    }

    fn q_as_float<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let q = quantity_arg(&args, 0, "asApproximateFloat")?;
        ret(CelValue::Float(q as f64 / NANO as f64))
    }

    fn q_pair(args: &Args<'_, '_>, fname: &str) -> Result<(i128, i128), ExecutionError> {
        Ok((quantity_arg(args, 0, fname)?, quantity_arg(args, 1, fname)?))
    }

    fn q_compare_to<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let (a, b) = q_pair(&args, "compareTo")?;
        ret(CelValue::Int(a.cmp(&b) as i64))
    }

    fn q_is_less_than<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let (a, b) = q_pair(&args, "isLessThan")?;
        ret(CelValue::Bool(a < b))
    }

    fn q_is_greater_than<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let (a, b) = q_pair(&args, "isGreaterThan")?;
        ret(CelValue::Bool(a > b))
    }

    fn overflow(fname: &str) -> ExecutionError {
        ExecutionError::function_error(fname, "quantity overflow")
    }

    fn q_add<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let (a, b) = q_pair(&args, "add")?;
        quantity_value(a.checked_add(b).ok_or_else(|| overflow("add"))?)
    }

    fn q_sub<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
        let (a, b) = q_pair(&args, "sub")?;
        quantity_value(a.checked_sub(b).ok_or_else(|| overflow("sub"))?)
    }
}

/// Whether a node is, or holds somewhere inside it, a Flux `${VAR}` reference.
fn holds_flux_var(node: &Node) -> bool {
    crate::source::vars::holds_reference(node, &|s| super::validate::FLUX_VAR.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn yaml(text: &str) -> Node {
        let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        parsed.docs.into_iter().next().expect("one document")
    }

    fn rules(schema: &str) -> CelRules {
        let r = CelRules::compile(&yaml(schema).to_json());
        assert!(r.compile_errors.is_empty(), "{:?}", r.compile_errors);
        r
    }

    fn key(k: &str) -> PathSeg {
        PathSeg::Key(k.to_string())
    }

    const REPLICAS: &str = r#"
type: object
properties:
  spec:
    type: object
    x-kubernetes-validations:
      - rule: self.minReplicas <= self.maxReplicas
        message: minReplicas must not exceed maxReplicas
      - rule: self.replicas >= 1
    properties:
      replicas: {type: integer}
      minReplicas: {type: integer}
      maxReplicas: {type: integer}
"#;

    #[test]
    fn comparison_passes_and_fails() {
        let r = rules(REPLICAS);
        assert!(!r.is_empty());
        let ok = r.evaluate(&yaml("spec: {replicas: 2, minReplicas: 1, maxReplicas: 3}"));
        assert!(ok.violations.is_empty(), "{:?}", ok.violations);

        let bad = r.evaluate(&yaml("spec: {replicas: 0, minReplicas: 5, maxReplicas: 3}"));
        assert_eq!(bad.violations.len(), 2, "{:?}", bad.violations);
        let v = &bad.violations[0];
        assert_eq!(v.rule, Rule::SchemaCelRule);
        assert_eq!(v.path, vec![key("spec")]);
        assert_eq!(v.message, "minReplicas must not exceed maxReplicas");
        assert!(v.help.as_deref().unwrap_or("").contains("self.minReplicas <= self.maxReplicas"));
        // No message: the rule text is the message, as the API server words it.
        assert_eq!(bad.violations[1].message, "failed rule: self.replicas >= 1");
    }

    /// A plain render still holds `${VAR}`: a rule failing on it is Flux's to substitute first.
    #[test]
    fn flux_variables_are_not_rule_failures() {
        let r = rules(
            r#"
type: object
properties:
  spec:
    type: object
    x-kubernetes-validations:
      - rule: self.group == 'gateway.networking.k8s.io'
    properties:
      group: {type: string}
"#,
        );
        let out = r.evaluate(&yaml("spec: {group: '${GROUP:-gateway.networking.k8s.io}'}"));
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        assert_eq!(out.skipped_flux_variables, 1);
        let out = r.evaluate(&yaml("spec: {group: example.com}"));
        assert_eq!(out.violations.len(), 1);
    }

    #[test]
    fn integers_are_int_not_uint() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.replicas >= 1 && self.replicas == 3 && self.replicas + 1 == 4 && self.neg < 0
  - rule: self.ratio > 0.5 && self.ratio < 2.0
properties:
  replicas: {type: integer}
  neg: {type: integer}
  ratio: {type: number}
"#,
        );
        let out = r.evaluate(&yaml("replicas: 3\nneg: -2\nratio: 1"));
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        assert_eq!(out.unsupported_rules, 0);
    }

    #[test]
    fn absent_node_is_not_evaluated() {
        let r = rules(REPLICAS);
        let out = r.evaluate(&yaml("metadata: {name: x}"));
        assert!(out.violations.is_empty());
    }

    #[test]
    fn rule_on_list_items() {
        let r = rules(
            r#"
type: object
properties:
  ports:
    type: array
    items:
      type: object
      x-kubernetes-validations:
        - rule: self.port > 0 && self.port < 65536
          message: port out of range
      properties:
        port: {type: integer}
"#,
        );
        let out = r.evaluate(&yaml("ports: [{port: 80}, {port: 70000}, {port: 443}]"));
        assert_eq!(out.violations.len(), 1);
        assert_eq!(out.violations[0].path, vec![key("ports"), PathSeg::Index(1)]);
        assert_eq!(out.violations[0].message, "port out of range");
    }

    #[test]
    fn rule_on_map_values() {
        let r = rules(
            r#"
type: object
properties:
  limits:
    type: object
    additionalProperties:
      type: string
      x-kubernetes-validations:
        - rule: self.startsWith('v') && self.size() <= 5
"#,
        );
        let out = r.evaluate(&yaml("limits: {a: v1, b: x2, c: v123456}"));
        let paths: Vec<_> = out.violations.iter().map(|v| v.path.clone()).collect();
        assert_eq!(paths, vec![vec![key("limits"), key("b")], vec![key("limits"), key("c")]]);
    }

    #[test]
    fn has_with_message_and_field_path() {
        let r = rules(
            r#"
type: object
properties:
  spec:
    type: object
    x-kubernetes-validations:
      - rule: has(self.x) || has(self.y)
        message: one of x or y is required
        fieldPath: .x
      - rule: "!has(self.x) || self.x.name != ''"
        fieldPath: ".x['name']"
    properties:
      x: {type: object, properties: {name: {type: string}}}
      y: {type: string}
"#,
        );
        assert!(r.evaluate(&yaml("spec: {y: a}")).violations.is_empty());
        let out = r.evaluate(&yaml("spec: {}"));
        assert_eq!(out.violations.len(), 1);
        assert_eq!(out.violations[0].message, "one of x or y is required");
        assert_eq!(out.violations[0].path, vec![key("spec"), key("x")]);
        let out = r.evaluate(&yaml("spec: {x: {name: ''}}"));
        assert_eq!(out.violations.len(), 1);
        assert_eq!(out.violations[0].path, vec![key("spec"), key("x"), key("name")]);
    }

    #[test]
    fn transition_rules_are_skipped_and_counted() {
        let r = rules(
            r#"
type: object
properties:
  spec:
    type: object
    x-kubernetes-validations:
      - rule: self == oldSelf
        message: immutable
      - rule: "!has(oldSelf.x) || self.x == oldSelf.x"
        optionalOldSelf: true
"#,
        );
        let out = r.evaluate(&yaml("spec: {x: 1}"));
        assert!(out.violations.is_empty());
        assert_eq!(out.skipped_transition_rules, 2);
    }

    #[test]
    fn message_expression() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.replicas <= 10
    messageExpression: "'replicas is ' + string(self.replicas) + ', at most 10 allowed'"
  - rule: self.replicas <= 5
    message: fallback message
    messageExpression: self.nope
properties:
  replicas: {type: integer}
"#,
        );
        let out = r.evaluate(&yaml("replicas: 12"));
        assert_eq!(out.violations.len(), 2);
        assert_eq!(out.violations[0].message, "replicas is 12, at most 10 allowed");
        // A messageExpression that fails falls back to message.
        assert_eq!(out.violations[1].message, "fallback message");
    }

    #[test]
    fn unsupported_function_is_counted_not_failed() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: ip(self.addr).family() == 4
  - rule: cidr(self.addr).containsIP('10.0.0.1')
properties:
  size: {type: string}
  addr: {type: string}
"#,
        );
        let out = r.evaluate(&yaml("size: 20Gi\naddr: 10.0.0.1/8"));
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        assert_eq!(out.unsupported_rules, 2);
    }

    #[test]
    fn runtime_errors_are_violations() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.missing == 1
properties:
  missing: {type: integer}
"#,
        );
        let out = r.evaluate(&yaml("other: 1"));
        assert_eq!(out.violations.len(), 1);
        assert!(out.violations[0].message.contains("rule evaluation error"), "{}", out.violations[0].message);
        assert!(out.violations[0].path.is_empty());
    }

    #[test]
    fn compile_errors_are_collected() {
        let r = CelRules::compile(
            &yaml(
                r#"
type: object
properties:
  spec:
    type: object
    x-kubernetes-validations:
      - rule: "self.a ==="
      - rule: self.a == 1
"#,
            )
            .to_json(),
        );
        assert_eq!(r.compile_errors.len(), 1);
        assert!(r.compile_errors[0].starts_with("spec: self.a ==="), "{}", r.compile_errors[0]);
        assert!(!r.is_empty());
    }

    #[test]
    fn kubernetes_library_functions() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.nums.isSorted() && self.nums.sum() == 6 && self.nums.min() == 1 && self.nums.max() == 3
  - rule: self.nums.indexOf(2) == 1 && self.nums.lastIndexOf(9) == -1
  - rule: self.name.lowerAscii() == 'abc' && self.name.upperAscii() == 'ABC' && ' x '.trim() == 'x'
  - rule: self.csv.split(',') == ['a', 'b'] && ['a', 'b'].join('-') == 'a-b' && self.csv.indexOf(',') == 1
  - rule: self.name.matches('^[A-Za-z]+$') && self.name.find('[a-z]+') == 'bc' && self.csv.findAll('[a-z]').size() == 2
  - rule: self.nums.all(n, n > 0) && self.nums.exists(n, n == 2) && self.nums.exists_one(n, n == 3)
  - rule: self.nums.map(n, n * 2) == [2, 4, 6] && self.nums.filter(n, n > 1).size() == 2
  - rule: isURL(self.url) && url(self.url).getScheme() == 'https' && url(self.url).getHostname() == 'example.com'
  - rule: url(self.url).getPort() == '8443' && url(self.url).getEscapedPath() == '/a/b' && !isURL('not a url')
  - rule: url(self.url).getQuery()['q'] == ['1'] && url(self.url).getHost() == 'example.com:8443'
  - rule: self.name.endsWith('c') && self.name.contains('b') && self.name.startsWith('A')
  - rule: self.nums.size() == 3 && size(self.name) == 3
properties:
  nums: {type: array, items: {type: integer}}
  name: {type: string}
  csv: {type: string}
  url: {type: string}
"#,
        );
        let out = r.evaluate(&yaml("nums: [1, 2, 3]\nname: Abc\ncsv: a,b\nurl: https://example.com:8443/a/b?q=1"));
        assert!(out.violations.is_empty(), "{:#?}", out.violations);
        assert_eq!(out.unsupported_rules, 0);

        // Unsorted: isSorted, indexOf and map all see the new order.
        let out = r.evaluate(&yaml("nums: [3, 1, 2]\nname: Abc\ncsv: a,b\nurl: https://example.com:8443/a/b?q=1"));
        assert_eq!(out.violations.len(), 3, "{:#?}", out.violations);
    }

    #[test]
    fn escaped_property_names_and_defaults() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.x__dash__y == 1 && self.__namespace__ == 'a'
  - rule: self.mode == 'auto'
properties:
  x-y: {type: integer}
  namespace: {type: string}
  mode: {type: string, default: auto}
"#,
        );
        let out = r.evaluate(&yaml("x-y: 1\nnamespace: a"));
        assert!(out.violations.is_empty(), "{:#?}", out.violations);
    }

    /// Rules from Flux's own CRDs (source-controller Bucket, helm-controller HelmRelease v2).
    #[test]
    fn flux_crd_rules() {
        let r = rules(
            r#"
type: object
properties:
  spec:
    type: object
    x-kubernetes-validations:
      - rule: (has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))
        message: either chart or chartRef must be set
    properties:
      chart: {type: object}
      chartRef: {type: object}
  bucket:
    type: object
    x-kubernetes-validations:
      - rule: self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)
        message: STS configuration is only supported for the 'aws' and 'generic' Bucket providers
      - rule: self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'
        message: "'aws' is the only supported STS provider for the 'aws' Bucket provider"
      - rule: self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'
        message: "'ldap' is the only supported STS provider for the 'generic' Bucket provider"
    properties:
      provider: {type: string, default: generic, enum: [generic, aws, gcp, azure]}
      sts:
        type: object
        properties:
          provider: {type: string}
"#,
        );
        let ok = r.evaluate(&yaml("spec: {chartRef: {kind: OCIRepository, name: x}}\nbucket: {sts: {provider: ldap}}"));
        assert!(ok.violations.is_empty(), "{:#?}", ok.violations);

        let both = r.evaluate(&yaml("spec: {chart: {}, chartRef: {}}"));
        assert_eq!(both.violations.len(), 1);
        assert_eq!(both.violations[0].message, "either chart or chartRef must be set");

        // `provider` defaults to generic, so the ldap rule applies.
        let sts = r.evaluate(&yaml("bucket: {sts: {provider: aws}}"));
        assert_eq!(sts.violations.len(), 1, "{:#?}", sts.violations);
        assert!(sts.violations[0].message.starts_with("'ldap'"));
        let gcp = r.evaluate(&yaml("bucket: {provider: gcp, sts: {provider: aws}}"));
        assert_eq!(gcp.violations.len(), 1);
        assert_eq!(gcp.violations[0].path, vec![key("bucket")]);
    }

    /// Compiled rules are shared by the worker threads: a compile-time check.
    const _: () = {
        fn send_sync<T: Send + Sync>() {}
        let _ = send_sync::<CelRules>;
    };

    #[test]
    fn quantities() {
        assert_eq!(kube::parse_quantity("1"), Some(1_000_000_000));
        assert_eq!(kube::parse_quantity("500m"), Some(500_000_000));
        assert_eq!(kube::parse_quantity("1.5Gi"), Some(1_610_612_736_000_000_000));
        assert_eq!(kube::parse_quantity("2e3"), Some(2_000_000_000_000));
        assert_eq!(kube::parse_quantity("-0.5"), Some(-500_000_000));
        assert_eq!(kube::parse_quantity("1.5n"), Some(2));
        for bad in ["", "Gi", "1.2.3", "1x", "1e", "1e99", ".", "99999999999999999999999999999999999999E"] {
            assert_eq!(kube::parse_quantity(bad), None, "{bad}");
        }
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: quantity(self.size).isLessThan(quantity('10Gi')) && isQuantity(self.size) && !isQuantity('x')
  - rule: quantity('1') == quantity('1000m') && quantity('1k').compareTo(quantity('1Ki')) == -1
  - rule: quantity(self.size).add(quantity('1Gi')).asInteger() == 3221225472 && quantity('1.5').sign() == 1
properties:
  size: {type: string}
"#,
        );
        let ok = r.evaluate(&yaml("size: 2Gi"));
        assert!(ok.violations.is_empty(), "{:#?}", ok.violations);
        assert_eq!(r.evaluate(&yaml("size: 20Gi")).violations.len(), 2);
    }

    #[test]
    fn formats_type_strings() {
        assert_eq!(parse_go_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(parse_go_duration("1.5s"), Some(chrono::Duration::milliseconds(1500)));
        assert_eq!(parse_go_duration("-500ms"), Some(chrono::Duration::milliseconds(-500)));
        for bad in ["", "1", "h", "1x", "1..2s", "-", "99999999999999999999h"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.timeout <= duration('1h') && self.timeout > duration('0s')
  - rule: self.at > timestamp('2020-01-01T00:00:00Z') && self.day < self.at
  - rule: self.plain == '5m'
properties:
  timeout: {type: string, format: duration}
  at: {type: string, format: date-time}
  day: {type: string, format: date}
  plain: {type: string}
"#,
        );
        let out = r.evaluate(&yaml("timeout: 10m\nat: '2024-05-01T10:00:00Z'\nday: '2024-05-01'\nplain: 5m"));
        assert!(out.violations.is_empty(), "{:#?}", out.violations);
        let out = r.evaluate(&yaml("timeout: 2h\nat: '2024-05-01T10:00:00Z'\nday: '2024-05-01'\nplain: 5m"));
        assert_eq!(out.violations.len(), 1, "{:#?}", out.violations);
        assert_eq!(
            out.violations[0].message,
            "failed rule: self.timeout <= duration('1h') && self.timeout > duration('0s')"
        );
    }

    #[test]
    fn field_path_parsing() {
        assert_eq!(parse_field_path(".a.b"), vec![key("a"), key("b")]);
        assert_eq!(parse_field_path(".m['x.y'][2]"), vec![key("m"), key("x.y"), PathSeg::Index(2)]);
        assert_eq!(parse_field_path(".a[oops].b"), vec![key("a")]);
        assert_eq!(parse_field_path(""), vec![]);
        assert_eq!(parse_field_path("[\"k\"]"), vec![key("k")]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let r = rules(
            r#"
type: object
x-kubernetes-validations:
  - rule: self.a / self.b == 1
  - rule: self.l[5] == 1
  - rule: self.l.min() == 1
  - rule: self.s.matches('(')
  - rule: url('::').getHost() == ''
  - rule: "'x'.charAt(10) == ''"
  - rule: self.a + 9223372036854775807 > 0
properties:
  a: {type: integer}
  b: {type: integer}
  l: {type: array}
  s: {type: string}
"#,
        );
        let out = r.evaluate(&yaml("a: 1\nb: 0\nl: []\ns: x"));
        assert_eq!(out.violations.len() + out.unsupported_rules, 7, "{:#?}", out);
        // Not even a schema: no rules, no panic.
        assert!(CelRules::compile(&serde_json::json!([1, {"x-kubernetes-validations": 3}])).is_empty());
        let junk = CelRules::compile(&serde_json::json!({"x-kubernetes-validations": [{"rule": 5}, "x"]}));
        assert_eq!(junk.compile_errors.len(), 2);
    }
}
