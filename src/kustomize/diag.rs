//! Problems raised while rendering, located by [`Loc`]; turned into findings by the caller,
//! which knows the entry point and the file table.

use crate::rules::Rule;
use crate::source::Loc;

/// A located rendering problem. `fatal` ones stop the render, as kustomize would fail.
#[derive(Clone, Debug, PartialEq)]
pub struct Diag {
    pub rule: Rule,
    pub loc: Loc,
    pub message: String,
    pub help: Option<String>,
    pub fatal: bool,
}

impl Diag {
    /// A problem that makes kustomize fail the build.
    pub fn fatal(rule: Rule, loc: Loc, message: impl Into<String>) -> Diag {
        Diag { rule, loc, message: message.into(), help: None, fatal: true }
    }

    /// A problem worth reporting that kustomize itself would not fail on.
    pub fn note(rule: Rule, loc: Loc, message: impl Into<String>) -> Diag {
        Diag { rule, loc, message: message.into(), help: None, fatal: false }
    }

    pub fn help(mut self, help: impl Into<String>) -> Diag {
        self.help = Some(help.into());
        self
    }
}

/// A render result: on failure, the fatal problem (plus any notes gathered before it).
pub type RenderResult<T> = Result<T, Diag>;
