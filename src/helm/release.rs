//! Rendering every HelmRelease of the repository's Flux clusters: resolve each chart, fetch
//! the distinct charts once (in parallel), render the distinct (chart, values, settings)
//! combinations once (in parallel, cached on disk), then per release apply the
//! post-renderers and Flux's labels. Each HelmRelease becomes an entry point whose objects go
//! through the same checks as every other entry point.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

use super::binary::{self, Helm, Sandbox};
use super::cache::{Cache, Resolved, key, sha256_hex};
use super::render::{TemplateSettings, is_from_crds_dir, parse_output, schema_violations, template_args, trim_stderr};
use super::repo_index::{self, Constraint, MAX_CHART_BYTES};
use super::source::{ChartRequest, ChartSource, NoChart, Wiring, resolve};
use super::values::{secret_set, write_values};
use crate::config::Config;
use crate::flux::entry::cluster_of;
use crate::flux::graph::{Cluster, ClusterObject, GraphOptions, HELM_GROUP, field_loc, this_repo_sources};
use crate::flux::helm_values::release_values;
use crate::flux::tree::FluxEntry;
use crate::kustomize::build::{Engine, Failed, LoadRestrictor, Rendered};
use crate::kustomize::diag::Diag;
use crate::kustomize::kustomization::Kustomization;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::schema::registry::Registry;
use crate::source::{Loc, Node, RelPath, Repo};

/// The helm binary a run used, for the report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HelmInfo {
    pub binary: String,
    pub version: String,
}

/// One rendered (or not renderable) HelmRelease.
#[derive(Clone, Debug)]
pub struct HelmEntry {
    /// `<cluster dir>/<namespace>/<name>` (`helmrelease-<name>` when a Flux Kustomization of
    /// the cluster has the same name).
    pub name: String,
    /// The Flux entry point that applies the HelmRelease.
    pub parent: String,
    /// The HelmRelease object.
    pub object: crate::finding::ObjectRef,
    /// The file that defines the HelmRelease (the entry point's path in reports).
    pub path: String,
    /// The chart directory, for a chart kept in this repository.
    pub chart_dir: Option<RelPath>,
    pub result: Result<Rendered, Failed>,
    /// CustomResourceDefinitions the chart yields (its `crds/` and templates), for the registry.
    pub crds: Vec<Node>,
    /// Values read from Secrets: masked in every finding of this entry point.
    pub secrets: Vec<String>,
    /// helm validated the values against the chart's schema (it ran on this release).
    pub helm_validated: bool,
}

/// Every HelmRelease of a run.
#[derive(Debug, Default)]
pub struct HelmRun {
    pub entries: Vec<HelmEntry>,
    /// The helm binary used (`None`: not found, or no HelmRelease needed it).
    pub helm: Option<HelmInfo>,
}

/// One HelmRelease to render.
struct Job {
    name: String,
    parent: String,
    hr: Resource,
    path: String,
    request: Result<ChartRequest, NoChart>,
    values: serde_json::Value,
    values_node: Node,
    secrets: Vec<String>,
    settings: TemplateSettings,
    install_crds: bool,
}

/// A fetched chart: a directory or archive helm can read, and a digest of its content.
#[derive(Clone, Debug)]
pub struct Chart {
    pub path: PathBuf,
    pub digest: String,
}

/// One repository index, fetched by the first chart that needs it.
type IndexCell = Arc<OnceLock<Result<String, String>>>;

/// Fetches charts: the cache, the network (unless offline), helm for OCI.
pub struct Fetcher<'a> {
    pub repo: &'a Repo,
    pub cache: Cache,
    /// The cache directory as messages show it: relative to the root when inside it, so
    /// reports do not depend on where the repository is checked out.
    cache_shown: String,
    pub offline: bool,
    pub timeout: std::time::Duration,
    pub helm: Option<&'a Helm>,
    pub sandbox: &'a Sandbox,
    /// Index texts by repository URL, fetched at most once per run (other repositories are
    /// fetched meanwhile).
    indexes: Mutex<BTreeMap<String, IndexCell>>,
    /// Where in-repository charts are copied to (helm reads only the copy).
    local: tempfile::TempDir,
}

impl<'a> Fetcher<'a> {
    pub fn new(
        repo: &'a Repo,
        config: &Config,
        helm: Option<&'a Helm>,
        sandbox: &'a Sandbox,
    ) -> std::io::Result<Fetcher<'a>> {
        let root = config.helm.cache_root(repo.root());
        let cache_shown = match root.strip_prefix(repo.root()) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => root.display().to_string(),
        };
        Ok(Fetcher {
            repo,
            cache: Cache::new(root),
            cache_shown,
            offline: config.helm.offline,
            timeout: config.helm.timeout,
            helm,
            sandbox,
            indexes: Mutex::new(BTreeMap::new()),
            local: sandbox.scratch()?,
        })
    }

    /// Fetches one chart (from the cache when it can).
    pub fn fetch(&self, source: &ChartSource) -> Result<Chart, String> {
        match source {
            ChartSource::Local { dir } => self.local(dir),
            ChartSource::Http { url, chart, version } => self.http(url, chart, version),
            ChartSource::Oci { reference, version, digest, plain_http } => {
                self.oci(reference, version.as_deref(), digest.as_deref(), *plain_http)
            }
        }
    }

    /// Copies a chart directory of the repository (only files inside the root; symlinks that
    /// leave it are not followed) and hashes its content.
    fn local(&self, dir: &RelPath) -> Result<Chart, String> {
        let chart_yaml = dir.join("Chart.yaml").ok_or("bad chart path")?;
        if !self.repo.is_file(&chart_yaml) {
            return Err(format!("chart directory {dir} has no Chart.yaml"));
        }
        let dest = self.local.path().join(key(&[dir.as_str()]));
        let mut files = Vec::new();
        collect_files(self.repo, dir, &mut files);
        let mut parts: Vec<u8> = Vec::new();
        for f in &files {
            let bytes = std::fs::read(self.repo.abs(f)).map_err(|e| format!("cannot read {f}: {e}"))?;
            let rel = f.as_str().strip_prefix(dir.as_str()).unwrap_or(f.as_str()).trim_start_matches('/');
            let target = dest.join(rel);
            if let Some(p) = target.parent() {
                std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            }
            std::fs::write(&target, &bytes).map_err(|e| e.to_string())?;
            parts.extend(key(&[rel, &sha256_hex(&bytes)]).as_bytes());
        }
        Ok(Chart { path: dest, digest: sha256_hex(&parts) })
    }

    fn index(&self, url: &str) -> Result<String, String> {
        let cell = self.indexes.lock().unwrap_or_else(|e| e.into_inner()).entry(url.to_string()).or_default().clone();
        cell.get_or_init(|| repo_index::fetch_index(url, self.timeout)).clone()
    }

    fn http(&self, url: &str, chart: &str, version: &str) -> Result<Chart, String> {
        let exact = Constraint::exact(version).is_some();
        if (exact || self.offline)
            && let Some(r) = self.cache.get_ref("http", url, chart, version)
            && let Some(p) = self.cache.archive(url, chart, &r)
        {
            return archive_chart(p, &r);
        }
        if self.offline {
            return Err(format!(
                "chart {chart}@{} from {url} is not in the chart cache {} and --offline forbids the network \
                 (fill the cache with `fluxgate charts pull`)",
                if version.is_empty() { "*" } else { version },
                self.cache_shown
            ));
        }
        let index = self.index(url)?;
        let entries = repo_index::chart_versions(&index, chart)?;
        let e = repo_index::resolve(&entries, version)?.ok_or_else(|| {
            format!(
                "no version of chart {chart} in {url} matches '{}' ({} versions listed)",
                if version.is_empty() { "*" } else { version },
                entries.len()
            )
        })?;
        let r = Resolved { version: e.version.clone(), digest: e.digest.clone().unwrap_or_default() };
        if let Some(p) = self.cache.archive(url, chart, &r) {
            let _ = self.cache.put_ref("http", url, chart, version, &r);
            return archive_chart(p, &r);
        }
        let u = e.urls.first().ok_or_else(|| format!("chart {chart} {} in {url} lists no URL", e.version))?;
        let abs = repo_index::absolute_url(url, u);
        let bytes = repo_index::fetch(&abs, self.timeout, MAX_CHART_BYTES)?;
        let sha = sha256_hex(&bytes);
        if !r.digest.is_empty() && sha != r.digest {
            return Err(format!("{abs}: the archive's sha256 {sha} is not the index's digest {}", r.digest));
        }
        let p = self.cache.store_archive(url, chart, &r, &bytes).map_err(|e| format!("chart cache: {e}"))?;
        self.cache.put_ref("http", url, chart, version, &r).map_err(|e| format!("chart cache: {e}"))?;
        Ok(Chart { path: p, digest: sha })
    }

    fn oci(
        &self,
        reference: &str,
        version: Option<&str>,
        digest: Option<&str>,
        plain_http: bool,
    ) -> Result<Chart, String> {
        let constraint = digest.or(version).unwrap_or("");
        let pinned = digest.is_some() || version.is_some_and(|v| Constraint::exact(v).is_some());
        if (pinned || self.offline)
            && let Some(r) = self.cache.get_ref("oci", reference, "", constraint)
            && let Some(p) = self.cache.archive(reference, "", &r)
        {
            return archive_chart(p, &r);
        }
        if self.offline {
            return Err(format!(
                "{reference} ({constraint}) is not in the chart cache {} and --offline forbids the network",
                self.cache_shown
            ));
        }
        let helm = self.helm.ok_or("pulling an OCI chart needs helm, which was not found")?;
        let dest = self.sandbox.scratch().map_err(|e| e.to_string())?;
        let mut cmd = self.sandbox.command(&helm.path);
        cmd.args(oci_pull_args(reference, version, digest, plain_http, dest.path()));
        let out = binary::run(cmd, self.timeout)?;
        if !out.success {
            return Err(format!("helm pull {reference}: {}", trim_stderr(&out.stderr)));
        }
        let archive = std::fs::read_dir(dest.path())
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "tgz"))
            .ok_or_else(|| format!("helm pull {reference} wrote no chart archive"))?;
        let bytes = std::fs::read(&archive).map_err(|e| e.to_string())?;
        let file_version = archive.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let r = Resolved { version: file_version, digest: sha256_hex(&bytes) };
        let p = self.cache.store_archive(reference, "", &r, &bytes).map_err(|e| format!("chart cache: {e}"))?;
        self.cache.put_ref("oci", reference, "", constraint, &r).map_err(|e| format!("chart cache: {e}"))?;
        Ok(Chart { path: p, digest: r.digest })
    }
}

/// `helm pull` arguments for an OCI chart: by digest when given, else by tag or semver range.
pub fn oci_pull_args(
    reference: &str,
    version: Option<&str>,
    digest: Option<&str>,
    plain_http: bool,
    dest: &Path,
) -> Vec<String> {
    let mut a = vec!["pull".to_string()];
    match digest {
        Some(d) => a.push(format!("{reference}@{d}")),
        None => a.push(reference.to_string()),
    }
    if let (None, Some(v)) = (digest, version.filter(|v| !v.is_empty() && *v != "*")) {
        a.push("--version".into());
        a.push(v.to_string());
    }
    if plain_http {
        a.push("--plain-http".into());
    }
    a.push("--destination".into());
    a.push(dest.display().to_string());
    a
}

fn archive_chart(p: PathBuf, r: &Resolved) -> Result<Chart, String> {
    let digest =
        if r.digest.is_empty() { sha256_hex(&std::fs::read(&p).map_err(|e| e.to_string())?) } else { r.digest.clone() };
    Ok(Chart { path: p, digest })
}

fn collect_files(repo: &Repo, dir: &RelPath, out: &mut Vec<RelPath>) {
    let Ok(entries) = repo.list_dir(dir) else { return };
    for (name, is_dir) in entries {
        let Some(p) = dir.join(&name) else { continue };
        if is_dir {
            collect_files(repo, &p, out);
        } else if repo.is_file(&p) {
            out.push(p);
        }
    }
}

/// The HelmReleases of every cluster, with their charts and values resolved.
fn jobs(repo: &Repo, config: &Config, flux: &[FluxEntry], registry: &Registry) -> Vec<Job> {
    let mut clusters: BTreeMap<&str, Vec<ClusterObject>> = BTreeMap::new();
    for e in flux {
        if let Ok(r) = &e.result {
            clusters
                .entry(cluster_of(&e.name))
                .or_default()
                .extend(r.resources.iter().map(|resource| ClusterObject { entry_point: &e.name, resource }));
        }
    }
    let flux_names: BTreeSet<&str> = flux.iter().map(|e| e.name.as_str()).collect();
    let rendered: BTreeSet<&str> = flux.iter().filter(|e| e.result.is_ok()).map(|e| e.name.as_str()).collect();
    let kube_version = format!("v{}.0", registry.kubernetes_version());
    let api_versions = registry.api_versions();
    let mut out = Vec::new();
    for (dir, objects) in &clusters {
        // Its releases first: indexing a cluster's objects is only for one that has some.
        let releases: Vec<&ClusterObject> =
            objects.iter().filter(|o| o.resource.kind() == "HelmRelease" && o.resource.group() == HELM_GROUP).collect();
        if releases.is_empty() {
            continue;
        }
        let graph =
            GraphOptions { repo_sources: Some(this_repo_sources(dir, objects, &rendered)), ..GraphOptions::default() };
        let wiring = Wiring { graph: &graph, mappings: &config.flux.sources };
        let rel = RelPath::parse(dir).unwrap_or_default();
        let c = Cluster::new(repo, &rel, objects);
        let mut seen = BTreeSet::new();
        for o in releases {
            let hr = o.resource;
            let ns = if hr.namespace().is_empty() { "default" } else { hr.namespace() };
            if !seen.insert((ns.to_string(), hr.name().to_string())) {
                continue;
            }
            let mut name = format!("{dir}/{ns}/{}", hr.name());
            if flux_names.contains(name.as_str()) {
                name = format!("{dir}/{ns}/helmrelease-{}", hr.name());
            }
            let target_ns = hr.node.str_at(&["spec", "targetNamespace"]).filter(|s| !s.is_empty());
            let release = super::render::release_name(hr.name(), hr.node.str_at(&["spec", "releaseName"]), target_ns);
            let v = release_values(&c, hr);
            let install_crds = hr.node.str_at(&["spec", "install", "crds"]) != Some("Skip");
            let skip_tests = !hr.node.path(&["spec", "test", "enable"]).and_then(Node::as_bool).unwrap_or(false);
            out.push(Job {
                name,
                parent: o.entry_point.to_string(),
                path: repo.file_of(hr.node.loc).map(|f| f.path.to_string()).unwrap_or_else(|| dir.to_string()),
                request: resolve(&c, hr, &wiring),
                values: v.values.to_json(),
                values_node: v.values,
                secrets: secret_set(&v.secrets),
                settings: TemplateSettings {
                    release_name: release,
                    namespace: target_ns.unwrap_or(ns).to_string(),
                    kube_version: kube_version.clone(),
                    api_versions: api_versions.clone(),
                    include_crds: true,
                    skip_tests,
                },
                install_crds,
                hr: hr.clone(),
            });
        }
    }
    out
}

/// Runs `helm template` for one (chart, values, settings), from the render cache when it can.
fn template(
    helm: &Helm,
    sandbox: &Sandbox,
    cache: &Cache,
    timeout: std::time::Duration,
    job: &Job,
    chart: &Chart,
    render_key: &str,
) -> Result<String, String> {
    let cacheable = job.secrets.is_empty();
    if cacheable && let Some(text) = cache.get_render(render_key) {
        return Ok(text);
    }
    let scratch = sandbox.scratch().map_err(|e| e.to_string())?;
    let values = scratch.path().join("values.json");
    write_values(&values, &job.values).map_err(|e| e.to_string())?;
    let values_files = match &job.request {
        Ok(r) => r.values_files.clone(),
        Err(_) => Vec::new(),
    };
    let mut cmd = sandbox.command(&helm.path);
    cmd.args(template_args(&job.settings, &chart.path, &values_files, &values));
    let out = binary::run(cmd, timeout)?;
    if !out.success {
        return Err(out.stderr);
    }
    if cacheable {
        let _ = cache.put_render(render_key, &out.stdout);
    }
    Ok(out.stdout)
}

/// Renders every HelmRelease of the rendered Flux clusters.
pub fn render_all(repo: &Repo, config: &Config, flux: &[FluxEntry], registry: &Registry) -> HelmRun {
    let jobs = jobs(repo, config, flux, registry);
    if jobs.is_empty() {
        return HelmRun::default();
    }
    let hc = &config.helm;
    let sandbox = Sandbox::new();
    let helm = match (binary::find(hc.binary.as_deref()), &sandbox) {
        (Some(path), Ok(sb)) => {
            binary::version(sb, &path, hc.timeout).ok().map(|version| Helm { path: path.clone(), version })
        }
        _ => None,
    };
    let fetcher = match (&helm, &sandbox) {
        (Some(h), Ok(sb)) => Fetcher::new(repo, config, Some(h), sb).ok(),
        _ => None,
    };
    // Fetch each distinct chart once.
    let sources: BTreeSet<ChartSource> =
        jobs.iter().filter_map(|j| j.request.as_ref().ok()).map(|r| r.source.clone()).collect();
    let charts: BTreeMap<ChartSource, Result<Chart, String>> = match &fetcher {
        Some(f) => sources
            .into_par_iter()
            .map(|s| {
                let c = f.fetch(&s);
                (s, c)
            })
            .collect(),
        None => BTreeMap::new(),
    };
    // Render each distinct (chart, values, settings) once.
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    let mut job_keys: Vec<Option<String>> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        let chart = j.request.as_ref().ok().and_then(|r| charts.get(&r.source)).and_then(|c| c.as_ref().ok());
        let k = match (chart, &helm) {
            (Some(c), Some(h)) => {
                let files = j.request.as_ref().map(|r| r.values_files.join("\n")).unwrap_or_default();
                let values = serde_json::to_string(&j.values).unwrap_or_default();
                Some(key(&[&c.digest, &values, &format!("{:?}", j.settings), &files, &h.version]))
            }
            _ => None,
        };
        if let Some(k) = &k {
            keys.entry(k.clone()).or_insert(i);
        }
        job_keys.push(k);
    }
    let outputs: BTreeMap<String, Result<String, String>> = match (&helm, &sandbox, &fetcher) {
        (Some(h), Ok(sb), Some(f)) => keys
            .into_par_iter()
            .map(|(k, i)| {
                let j = &jobs[i];
                let chart = j.request.as_ref().ok().and_then(|r| charts.get(&r.source)).and_then(|c| c.as_ref().ok());
                let out = match chart {
                    Some(c) => template(h, sb, &f.cache, hc.timeout, j, c, &k),
                    None => Err("no chart".into()),
                };
                (k, out)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let engine = Engine::new(repo, LoadRestrictor::None);
    let entries = jobs
        .into_par_iter()
        .zip(job_keys)
        .map(|(j, k)| {
            let chart = j.request.as_ref().ok().and_then(|r| charts.get(&r.source));
            let output = k.as_ref().and_then(|k| outputs.get(k));
            assemble(repo, &engine, registry, j, helm.is_some(), chart, output)
        })
        .collect();
    let info = helm.map(|h| HelmInfo { binary: h.path.display().to_string(), version: h.version });
    HelmRun { entries, helm: info }
}

/// What `fluxgate charts pull` did for one chart.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The HelmReleases (entry point names) that use the chart.
    pub releases: Vec<String>,
    pub chart: String,
    /// The cached archive (or the chart directory's copy), or why the chart cannot be had.
    pub result: Result<PathBuf, String>,
}

/// Fills the chart cache with the chart of every HelmRelease of the rendered Flux clusters
/// (charts in this repository need no fetching and are left out). Works without helm except
/// for OCI charts.
pub fn pull_all(repo: &Repo, config: &Config, flux: &[FluxEntry]) -> Result<Vec<Pulled>, String> {
    let registry = Registry::new(config.kubernetes_version.as_deref())?;
    let jobs = jobs(repo, config, flux, &registry);
    let sandbox = Sandbox::new().map_err(|e| format!("cannot create a private directory for helm: {e}"))?;
    let hc = &config.helm;
    let helm = binary::find(hc.binary.as_deref())
        .and_then(|path| binary::version(&sandbox, &path, hc.timeout).ok().map(|version| Helm { path, version }));
    let fetcher = Fetcher::new(repo, config, helm.as_ref(), &sandbox).map_err(|e| e.to_string())?;
    let mut by_source: BTreeMap<ChartSource, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for j in &jobs {
        match &j.request {
            Ok(r) if matches!(r.source, ChartSource::Local { .. }) => {}
            Ok(r) => by_source.entry(r.source.clone()).or_default().push(j.name.clone()),
            Err(no) => out.push(Pulled {
                releases: vec![j.name.clone()],
                chart: String::new(),
                result: Err(no.message.clone()),
            }),
        }
    }
    let pulled: Vec<Pulled> = by_source
        .into_par_iter()
        .map(|(s, releases)| Pulled { releases, chart: s.describe(), result: fetcher.fetch(&s).map(|c| c.path) })
        .collect();
    out.extend(pulled);
    Ok(out)
}

/// One HelmRelease's entry point from its chart and helm's output.
// long: the steps follow helm-controller's own order (values, template, CRDs, post-renderers,
// namespace, labels); each step reads what the one before produced.
fn assemble(
    repo: &Repo,
    engine: &Engine,
    registry: &Registry,
    j: Job,
    have_helm: bool,
    chart: Option<&Result<Chart, String>>,
    output: Option<&Result<String, String>>,
) -> HelmEntry {
    let hr_loc = j.hr.node.loc;
    let qualified = format!("{}/{}", j.hr.namespace(), j.hr.name());
    let chart_dir = match &j.request {
        Ok(ChartRequest { source: ChartSource::Local { dir }, .. }) => Some(dir.clone()),
        _ => None,
    };
    let mut entry = HelmEntry {
        name: j.name.clone(),
        parent: j.parent.clone(),
        object: j.hr.object_ref(),
        path: j.path.clone(),
        chart_dir,
        result: Err(Failed {
            error: Diag::fatal(Rule::InternalError, hr_loc, "not rendered"),
            notes: Vec::new(),
            files: Default::default(),
        }),
        crds: Vec::new(),
        secrets: j.secrets.clone(),
        helm_validated: false,
    };
    let fail = |d: Diag| Err(Failed { error: d, notes: Vec::new(), files: Default::default() });
    let unavailable = |msg: String, loc: Loc| {
        Diag::fatal(Rule::HelmChartUnavailable, loc.or(hr_loc), format!("HelmRelease '{qualified}': {msg}"))
            .help("the chart's output is not checked; fill the chart cache (`fluxgate charts pull`) or fix the chart reference")
    };
    let request = match &j.request {
        Err(no) => {
            entry.result = fail(unavailable(no.message.clone(), no.loc));
            return entry;
        }
        Ok(r) => r,
    };
    if !have_helm {
        entry.result = fail(
            Diag::fatal(
                Rule::HelmSkipped,
                request.loc.or(hr_loc),
                format!(
                    "HelmRelease '{qualified}' was not rendered: no helm binary (helm.binary, FLUXGATE_HELM or PATH)"
                ),
            )
            .help("install helm (or point helm.binary at it) so the chart's output is checked"),
        );
        return entry;
    }
    match chart {
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            entry.result = fail(unavailable(e.clone(), request.loc));
            return entry;
        }
        None => {
            entry.result = fail(unavailable("the chart could not be fetched".into(), request.loc));
            return entry;
        }
    }
    let text = match output {
        Some(Ok(t)) => t,
        Some(Err(stderr)) => {
            entry.helm_validated = true;
            entry.result = Err(helm_failure(&j, stderr, &qualified));
            return entry;
        }
        None => {
            entry.result = fail(Diag::fatal(Rule::HelmRenderFailed, request.loc.or(hr_loc), "helm did not run"));
            return entry;
        }
    };
    entry.helm_validated = true;
    // What the values cannot account for points at the `chart:` line, not the document start.
    let chart_loc = request.loc.or(hr_loc);
    let docs = match parse_output(text, chart_loc, &repo.limits) {
        Ok(d) => d,
        Err(e) => {
            entry.result = fail(Diag::fatal(Rule::HelmRenderFailed, hr_loc, format!("HelmRelease '{qualified}': {e}")));
            return entry;
        }
    };
    let mut resources = Vec::new();
    let values = super::locate::ValuesIndex::new(&j.values_node);
    for mut d in docs {
        values.relocate(&mut d.node);
        if d.node.str_at(&["kind"]) == Some("CustomResourceDefinition") {
            entry.crds.push(d.node.clone());
        }
        if j.install_crds || !is_from_crds_dir(&d.source) {
            resources.push(Resource::new(d.node));
        }
    }
    let mut notes = Vec::new();
    for pr in j.hr.node.path(&["spec", "postRenderers"]).and_then(Node::as_seq).into_iter().flatten() {
        let Some(kz) = pr.get("kustomize") else { continue };
        let file = RelPath::parse(&j.path).unwrap_or_default();
        let dir = file.parent();
        let k = match Kustomization::parse(kz, dir, file) {
            Ok(k) => k,
            Err(d) => {
                entry.result = fail(d);
                return entry;
            }
        };
        match engine.transform_resources(&k, resources) {
            Ok(r) => {
                notes.extend(r.notes);
                resources = r.resources;
            }
            Err(f) => {
                entry.result = Err(f);
                return entry;
            }
        }
    }
    let ns = if j.hr.namespace().is_empty() { "default" } else { j.hr.namespace() };
    for r in &mut resources {
        let loc = r.node.loc;
        // Helm installs namespaced objects without a namespace into the release namespace.
        if r.namespace().is_empty()
            && registry.is_namespaced(r.api_version(), r.kind())
            && let Some(m) = r.node.ensure_map(&["metadata"], loc)
        {
            m.insert("namespace".into(), Node::string(j.settings.namespace.clone(), loc));
        }
        if let Some(m) = r.node.ensure_map(&["metadata", "labels"], loc) {
            m.insert(format!("{HELM_GROUP}/name"), Node::string(j.hr.name(), loc));
            m.insert(format!("{HELM_GROUP}/namespace"), Node::string(ns, loc));
        }
    }
    let mut files = BTreeSet::new();
    if let Some(p) = RelPath::parse(&j.path) {
        files.insert(p);
    }
    entry.result = Ok(Rendered { resources, notes, files });
    entry
}

/// helm template failed: values schema violations (located at the value that broke them), or
/// the trimmed error.
fn helm_failure(j: &Job, stderr: &str, qualified: &str) -> Failed {
    let redact = |s: &str| super::values::redact(s, &j.secrets);
    let hr_loc = j.hr.node.loc;
    if let Some(violations) = schema_violations(stderr).filter(|v| !v.is_empty()) {
        let mut diags: Vec<Diag> = violations
            .iter()
            .map(|v| {
                let mut loc = crate::schema::loc_at(&j.values_node, &v.path);
                if loc.is_none() {
                    loc = field_loc(&j.hr.node, &["spec", "values"]);
                }
                let at =
                    if v.path.is_empty() { "the values".to_string() } else { crate::schema::display_path(&v.path) };
                Diag::fatal(
                    Rule::FluxHelmValuesInvalid,
                    loc.or(hr_loc),
                    redact(&format!(
                        "HelmRelease '{qualified}' values fail the chart's values.schema.json: {at}: {}",
                        v.message
                    )),
                )
                .help("fix the value; helm-controller fails the install on it")
            })
            .collect();
        let error = diags.remove(0);
        return Failed { error, notes: diags, files: Default::default() };
    }
    let loc = j.request.as_ref().map(|r| r.loc).unwrap_or(hr_loc).or(hr_loc);
    Failed {
        error: Diag::fatal(
            Rule::HelmRenderFailed,
            loc,
            redact(&format!("helm template failed for HelmRelease '{qualified}': {}", trim_stderr(stderr))),
        )
        .help("helm-controller fails the install the same way; fix the values or the chart"),
        notes: Vec::new(),
        files: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_pull_arguments() {
        let d = Path::new("/tmp/x");
        let a = oci_pull_args("oci://ghcr.io/org/charts/app", Some("1.2.3"), None, false, d);
        assert_eq!(a.join(" "), "pull oci://ghcr.io/org/charts/app --version 1.2.3 --destination /tmp/x");
        let a = oci_pull_args("oci://r/app", Some("1.2.3"), Some("sha256:ab"), true, d);
        assert_eq!(a.join(" "), "pull oci://r/app@sha256:ab --plain-http --destination /tmp/x");
        let a = oci_pull_args("oci://r/app", Some("*"), None, false, d);
        assert_eq!(a.join(" "), "pull oci://r/app --destination /tmp/x");
    }
}
