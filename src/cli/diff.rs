//! `fluxgate diff --base REF`: the object-level diff of the entry points a change affects;
//! `fluxgate diff --cluster`: the working tree's render against the live cluster.

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
    /// With --cluster: only the entry points the change affects are compared with the cluster.
    #[arg(long, value_name = "REF", required_unless_present = "cluster")]
    base: Option<String>,
    /// Compare the working tree's render with the live cluster (read-only) instead of the base:
    /// objects to create, objects that differ on the fields the manifests set, and objects Flux
    /// would prune.
    #[arg(long)]
    cluster: bool,
    #[command(flatten)]
    kube: ClusterArgs,
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
    let report = match (a.cluster, &a.base) {
        (true, base) => {
            let client = a.kube.connect().map_err(|e| e.to_string())?;
            client.version().map_err(|e| e.to_string())?;
            let lookup = fluxgate::cluster::lookup::Lookup::new(client);
            fluxgate::diff::live::cluster_diff(&repo, &config, &lookup, base.as_deref(), a.max_bytes)?
        }
        (false, Some(base)) => fluxgate::diff::pr_diff(&repo, &config, base, a.max_bytes)?,
        (false, None) => return Err("diff needs --base REF or --cluster".into()),
    };
    // Buffered: the locked stdout is line-buffered, one write per line of a large diff.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
