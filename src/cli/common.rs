//! Flags and helpers every command shares: the run flags of `validate` and `audit`, the
//! helm flags, loading the config, opening the repository, writing report files.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use fluxgate::config::{self, Config};
use fluxgate::source::Repo;

/// Flags of HelmRelease rendering.
#[derive(clap::Args)]
pub(crate) struct HelmArgs {
    /// The chart cache directory (default: the config's `helm.cache`, else the user's cache dir).
    #[arg(long, value_name = "DIR")]
    chart_cache: Option<PathBuf>,
    /// Use only the chart cache, never the network (charts not in it are `helm-chart-unavailable`).
    #[arg(long)]
    offline: bool,
}

impl HelmArgs {
    pub(crate) fn apply(&self, config: &mut Config) {
        if let Some(c) = &self.chart_cache {
            config.helm.cache = Some(std::path::absolute(c).unwrap_or_else(|_| c.clone()));
        }
        config.helm.offline |= self.offline;
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum FailOn {
    Error,
    Warning,
}

/// Flags that set up a checking run, shared by `validate` and `audit`.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Skip paths matching this glob (relative to the root); repeatable. Adds to the config's `ignore`.
    #[arg(long, value_name = "GLOB")]
    ignore: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Target Kubernetes version for schemas and API removals (e.g. 1.36; default: the
    /// config's `kubernetesVersion`, else the newest bundled).
    #[arg(long, value_name = "VERSION")]
    kubernetes_version: Option<String>,
    /// Extra CRD file or directory (inside the repository) whose CRDs provide schemas; repeatable.
    #[arg(long, value_name = "PATH")]
    crds: Vec<String>,
    /// A Flux post-build variable whose value lives only in the cluster (NAME=VALUE);
    /// repeatable. Overrides the config's `flux.variables`; a Kustomization's own
    /// `substitute`/`substituteFrom` win over both.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = config::parse_var)]
    vars: Vec<(String, String)>,
    #[command(flatten)]
    helm: HelmArgs,
}

impl RunArgs {
    /// Loads ROOT's config with these flags applied, sizes the worker pool and opens the
    /// repository under the config's limits.
    pub(crate) fn setup(&self, root: &Path) -> Result<(Config, Repo), String> {
        if !root.is_dir() {
            return Err(format!("{} is not a directory", root.display()));
        }
        let mut config = load_config(root)?;
        config.add_ignores(&self.ignore)?;
        if self.kubernetes_version.is_some() {
            config.kubernetes_version = self.kubernetes_version.clone();
        }
        config.crds.extend(self.crds.iter().cloned());
        config.flux.variables.extend(self.vars.iter().cloned());
        self.helm.apply(&mut config);
        if let Some(j) = self.jobs {
            rayon::ThreadPoolBuilder::new().num_threads(j.max(1)).build_global().map_err(|e| e.to_string())?;
        }
        let repo = open_repo(root, &config)?;
        Ok((config, repo))
    }
}

/// Opens a repository root for a run under the config's input limits.
pub(crate) fn open_repo(root: &Path, config: &Config) -> Result<Repo, String> {
    let mut repo = Repo::open(root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    repo.limits = config.limits.clone();
    Ok(repo)
}

/// Loads ROOT's `.fluxgate.yaml` (defaults when absent). Without a `kubernetesVersion`, the
/// version a `schemas pull --cluster` recorded in the catalog is the target.
pub(crate) fn load_config(root: &Path) -> Result<Config, String> {
    let p = root.join(config::FILE_NAME);
    let mut config = match std::fs::read_to_string(&p) {
        Ok(text) => Config::parse(&text).map_err(|e| e.to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
    };
    if config.kubernetes_version.is_none()
        && let Some((version, note)) = fluxgate::schema::import::recorded_version(&root.join(&config.schema_catalog))
    {
        if let Some(note) = note {
            eprintln!("fluxgate: {note}");
        }
        config.kubernetes_version = Some(version);
    }
    Ok(config)
}

pub(crate) fn write_file(path: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    f(&mut w).and_then(|()| w.flush()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub(crate) fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// How to reach a live cluster, read-only (`schemas pull --cluster`, `validate --cluster`,
/// `diff --cluster`): as kubectl finds it.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct ClusterArgs {
    /// The kubeconfig context to use (default: the kubeconfig's current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the pod's
    /// service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Seconds one request to the cluster (or its exec credential plugin) may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub cluster_timeout: u64,
}

impl ClusterArgs {
    /// Connects (resolving the kubeconfig and running an exec plugin; no request yet).
    pub(crate) fn connect(&self) -> Result<fluxgate::cluster::Client, fluxgate::cluster::Error> {
        fluxgate::cluster::Client::connect(&fluxgate::cluster::Options {
            source: fluxgate::cluster::kubeconfig::Source {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
            },
            timeout: std::time::Duration::from_secs(self.cluster_timeout.max(1)),
        })
    }
}
