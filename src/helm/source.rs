//! Which chart a HelmRelease installs: `spec.chart.spec` (chart + version + a `sourceRef` to
//! a GitRepository, HelmRepository or Bucket) or `spec.chartRef` (an OCIRepository or a
//! HelmChart object), resolved against the objects of the same cluster render, as
//! helm-controller and source-controller resolve them.

use crate::flux::graph::{Cluster, GraphOptions, SOURCE_GROUP, field_loc, flux_path};
use crate::flux::tree::SourceMapping;
use crate::kustomize::resource::Resource;
use crate::source::{Loc, Node, RelPath};

/// Where the chart comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChartSource {
    /// A chart directory of this repository (GitRepository source, or one mapped with
    /// `flux.sources`).
    Local { dir: RelPath },
    /// An HTTP(S) Helm repository: `index.yaml` plus chart archives.
    Http { url: String, chart: String, version: String },
    /// An OCI artifact `oci://host/path/chart`, pulled by tag or semver constraint
    /// (`version`) or by `digest`.
    Oci { reference: String, version: Option<String>, digest: Option<String>, plain_http: bool },
}

impl ChartSource {
    /// `chart@version from URL`, for messages.
    pub fn describe(&self) -> String {
        match self {
            ChartSource::Local { dir } => format!("chart directory {dir}"),
            ChartSource::Http { url, chart, version } => {
                format!("chart {chart}@{} from {url}", if version.is_empty() { "*" } else { version })
            }
            ChartSource::Oci { reference, version, digest, .. } => match (digest, version) {
                (Some(d), _) => format!("{reference}@{d}"),
                (None, Some(v)) => format!("{reference}:{v}"),
                (None, None) => reference.clone(),
            },
        }
    }
}

/// A HelmRelease's chart, with what else the chart spec says.
#[derive(Clone, Debug)]
pub struct ChartRequest {
    pub source: ChartSource,
    /// `valuesFiles` (paths inside the chart) merged over the chart's values.yaml.
    pub values_files: Vec<String>,
    /// Where the chart is named (for findings).
    pub loc: Loc,
}

/// Why no chart could be named: the message and where.
#[derive(Clone, Debug)]
pub struct NoChart {
    pub message: String,
    pub loc: Loc,
}

/// How the repository is wired: which GitRepositories are this repository, and which other
/// sources config maps into it.
pub struct Wiring<'a> {
    pub graph: &'a GraphOptions<'a>,
    pub mappings: &'a [SourceMapping],
}

/// Resolves the chart of one HelmRelease in its cluster.
pub(crate) fn resolve(c: &Cluster, hr: &Resource, wiring: &Wiring) -> Result<ChartRequest, NoChart> {
    let ns = hr.namespace();
    if let Some(cr) = hr.node.path(&["spec", "chartRef"]) {
        let loc = field_loc(&hr.node, &["spec", "chartRef"]);
        let kind = cr.str_at(&["kind"]).unwrap_or("");
        let name = cr.str_at(&["name"]).unwrap_or("");
        let src_ns = cr.str_at(&["namespace"]).filter(|s| !s.is_empty()).unwrap_or(ns);
        let Some(obj) = c.find(SOURCE_GROUP, kind, src_ns, name) else {
            return Err(NoChart { message: format!("chartRef {kind} '{src_ns}/{name}' is not in the cluster"), loc });
        };
        let node = &obj.resource.node;
        return match kind {
            "OCIRepository" => Ok(ChartRequest { source: oci_repository(node), values_files: Vec::new(), loc }),
            "HelmChart" => {
                let spec = node
                    .get("spec")
                    .ok_or_else(|| NoChart { message: format!("HelmChart '{src_ns}/{name}' has no spec"), loc })?;
                from_chart_spec(c, spec, src_ns, wiring, loc)
            }
            other => Err(NoChart { message: format!("chartRef kind '{other}' is not supported"), loc }),
        };
    }
    let loc = field_loc(&hr.node, &["spec", "chart", "spec", "chart"]);
    let Some(spec) = hr.node.path(&["spec", "chart", "spec"]) else {
        return Err(NoChart { message: "the HelmRelease has neither spec.chart nor spec.chartRef".into(), loc });
    };
    from_chart_spec(c, spec, ns, wiring, loc)
}

/// An OCIRepository: `spec.url` and `spec.ref` (digest, then semver, then tag; `latest`).
fn oci_repository(node: &Node) -> ChartSource {
    let reference = node.str_at(&["spec", "url"]).unwrap_or("").to_string();
    let digest = node.str_at(&["spec", "ref", "digest"]).map(str::to_string);
    let version = node
        .str_at(&["spec", "ref", "semver"])
        .or_else(|| node.str_at(&["spec", "ref", "tag"]))
        .map(str::to_string)
        .or_else(|| digest.is_none().then(|| "latest".to_string()));
    let plain_http = node.get("spec").and_then(|s| s.get("insecure")).and_then(Node::as_bool).unwrap_or(false);
    ChartSource::Oci { reference, version, digest, plain_http }
}

/// A `chart.spec` (or HelmChart `spec`): chart, version, sourceRef, valuesFiles.
fn from_chart_spec(c: &Cluster, spec: &Node, ns: &str, wiring: &Wiring, loc: Loc) -> Result<ChartRequest, NoChart> {
    let chart = spec.str_at(&["chart"]).unwrap_or("").to_string();
    let version = spec.get("version").and_then(Node::scalar_text).unwrap_or_default();
    let mut values_files: Vec<String> = spec
        .get("valuesFiles")
        .and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(f) = spec.str_at(&["valuesFile"]) {
        values_files.insert(0, f.to_string());
    }
    let kind = spec.str_at(&["sourceRef", "kind"]).unwrap_or("");
    let name = spec.str_at(&["sourceRef", "name"]).unwrap_or("");
    let src_ns = spec.str_at(&["sourceRef", "namespace"]).filter(|s| !s.is_empty()).unwrap_or(ns);
    if chart.is_empty() {
        return Err(NoChart { message: "chart.spec.chart is empty".into(), loc });
    }
    let source = match kind {
        "GitRepository" => {
            let root = if wiring.graph.is_this_repo(kind, src_ns, name) {
                Some(RelPath::root())
            } else {
                wiring
                    .mappings
                    .iter()
                    .find(|m| m.kind == kind && m.namespace == src_ns && m.name == name)
                    .and_then(|m| flux_path(&m.path))
            };
            let Some(root) = root else {
                return Err(NoChart {
                    message: format!(
                        "chart {chart} comes from GitRepository '{src_ns}/{name}', which is another repository \
                         (map it with flux.sources if it lives here)"
                    ),
                    loc,
                });
            };
            let dir = flux_path(&chart)
                .and_then(|p| root.join(p.as_str()))
                .ok_or_else(|| NoChart { message: format!("chart path '{chart}' leaves the repository"), loc })?;
            ChartSource::Local { dir }
        }
        "HelmRepository" => {
            let Some(repo) = c.find(SOURCE_GROUP, kind, src_ns, name) else {
                return Err(NoChart {
                    message: format!(
                        "chart {chart} names HelmRepository '{src_ns}/{name}', which is not in the cluster"
                    ),
                    loc,
                });
            };
            let n = &repo.resource.node;
            let url = n.str_at(&["spec", "url"]).unwrap_or("").trim_end_matches('/').to_string();
            if n.str_at(&["spec", "type"]) == Some("oci") || url.starts_with("oci://") {
                let plain_http = n.get("spec").and_then(|s| s.get("insecure")).and_then(Node::as_bool).unwrap_or(false);
                ChartSource::Oci {
                    reference: format!("{url}/{chart}"),
                    version: Some(if version.is_empty() { "*".into() } else { version }),
                    digest: None,
                    plain_http,
                }
            } else {
                ChartSource::Http { url, chart, version }
            }
        }
        other => {
            return Err(NoChart {
                message: format!("charts from a {other} source ('{src_ns}/{name}') are not fetched by fluxgate"),
                loc,
            });
        }
    };
    Ok(ChartRequest { source, values_files, loc })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flux::graph::ClusterObject;
    use crate::source::Repo;

    const OBJECTS: &str = "apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo, namespace: apps}
spec: {url: oci://ghcr.io/stefanprodan/charts/podinfo, ref: {semver: '>=6.0.0'}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: oci-charts, namespace: flux-system}
spec: {type: oci, url: oci://registry.example.com/charts/, insecure: true}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: web, namespace: apps}
spec: {chart: web, version: 2.1.0, sourceRef: {kind: HelmRepository, name: http-charts}, valuesFiles: [values-prod.yaml]}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: http-charts, namespace: apps}
spec: {url: https://charts.example.com/}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: a, namespace: apps}
spec: {chartRef: {kind: OCIRepository, name: podinfo}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: b, namespace: apps}
spec: {chart: {spec: {chart: api, version: 1.x, sourceRef: {kind: HelmRepository, name: oci-charts, namespace: flux-system}}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: c, namespace: apps}
spec: {chartRef: {kind: HelmChart, name: web}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: d, namespace: apps}
spec: {chart: {spec: {chart: ./charts/d, sourceRef: {kind: GitRepository, name: other, namespace: flux-system}}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: e, namespace: apps}
spec: {chart: {spec: {chart: ./charts/e, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}}}
";

    #[test]
    fn chart_sources_resolve_like_source_controller() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("objects.yaml"), OBJECTS).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let parsed = repo.load_yaml(&RelPath::parse("objects.yaml").unwrap()).unwrap();
        let resources: Vec<Resource> = parsed.docs.iter().cloned().map(Resource::new).collect();
        let objects: Vec<ClusterObject> =
            resources.iter().map(|r| ClusterObject { entry_point: "c/x/y", resource: r }).collect();
        let root = RelPath::root();
        let c = Cluster::new(&repo, &root, &objects);
        let graph = GraphOptions {
            repo_sources: Some([("flux-system".to_string(), "flux-system".to_string())].into_iter().collect()),
            ..GraphOptions::default()
        };
        let wiring = Wiring { graph: &graph, mappings: &[] };
        let get = |name: &str| {
            let hr = resources.iter().find(|r| r.kind() == "HelmRelease" && r.name() == name).unwrap();
            resolve(&c, hr, &wiring)
        };
        assert_eq!(
            get("a").unwrap().source,
            ChartSource::Oci {
                reference: "oci://ghcr.io/stefanprodan/charts/podinfo".into(),
                version: Some(">=6.0.0".into()),
                digest: None,
                plain_http: false
            }
        );
        assert_eq!(
            get("b").unwrap().source,
            ChartSource::Oci {
                reference: "oci://registry.example.com/charts/api".into(),
                version: Some("1.x".into()),
                digest: None,
                plain_http: true
            }
        );
        let web = get("c").unwrap();
        assert_eq!(
            web.source,
            ChartSource::Http {
                url: "https://charts.example.com".into(),
                chart: "web".into(),
                version: "2.1.0".into()
            }
        );
        assert_eq!(web.values_files, ["values-prod.yaml"]);
        assert!(get("d").unwrap_err().message.contains("another repository"));
        assert_eq!(get("e").unwrap().source, ChartSource::Local { dir: RelPath::parse("charts/e").unwrap() });
    }
}
