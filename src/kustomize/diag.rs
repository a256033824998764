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
    /// The `kustomize build` flag that would have built this (`--enable-helm` for charts,
    /// `--enable-alpha-plugins --enable-exec` for plugins): set on the failures that Flux, which
    /// never passes such flags, always hits, but that a plain `kustomize build` run with the
    /// flag does not. The pipeline keeps them errors under Flux only.
    pub needs_flag: Option<BuildFlag>,
}

/// A `kustomize build` option that Flux never passes (see [`Diag::needs_flag`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildFlag {
    /// `--enable-helm`: inflate `helmCharts`.
    Helm,
    /// `--enable-alpha-plugins --enable-exec`: run exec and KRM-function plugins.
    Plugins,
}

impl BuildFlag {
    /// The flags as typed on the command line.
    pub fn flags(self) -> &'static str {
        match self {
            BuildFlag::Helm => "--enable-helm",
            BuildFlag::Plugins => "--enable-alpha-plugins --enable-exec",
        }
    }
}

impl Diag {
    /// A problem that makes kustomize fail the build.
    pub fn fatal(rule: Rule, loc: Loc, message: impl Into<String>) -> Diag {
        Diag { rule, loc, message: message.into(), help: None, fatal: true, needs_flag: None }
    }

    /// A problem worth reporting that kustomize itself would not fail on.
    pub fn note(rule: Rule, loc: Loc, message: impl Into<String>) -> Diag {
        Diag { rule, loc, message: message.into(), help: None, fatal: false, needs_flag: None }
    }

    pub fn help(mut self, help: impl Into<String>) -> Diag {
        self.help = Some(help.into());
        self
    }

    /// Marks a failure that `kustomize build` with `flag` would not have (see [`Diag::needs_flag`]).
    pub fn needs(mut self, flag: BuildFlag) -> Diag {
        self.needs_flag = Some(flag);
        self
    }
}

/// A render result: on failure, the fatal problem (plus any notes gathered before it).
pub type RenderResult<T> = Result<T, Diag>;
