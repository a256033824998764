//! `fluxgate diff --base REF`: the object-level diff of the entry points a change affects.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use fluxgate::config::{self};

use super::common::*;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum DiffFormat {
    /// Plain text for a terminal or build log.
    Text,
    /// Markdown for a pull request comment (one collapsible section per entry point).
    Markdown,
    /// One JSON document (fields in docs/reports.md).
    Json,
}

#[derive(clap::Args)]
pub(crate) struct DiffArgs {
    /// Repository root (default: the current directory).
    #[arg(default_value = ".")]
    root: PathBuf,
    /// The ref the change will merge into (`origin/main`); compared at `git merge-base REF HEAD`.
    #[arg(long, value_name = "REF")]
    base: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: DiffFormat,
    /// Most bytes of object diff text to print; further object diffs are left out with a note.
    #[arg(long, value_name = "N", default_value_t = fluxgate::diff::DEFAULT_MAX_BYTES)]
    max_bytes: usize,
    /// A Flux post-build variable whose value lives only in the cluster (NAME=VALUE); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = config::parse_var)]
    vars: Vec<(String, String)>,
}

/// `diff --base REF [ROOT]`: the object-level diff of the affected entry points.
pub(crate) fn diff(a: DiffArgs) -> Result<ExitCode, String> {
    if !a.root.is_dir() {
        return Err(format!("{} is not a directory", a.root.display()));
    }
    let mut config = load_config(&a.root)?;
    config.flux.variables.extend(a.vars.iter().cloned());
    let repo = open_repo(&a.root, &config)?;
    let report = fluxgate::diff::pr_diff(&repo, &config, &a.base, a.max_bytes)?;
    let mut out = std::io::stdout().lock();
    let res = match a.format {
        DiffFormat::Text => fluxgate::diff::format::write_text(&report, &mut out),
        DiffFormat::Markdown => fluxgate::diff::format::write_markdown(&report, &mut out),
        DiffFormat::Json => fluxgate::diff::format::write_json(&report, &mut out),
    };
    match res.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
