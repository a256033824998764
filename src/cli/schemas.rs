//! `fluxgate schemas import`: CRDs into the repository's schema catalog.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::common::*;

#[derive(Subcommand)]
pub(crate) enum SchemasCommand {
    /// Copy the CRDs found in YAML files or directories (a chart's crds/, an operator's release
    /// manifest) into the schema catalog, one file per group/kind/version.
    Import {
        /// CRD files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Repository root whose config names the catalog (default: the current directory).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Catalog directory (default: the config's `schemas.catalog`, `.fluxgate/schemas/`).
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
}

pub(crate) fn schemas_import(paths: &[PathBuf], root: &Path, catalog: Option<PathBuf>) -> Result<ExitCode, String> {
    let config = load_config(root)?;
    let catalog = catalog.unwrap_or_else(|| root.join(&config.schema_catalog));
    let result = fluxgate::schema::import::import(paths, &catalog).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for (file, outcome) in &result.files {
        let what = match outcome {
            fluxgate::schema::import::Outcome::Added => "added",
            fluxgate::schema::import::Outcome::Updated => "updated",
            fluxgate::schema::import::Outcome::Unchanged => "unchanged",
        };
        let _ = writeln!(out, "{what:<9} {}", catalog.join(file).display());
    }
    for (file, err) in &result.errors {
        eprintln!("fluxgate: skipped {}: {err}", file.display());
    }
    let _ = writeln!(out, "{} CRD versions in {}", result.files.len(), catalog.display());
    Ok(if result.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
