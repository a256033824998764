//! `fluxgate charts pull`: the chart of every HelmRelease into the chart cache.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::common::*;

#[derive(Subcommand)]
pub(crate) enum ChartsCommand {
    /// Download the chart of every HelmRelease of the repository into the chart cache (for CI
    /// agents and offline runs). Exit 1 when a chart cannot be had.
    Pull {
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
        #[command(flatten)]
        helm: HelmArgs,
    },
}

/// `charts pull [ROOT]`: fills the chart cache for every HelmRelease.
pub(crate) fn charts_pull(root: &Path, helm: &HelmArgs) -> Result<ExitCode, String> {
    if !root.is_dir() {
        return Err(format!("{} is not a directory", root.display()));
    }
    let mut config = load_config(root)?;
    helm.apply(&mut config);
    let repo = open_repo(root, &config)?;
    let flux = fluxgate::pipeline::render_flux(&repo, &config);
    let pulled = fluxgate::helm::release::pull_all(&repo, &config, &flux)?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for p in &pulled {
        match &p.result {
            Ok(path) => {
                let _ = writeln!(out, "cached  {} -> {} ({})", p.chart, path.display(), p.releases.join(", "));
            }
            Err(e) => {
                failed = true;
                eprintln!(
                    "fluxgate: {} ({}): {e}",
                    if p.chart.is_empty() { "chart" } else { &p.chart },
                    p.releases.join(", ")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} charts in {}",
        pulled.iter().filter(|p| p.result.is_ok()).count(),
        config.helm.cache_root(root).display()
    );
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
