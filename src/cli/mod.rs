//! the library and map the outcome to an exit code: 0 clean, 1 error findings, 2 fluxgate
//! could not run (bad flags, unreadable config). Only this layer prints or exits.

mod audit;
mod charts;
mod common;
mod config;
mod diff;
mod explain;
mod hook;
mod publish;
mod render;
mod rules;
mod schemas;
mod shell;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `fluxgate --version`: the package version and the git commit it was built from (`build.rs`;
/// `unknown` when built from a source tarball without `FLUXGATE_COMMIT`).
pub(crate) const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FLUXGATE_COMMIT"), ")");

/// The merge gate of a Flux GitOps repository: renders every kustomize overlay natively and
/// checks what it renders.
#[derive(Parser)]
#[command(name = "fluxgate", version = VERSION, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Render and check every kustomize overlay of a repository.
    Validate(Box<validate::ValidateArgs>),
    /// Audit a whole repository: check every entry point and write a self-contained HTML
    /// report, a versioned JSON document and optionally Markdown (findings by rule,
    /// environment and team, suppressions, entry points, trends with --compare).
    Audit(audit::AuditArgs),
    /// Show what a change does to the rendered objects of the entry points it affects,
    /// comparing `git merge-base REF HEAD` with the working tree; or, with --cluster, what
    /// applying the working tree would change in the live cluster.
    Diff(diff::DiffArgs),
    /// Print the rendered YAML of one kustomize directory, like `kustomize build DIR`.
    Render(render::RenderArgs),
    /// List every rule with its id, severity (under the repository's config) and summary;
    /// per-environment severities that differ follow in brackets.
    Rules {
        /// Repository root whose `.fluxgate.yaml` is applied (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
    /// Manage `.fluxgate.yaml`.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Manage the repository's schema catalog.
    #[command(subcommand)]
    Schemas(schemas::SchemasCommand),
    /// Manage the git pre-push hook that runs `validate` before every push.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Manage the chart cache that HelmRelease rendering reads.
    #[command(subcommand)]
    Charts(charts::ChartsCommand),
    /// Explain a rule: what it catches, why, the fix, and how to configure or suppress it
    /// (the text of docs/rules.md).
    Explain {
        /// The rule id (`fluxgate rules` lists them), e.g. image-tag-latest.
        rule: String,
    },
    /// Print a shell completion script: `fluxgate completions bash > /etc/bash_completion.d/fluxgate`.
    Completions {
        #[arg(value_enum)]
        shell: shell::Shell,
    },
    /// Print the man page (fluxgate.1), or write it and one page per subcommand into a directory.
    Man {
        /// Write fluxgate.1 and fluxgate-<command>.1 pages into DIR instead of printing fluxgate.1.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Send a written report to a code review server (Bitbucket Code Insights).
    #[command(subcommand)]
    Publish(publish::PublishCommand),
}

/// Parses the command line, runs the command, and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => validate::validate(*a),
        Command::Audit(a) => audit::audit(a),
        Command::Diff(a) => diff::diff(a),
        Command::Render(a) => render::render(a),
        Command::Rules { root } => rules::rules(&root),
        Command::Config(config::ConfigCommand::Init { force, root }) => config::config_init(&root, force),
        Command::Schemas(schemas::SchemasCommand::Import { paths, root, catalog }) => {
            schemas::schemas_import(&paths, &root, catalog)
        }
        Command::Schemas(schemas::SchemasCommand::Pull { cluster: _, kube, root, catalog }) => {
            schemas::schemas_pull(&kube, &root, catalog)
        }
        Command::Schemas(schemas::SchemasCommand::List { root, format }) => schemas::schemas_list(&root, format),
        Command::Hook(c) => hook::hook(c),
        Command::Charts(charts::ChartsCommand::Pull { root, helm }) => charts::charts_pull(&root, &helm),
        Command::Publish(c) => publish::publish(c),
        Command::Explain { rule } => explain::explain(&rule),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man { out_dir } => shell::man(out_dir.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("fluxgate: {msg}");
            ExitCode::from(2)
        }
    }
}
