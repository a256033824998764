//! `fluxgate schemas import`: CRDs into the repository's schema catalog; `fluxgate schemas
//! list`: where each custom resource kind's schema comes from.

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
    /// List every custom resource group/version/kind with a schema and where it comes from:
    /// a CRD file in the repository, the repository's catalog, or a bundled project release.
    List {
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
}

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub(crate) enum ListFormat {
    /// One line per group/version/kind: `apiVersion  Kind  source`.
    Text,
    /// A JSON list of `{apiVersion, kind, sourceType, source}`.
    Json,
}

pub(crate) fn schemas_list(root: &Path, format: ListFormat) -> Result<ExitCode, String> {
    if !root.is_dir() {
        return Err(format!("{} is not a directory", root.display()));
    }
    let config = load_config(root)?;
    let repo = open_repo(root, &config)?;
    let discovery = fluxgate::discover::discover(&repo, &config);
    let registry = fluxgate::pipeline::build_registry(&repo, &config, &discovery)?;
    let rows: Vec<serde_json::Value> = registry
        .crd_origins()
        .into_iter()
        .map(|(group, version, kind, origin)| {
            let api_version = if group.is_empty() { version } else { format!("{group}/{version}") };
            serde_json::json!({
                "apiVersion": api_version,
                "kind": kind,
                "sourceType": origin.source_type(),
                "source": origin.to_string(),
            })
        })
        .collect();
    let text = match format {
        ListFormat::Json => serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())? + "\n",
        ListFormat::Text => {
            let mut t = format!("built-in kinds: Kubernetes {} (bundled)\n", registry.kubernetes_version());
            for r in &rows {
                t.push_str(&format!(
                    "{:<50} {:<36} {}\n",
                    r["apiVersion"].as_str().unwrap_or(""),
                    r["kind"].as_str().unwrap_or(""),
                    r["source"].as_str().unwrap_or("")
                ));
            }
            t
        }
    };
    for (file, err) in &registry.load_errors {
        eprintln!("fluxgate: schema catalog file {file} not loaded: {err}");
    }
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
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
