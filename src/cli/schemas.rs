//! `fluxgate schemas import`: CRDs into the repository's schema catalog; `fluxgate schemas
//! pull --cluster`: the CRDs a live cluster serves into the catalog; `fluxgate schemas
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
    /// Copy the CRDs a live cluster serves into the schema catalog (read-only: it only lists
    /// CRDs and reads /version), one file per group/kind/version as `import` writes them, and
    /// record the cluster's Kubernetes version, which `validate` then targets by default.
    Pull {
        /// Read the CRDs from the cluster of the kubeconfig context (required: the only source).
        #[arg(long, required = true)]
        cluster: bool,
        #[command(flatten)]
        kube: ClusterArgs,
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

/// `schemas pull --cluster`: lists the cluster's CRDs (GET only) and imports them.
pub(crate) fn schemas_pull(kube: &ClusterArgs, root: &Path, catalog: Option<PathBuf>) -> Result<ExitCode, String> {
    let config = load_config(root)?;
    let catalog = catalog.unwrap_or_else(|| root.join(&config.schema_catalog));
    let client = kube.connect().map_err(|e| e.to_string())?;
    let version = client.version().map_err(|e| e.to_string())?;
    let items = client.list(fluxgate::cluster::lookup::CRDS, None).map_err(|e| e.to_string())?;
    let crds: Vec<fluxgate::source::Node> =
        items.iter().map(|j| fluxgate::source::Node::from_json(j, fluxgate::source::Loc::default())).collect();
    let result = fluxgate::schema::import::import_objects(&crds, &catalog)
        .map_err(|e| format!("cannot write the catalog {}: {e}", catalog.display()))?;
    let recorded = fluxgate::schema::import::record_version(&catalog, &version.minor)
        .map_err(|e| format!("cannot write the catalog {}: {e}", catalog.display()))?;
    let mut out = std::io::stdout().lock();
    let changed = print_outcomes(&mut out, &catalog, &result);
    let _ = writeln!(
        out,
        "{:<9} {} (Kubernetes {}, {})",
        outcome_word(&recorded),
        catalog.join(fluxgate::schema::import::VERSION_FILE).display(),
        version.minor,
        version.git_version
    );
    let _ = writeln!(
        out,
        "{} CRDs, {} served versions from context {} ({}); {} files changed",
        crds.len(),
        result.files.len(),
        client.context(),
        client.server(),
        changed + usize::from(recorded != fluxgate::schema::import::Outcome::Unchanged)
    );
    Ok(ExitCode::SUCCESS)
}

fn outcome_word(o: &fluxgate::schema::import::Outcome) -> &'static str {
    match o {
        fluxgate::schema::import::Outcome::Added => "added",
        fluxgate::schema::import::Outcome::Updated => "updated",
        fluxgate::schema::import::Outcome::Unchanged => "unchanged",
    }
}

/// One line per catalog file (`added`/`updated`/`unchanged PATH`); the number changed.
fn print_outcomes(out: &mut dyn Write, catalog: &Path, result: &fluxgate::schema::import::Imported) -> usize {
    for (file, outcome) in &result.files {
        let _ = writeln!(out, "{:<9} {}", outcome_word(outcome), catalog.join(file).display());
    }
    result.files.values().filter(|o| **o != fluxgate::schema::import::Outcome::Unchanged).count()
}

pub(crate) fn schemas_import(paths: &[PathBuf], root: &Path, catalog: Option<PathBuf>) -> Result<ExitCode, String> {
    let config = load_config(root)?;
    let catalog = catalog.unwrap_or_else(|| root.join(&config.schema_catalog));
    let result = fluxgate::schema::import::import(paths, &catalog).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    print_outcomes(&mut out, &catalog, &result);
    for (file, err) in &result.errors {
        eprintln!("fluxgate: skipped {}: {err}", file.display());
    }
    let _ = writeln!(out, "{} CRD versions in {}", result.files.len(), catalog.display());
    Ok(if result.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
