//! One CEL expression of a policy, compiled once per run, with what a static reading of it
//! tells: whether it needs data an offline check cannot have (`authorizer`,
//! `request.userInfo`, `namespaceObject`), which `variables` it reads, and which paths of
//! `object` it reads (to point a finding at the field rather than at the object).

use std::collections::BTreeSet;

use cel::Program;
use cel::common::ast::{EntryExpr, Expr as Ast};
use cel::objects::Value as CelValue;

use crate::schema::cel::shared;

/// What an expression reads, found in its syntax tree.
#[derive(Clone, Debug, Default)]
pub(super) struct Facts {
    /// Reads `authorizer` (the requesting user's permissions).
    pub authorizer: bool,
    /// Reads `request.userInfo` (who is applying).
    pub user_info: bool,
    /// Reads `namespaceObject`.
    pub namespace_object: bool,
    /// The `variables.<name>` it reads, directly.
    pub variables: BTreeSet<String>,
    /// Field paths under `object` it reads (`object.spec.replicas` → `[spec, replicas]`).
    pub object_paths: Vec<Vec<String>>,
}

impl Facts {
    /// Adds what a variable this expression reads needs (so reading a variable that calls
    /// `authorizer` needs the authorizer too).
    pub fn absorb(&mut self, other: &Facts) {
        self.authorizer |= other.authorizer;
        self.user_info |= other.user_info;
        self.namespace_object |= other.namespace_object;
        self.object_paths.extend(other.object_paths.iter().cloned());
    }

    /// Why an offline check cannot decide this expression, if it cannot.
    pub fn offline_gap(&self) -> Option<&'static str> {
        if self.authorizer {
            Some("it reads `authorizer` (the requesting user's permissions), which only the API server knows")
        } else if self.user_info {
            Some("it reads `request.userInfo` (who applies the object), which only the API server knows")
        } else {
            None
        }
    }
}

/// A compiled expression.
pub(super) struct CompiledExpr {
    pub source: String,
    pub program: Program,
    pub facts: Facts,
}

impl CompiledExpr {
    /// Compiles `source`; the error is the compiler's, on one line.
    pub fn compile(source: &str) -> Result<CompiledExpr, String> {
        let program = shared::compile(source)?;
        let mut facts = Facts::default();
        walk(&program.expression().expr, &mut facts);
        Ok(CompiledExpr { source: source.to_string(), program, facts })
    }

    /// Runs the expression in a context.
    pub fn run(&self, ctx: &cel::Context) -> Result<CelValue, cel::ExecutionError> {
        self.program.execute(ctx)
    }
}

/// A chain of field selections rooted at an identifier: `object.spec.replicas`,
/// `object.metadata.labels['team']`, `object.?spec`, with `has()`'s test selects included.
fn chain(e: &Ast) -> Option<(String, Vec<String>)> {
    match e {
        Ast::Ident(name) => Some((name.clone(), Vec::new())),
        Ast::Select(s) => {
            let (root, mut path) = chain(&s.operand.expr)?;
            path.push(s.field.clone());
            Some((root, path))
        }
        Ast::Call(c)
            if (c.func_name == "_[_]" || c.func_name == "_?._" || c.func_name == "_[?_]") && c.args.len() == 2 =>
        {
            let (root, mut path) = chain(&c.args[0].expr)?;
            match &c.args[1].expr {
                Ast::Literal(cel::common::ast::LiteralValue::String(s)) => {
                    path.push(s.inner().to_string());
                    Some((root, path))
                }
                _ => Some((root, path)),
            }
        }
        _ => None,
    }
}

fn walk(e: &Ast, facts: &mut Facts) {
    if let Some((root, path)) = chain(e) {
        match root.as_str() {
            "authorizer" => facts.authorizer = true,
            "namespaceObject" => facts.namespace_object = true,
            "request" if path.first().map(String::as_str) == Some("userInfo") => facts.user_info = true,
            "variables" => {
                if let Some(v) = path.first() {
                    facts.variables.insert(v.clone());
                }
            }
            "object" if !path.is_empty() => facts.object_paths.push(path),
            _ => {}
        }
    }
    match e {
        Ast::Unspecified | Ast::Ident(_) | Ast::Literal(_) => {}
        Ast::Select(s) => walk(&s.operand.expr, facts),
        Ast::Call(c) => {
            if let Some(t) = &c.target {
                walk(&t.expr, facts);
            }
            for a in &c.args {
                walk(&a.expr, facts);
            }
        }
        Ast::Comprehension(c) => {
            for part in [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                walk(&part.expr, facts);
            }
        }
        Ast::List(l) => l.elements.iter().for_each(|x| walk(&x.expr, facts)),
        Ast::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    walk(&me.key.expr, facts);
                    walk(&me.value.expr, facts);
                }
            }
        }
        Ast::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    walk(&f.value.expr, facts);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(src: &str) -> Facts {
        CompiledExpr::compile(src).unwrap().facts
    }

    #[test]
    fn finds_offline_gaps() {
        assert!(facts("authorizer.group('apps').resource('deployments').check('create').allowed()").authorizer);
        assert!(facts("request.userInfo.username == 'admin' || true").user_info);
        assert!(!facts("request.namespace == 'a'").user_info);
        assert!(facts("has(namespaceObject.metadata.labels)").namespace_object);
        assert!(facts("object.spec.containers.all(c, c.image != '')").offline_gap().is_none());
    }

    #[test]
    fn finds_variables_and_object_paths() {
        let f = facts(
            "variables.limit >= object.spec.replicas && has(object.metadata.labels) && object.metadata.?annotations['a'].orValue('') == ''",
        );
        assert_eq!(f.variables.iter().collect::<Vec<_>>(), ["limit"]);
        assert!(f.object_paths.contains(&vec!["spec".to_string(), "replicas".to_string()]));
        assert!(f.object_paths.contains(&vec!["metadata".to_string(), "labels".to_string()]));
        assert!(f.object_paths.contains(&vec!["metadata".to_string(), "annotations".to_string(), "a".to_string()]));
    }

    #[test]
    fn compile_errors_are_one_line() {
        let e = CompiledExpr::compile("object.spec.replicas <=").err().unwrap();
        assert!(!e.contains('\n'), "{e}");
    }
}
