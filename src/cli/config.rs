//! `fluxgate config init`: a commented starter `.fluxgate.yaml`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use fluxgate::config::{self};

#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Write a commented starter `.fluxgate.yaml` (every built-in rule with its default).
    Init {
        /// Replace an existing `.fluxgate.yaml`.
        #[arg(long)]
        force: bool,
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
}

pub(crate) fn config_init(root: &Path, force: bool) -> Result<ExitCode, String> {
    let p = root.join(config::FILE_NAME);
    if p.exists() && !force {
        return Err(format!("{} exists; use --force to replace it", p.display()));
    }
    std::fs::write(&p, fluxgate::policy::settings::starter_config())
        .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    println!("wrote {}", p.display());
    Ok(ExitCode::SUCCESS)
}
