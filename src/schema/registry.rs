//! Where each kind's schema comes from, resolved once per run: Kubernetes' own schemas for the
//! target version; CRDs found in the repository (or given with `--crds` / config); the
//! repo-local catalog; the bundled Flux CRDs. Earlier sources win. Schemas are compiled lazily,
//! once, only for the kinds that appear.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::source::{Node, RelPath, Repo};

use super::bundled::{self, KubeSchemas};
use super::catalog;
use super::cel::CelRules;
use super::crd::{self, CrdVersion};
use super::removed::{self, Status};
use super::validate::{self, CompiledSchema};

/// Where a schema came from, for messages and coverage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Kubernetes(String),
    RepoCrd(String),
    Catalog(String),
    /// A CRD the live cluster serves (`validate --cluster`): the kubeconfig context.
    Cluster(String),
    BundledFlux,
    /// The bundled CRD catalog (`schemas/catalog-sources.toml`): project and release.
    Bundled {
        project: String,
        release: String,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Kubernetes(v) => write!(f, "Kubernetes {v}"),
            Origin::RepoCrd(p) => write!(f, "CRD in {p}"),
            Origin::Catalog(p) => write!(f, "schema catalog {p}"),
            Origin::Cluster(c) => write!(f, "the cluster's CRD (context {c})"),
            Origin::BundledFlux => f.write_str("bundled Flux CRDs"),
            Origin::Bundled { project, release } => write!(f, "bundled {project} {release} CRDs"),
        }
    }
}

impl Origin {
    /// The kind of source, for machine-readable reports: `kubernetes`, `repository-crd`,
    /// `repository-catalog`, `bundled-flux` or `bundled-catalog`.
    pub fn source_type(&self) -> &'static str {
        match self {
            Origin::Kubernetes(_) => "kubernetes",
            Origin::RepoCrd(_) => "repository-crd",
            Origin::Catalog(_) => "repository-catalog",
            Origin::Cluster(_) => "cluster",
            Origin::BundledFlux => "bundled-flux",
            Origin::Bundled { .. } => "bundled-catalog",
        }
    }
}

/// A CRD version's schema before compilation.
#[derive(Clone, Debug)]
struct CrdEntry {
    origin: Origin,
    /// The schema: borrowed from the bundled Flux schemas (they live as long as the process), or
    /// owned.
    open_api: Option<Cow<'static, serde_json::Value>>,
    /// A bundled catalog CRD whose schema is decompressed on first use (then `open_api` is None).
    bundled: Option<&'static catalog::Crd>,
    deprecated: Option<String>,
    namespaced: bool,
}

/// A resolved kind: its compiled schema, or why there is none.
pub enum Resolved {
    Schema {
        origin: Origin,
        schema: Result<CompiledSchema, String>,
        cel: Option<CelRules>,
        /// Deprecation warning text when the version is deprecated but served.
        deprecated: Option<String>,
    },
    /// A built-in apiVersion the target version no longer serves.
    Removed { removed_in: u32, replacement: String },
    /// A built-in group that serves no such kind at that version.
    UnknownBuiltin { served_versions: Vec<String>, kinds_at_version: Vec<String> },
    /// A custom resource with no schema anywhere.
    Missing { other_versions: Vec<String>, flux_replacement: Option<&'static str> },
}

/// One kind's resolution, computed once however many threads ask for it first.
#[derive(Default)]
struct Slot {
    /// Set by the first thread to start on the kind, so [`Registry::prepare`] can pass it by.
    claimed: AtomicBool,
    resolved: OnceLock<Arc<Resolved>>,
}

/// The run's schema registry.
pub struct Registry {
    version: String,
    minor: u32,
    /// Whether the target version was chosen (config or flag) rather than defaulted to the
    /// newest bundled one: only a chosen version makes a removal after the oldest bundled
    /// version certain for the repository's cluster.
    chosen: bool,
    k8s: &'static KubeSchemas,
    builtin_groups: BTreeSet<String>,
    crds: BTreeMap<(String, String, String), CrdEntry>,
    cache: Mutex<HashMap<(String, String), Arc<Slot>>>,
    /// Problems loading schema sources (unreadable catalog file...), reported once per run.
    pub load_errors: Vec<(String, String)>,
    /// (group, kind) → `spec.names.plural` of the CRDs seen, for admission policy resource rules.
    plurals: BTreeMap<(String, String), String>,
    /// With `--cluster`: the context, and the (group, kind) of every CRD the cluster serves.
    cluster: Option<(String, BTreeSet<(String, String)>)>,
    /// Config `schemas.projects` as given to [`Registry::add_bundled_catalog`], for hints.
    projects: BTreeMap<String, String>,
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// Parses `"1.37"` (or `"v1.37"`, `"1.37.2"`) into its minor number.
pub fn minor_of(version: &str) -> Option<u32> {
    let v = version.trim_start_matches('v');
    let mut parts = v.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}

impl Registry {
    /// Builds the registry for a Kubernetes version (`None`: newest bundled). Fails only for an
    /// unknown version (a usage error).
    pub fn new(version: Option<&str>) -> Result<Registry, String> {
        let chosen = version.is_some();
        let version = version
            .map(|v| v.trim_start_matches('v').to_string())
            .unwrap_or_else(|| bundled::default_version().to_string());
        let short: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        let k8s = bundled::kubernetes(&short).ok_or_else(|| {
            format!(
                "Kubernetes version '{version}' is not bundled; choose one of {}",
                bundled::KUBERNETES_VERSIONS.join(", ")
            )
        })?;
        let minor = minor_of(&short).ok_or_else(|| format!("bad Kubernetes version '{version}'"))?;
        let mut builtin_groups: BTreeSet<String> = k8s.kinds().map(|(av, _)| group_of(av).to_string()).collect();
        // Groups Kubernetes served in the past (e.g. `extensions`) are still built-in groups.
        builtin_groups.extend(
            removed::RETIRED.iter().filter(|r| r.removed_in.is_some()).map(|r| group_of(r.api_version).to_string()),
        );
        let mut r = Registry {
            version: short,
            minor,
            chosen,
            k8s,
            builtin_groups,
            crds: BTreeMap::new(),
            cache: Mutex::new(HashMap::new()),
            load_errors: Vec::new(),
            plurals: BTreeMap::new(),
            projects: BTreeMap::new(),
            cluster: None,
        };
        for f in bundled::flux_crd_schemas() {
            r.crds.entry((f.group.clone(), f.version.clone(), f.kind.clone())).or_insert(CrdEntry {
                origin: Origin::BundledFlux,
                open_api: Some(Cow::Borrowed(&f.schema)),
                bundled: None,
                deprecated: None,
                namespaced: true,
            });
        }
        Ok(r)
    }

    /// Adds the bundled CRD catalog's releases in use (config `schemas.projects` pins a release
    /// or turns a project off): below repository CRDs and the repository's catalog, which
    /// replace an entry whenever they define the same group, version and kind.
    pub fn add_bundled_catalog(&mut self, choices: &BTreeMap<String, String>) -> Result<(), String> {
        self.projects = choices.clone();
        for c in catalog::selected(choices)? {
            self.plurals.entry((c.group.clone(), c.kind.clone())).or_insert_with(|| c.plural.clone());
            for v in &c.versions {
                let key = (c.group.clone(), v.name.clone(), c.kind.clone());
                self.crds.entry(key).or_insert_with(|| CrdEntry {
                    origin: Origin::Bundled { project: c.project.clone(), release: c.release.clone() },
                    open_api: None,
                    bundled: Some(c),
                    deprecated: v.deprecated.then(|| {
                        v.deprecation_warning
                            .clone()
                            .unwrap_or_else(|| format!("{}/{} {} is deprecated", c.group, v.name, c.kind))
                    }),
                    namespaced: c.namespaced,
                });
            }
        }
        Ok(())
    }

    /// Every custom resource group/version/kind with a schema, and where it comes from, sorted
    /// (for `fluxgate schemas list`).
    pub fn crd_origins(&self) -> Vec<(String, String, String, &Origin)> {
        self.crds.iter().map(|((g, v, k), e)| (g.clone(), v.clone(), k.clone(), &e.origin)).collect()
    }

    /// One line for a custom resource kind without a schema: the project that ships it, or
    /// how to add its schema.
    pub fn missing_hint(&self, api_version: &str, kind: &str) -> String {
        catalog::hint(api_version, kind, &self.projects)
    }

    /// Makes the bundled notification-controller schemas those of the Flux Operator's
    /// distribution: it patches the Alert and Receiver CRDs so that event sources and receiver
    /// resources may also be its own kinds. Call before the first lookup, when the repository
    /// installs Flux with a FluxInstance. CRDs committed in the repository are left as they are.
    pub fn accept_flux_operator_kinds(&mut self) {
        const KINDS: [&str; 3] = ["FluxInstance", "ResourceSet", "ResourceSetInputProvider"];
        for ((group, _, kind), entry) in self.crds.iter_mut() {
            let field = match (group.as_str(), kind.as_str()) {
                ("notification.toolkit.fluxcd.io", "Alert") => "eventSources",
                ("notification.toolkit.fluxcd.io", "Receiver") => "resources",
                _ => continue,
            };
            if !matches!(entry.origin, Origin::BundledFlux) {
                continue;
            }
            let Some(schema) = entry.open_api.as_mut().map(Cow::to_mut) else { continue };
            let path = ["properties", "spec", "properties", field, "items", "properties", "kind", "enum"];
            let enum_values = path.iter().try_fold(schema, |node, key| node.get_mut(*key));
            if let Some(serde_json::Value::Array(values)) = enum_values {
                for k in KINDS {
                    if !values.iter().any(|v| v == k) {
                        values.push(serde_json::Value::from(k));
                    }
                }
            }
        }
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn kubernetes_version(&self) -> &str {
        &self.version
    }

    /// Whether every cluster this run may be judging refuses an apiVersion that Kubernetes
    /// 1.`removed_in` stopped serving: the target version was chosen, or the removal is no
    /// later than the oldest bundled version (older clusters cannot be targeted at all). With
    /// the defaulted (newest) target, a later removal fails only on clusters at that version
    /// or newer, which the repository does not say.
    pub fn removal_is_certain(&self, removed_in: u32) -> bool {
        let oldest = bundled::KUBERNETES_VERSIONS.first().and_then(|v| minor_of(v)).unwrap_or(0);
        self.chosen || removed_in <= oldest
    }

    /// Adds the CRDs of one YAML document from the repository (no-op for other documents).
    /// Repository CRDs take precedence over the catalog and the bundled Flux schemas.
    pub fn add_repo_crd(&mut self, doc: &Node, file: &str) {
        self.add_plural(doc);
        self.add_versions(crd::crd_versions(doc), Origin::RepoCrd(file.to_string()), true);
        // Kinds looked up before (a run checks some objects before helm's chart CRDs arrive)
        // resolve afresh.
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether an apiVersion belongs to a Kubernetes built-in API group: its kinds resolve
    /// against Kubernetes' own schemas alone, whatever CRDs join the registry later.
    pub fn is_builtin(&self, api_version: &str) -> bool {
        let group = group_of(api_version);
        group.is_empty() || self.builtin_groups.contains(group)
    }

    /// The CRDs the live cluster serves (`validate --cluster`). They take the place of the
    /// catalog's and the bundled schemas (the cluster is what objects are applied to), not of
    /// the repository's own CRDs (a change may upgrade one); the versions of a kind the cluster
    /// does not serve are dropped from those sources, so using one is a certain failure.
    pub fn add_cluster_crds(&mut self, crds: &[Node], context: &str) {
        let mut kinds = BTreeSet::new();
        for doc in crds {
            self.add_plural(doc);
            let versions = crd::crd_versions(doc);
            let (Some(group), Some(kind)) = (doc.str_at(&["spec", "group"]), doc.str_at(&["spec", "names", "kind"]))
            else {
                continue;
            };
            let served: BTreeSet<String> = versions.iter().filter(|v| v.served).map(|v| v.version.clone()).collect();
            self.crds.retain(|(g, v, k), e| {
                !(g == group
                    && k == kind
                    && !served.contains(v)
                    && matches!(e.origin, Origin::BundledFlux | Origin::Catalog(_) | Origin::Bundled { .. }))
            });
            kinds.insert((group.to_string(), kind.to_string()));
            self.add_versions(versions, Origin::Cluster(context.to_string()), true);
        }
        self.cluster = Some((context.to_string(), kinds));
    }

    /// With `--cluster`: the context when the cluster serves some version of (group, kind).
    pub fn cluster_serves_kind(&self, group: &str, kind: &str) -> Option<&str> {
        let (context, kinds) = self.cluster.as_ref()?;
        kinds.contains(&(group.to_string(), kind.to_string())).then_some(context.as_str())
    }

    /// With `--cluster`: the context the cluster's CRDs came from.
    pub fn cluster_context(&self) -> Option<&str> {
        self.cluster.as_ref().map(|(c, _)| c.as_str())
    }

    fn add_versions(&mut self, versions: Vec<CrdVersion>, origin: Origin, override_lower: bool) {
        for v in versions.into_iter().filter(|v| v.served) {
            let key = (v.group.clone(), v.version.clone(), v.kind.clone());
            let entry = CrdEntry {
                origin: origin.clone(),
                open_api: v.schema.clone().map(Cow::Owned),
                bundled: None,
                deprecated: v.deprecated.then(|| {
                    v.deprecation_warning
                        .clone()
                        .unwrap_or_else(|| format!("{}/{} {} is deprecated", v.group, v.version, v.kind))
                }),
                namespaced: v.scope_namespaced,
            };
            match self.crds.get(&key) {
                Some(existing)
                    if !override_lower
                        || !matches!(
                            existing.origin,
                            Origin::BundledFlux | Origin::Catalog(_) | Origin::Bundled { .. }
                        ) => {}
                _ => {
                    self.crds.insert(key, entry);
                }
            }
        }
    }

    /// Loads the repo-local catalog: CRD YAML files, or JSON files holding an openAPIV3Schema
    /// named `<group>/<kind>_<version>.json`.
    pub fn load_catalog(&mut self, repo: &Repo, dir: &RelPath) {
        if !repo.is_dir(dir) {
            return;
        }
        let mut stack = vec![dir.clone()];
        let mut files = Vec::new();
        while let Some(d) = stack.pop() {
            let Ok(entries) = repo.list_dir(&d) else { continue };
            for (name, is_dir) in entries {
                let Some(p) = d.join(&name) else { continue };
                if is_dir {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        for p in files {
            let name = p.as_str().to_string();
            if name.ends_with(".yaml") || name.ends_with(".yml") {
                match repo.load_yaml(&p) {
                    Ok(parsed) => {
                        for doc in &parsed.docs {
                            self.add_plural(doc);
                            let versions = crd::crd_versions(doc);
                            self.add_versions(versions, Origin::Catalog(name.clone()), true);
                        }
                    }
                    Err(e) => self.load_errors.push((name, e.to_string())),
                }
            } else if name.ends_with(".json") {
                let rel = p.as_str().strip_prefix(dir.as_str()).unwrap_or(p.as_str()).trim_start_matches('/');
                let Some((group, file)) = rel.rsplit_once('/') else { continue };
                let Some((kind, version)) = file.trim_end_matches(".json").rsplit_once('_') else { continue };
                match repo
                    .read(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.text).map_err(|e| e.to_string()))
                {
                    Ok(schema) => {
                        let key = (group.to_string(), version.to_string(), kind.to_string());
                        let entry = CrdEntry {
                            origin: Origin::Catalog(name.clone()),
                            open_api: Some(Cow::Owned(schema)),
                            bundled: None,
                            deprecated: None,
                            namespaced: true,
                        };
                        match self.crds.get(&key) {
                            Some(e) if !matches!(e.origin, Origin::BundledFlux | Origin::Bundled { .. }) => {}
                            _ => {
                                self.crds.insert(key, entry);
                            }
                        }
                    }
                    Err(e) => self.load_errors.push((name, e)),
                }
            }
        }
    }

    /// Remembers a CRD's plural resource name (no-op for other documents); the first CRD of a
    /// group and kind wins, as for schemas.
    fn add_plural(&mut self, doc: &Node) {
        if doc.str_at(&["kind"]) != Some("CustomResourceDefinition")
            || !doc.str_at(&["apiVersion"]).unwrap_or_default().starts_with("apiextensions.k8s.io/")
        {
            return;
        }
        if let (Some(group), Some(kind), Some(plural)) = (
            doc.str_at(&["spec", "group"]),
            doc.str_at(&["spec", "names", "kind"]),
            doc.str_at(&["spec", "names", "plural"]),
        ) {
            self.plurals.entry((group.to_string(), kind.to_string())).or_insert_with(|| plural.to_string());
        }
    }

    /// The resource name the API serves a kind under (`Ingress` → `ingresses`): a CRD's
    /// `spec.names.plural`, else the API machinery's own pluralisation of the lowercased kind,
    /// which is what every built-in kind (and the bundled Flux kinds) is served as.
    pub fn resource_of(&self, api_version: &str, kind: &str) -> String {
        if let Some(p) = self.plurals.get(&(group_of(api_version).to_string(), kind.to_string())) {
            return p.clone();
        }
        let lower = kind.to_ascii_lowercase();
        if lower.ends_with("endpoints") {
            lower
        } else if lower.ends_with('s') {
            format!("{lower}es")
        } else if let Some(stem) = lower.strip_suffix('y') {
            format!("{stem}ies")
        } else {
            format!("{lower}s")
        }
    }

    /// Every `group/version` and `group/version/Kind` this registry knows the target cluster
    /// to serve (Kubernetes' own kinds and every known CRD version), as Helm's
    /// `Capabilities.APIVersions` for `helm template --api-versions`.
    pub fn api_versions(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (av, kind) in self.k8s.kinds() {
            out.insert(av.to_string());
            out.insert(format!("{av}/{kind}"));
        }
        // The bundled catalog says what a kind looks like, not that the cluster has it installed:
        // a chart must not render a ServiceMonitor just because fluxgate knows its schema.
        for ((g, v, k), _) in self.crds.iter().filter(|(_, e)| !matches!(e.origin, Origin::Bundled { .. })) {
            let av = if g.is_empty() { v.clone() } else { format!("{g}/{v}") };
            out.insert(format!("{av}/{k}"));
            out.insert(av);
        }
        out.into_iter().collect()
    }

    /// Whether objects of this kind live in a namespace (CRD scope; built-in table otherwise).
    pub fn is_namespaced(&self, api_version: &str, kind: &str) -> bool {
        let group = group_of(api_version);
        let version = api_version.rsplit('/').next().unwrap_or(api_version);
        match self.crds.get(&(group.to_string(), version.to_string(), kind.to_string())) {
            Some(e) => e.namespaced,
            None => !crate::kustomize::resource::is_cluster_scoped(kind),
        }
    }

    /// Resolves (and compiles, once) the schema for an apiVersion/kind.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Arc<Resolved> {
        let slot = self.slot(api_version, kind);
        slot.claimed.store(true, Ordering::Release);
        slot.resolved.get_or_init(|| Arc::new(self.resolve(api_version, kind))).clone()
    }

    /// Resolves each of `kinds` that no thread has started on, passing by those another thread
    /// is resolving: threads that meet the same new kinds at once (the first renders of a run
    /// all need Deployment, Service...) compile different ones side by side, where each
    /// [`Registry::lookup`] would wait for the other's compilation.
    pub fn prepare<'k>(&self, kinds: impl IntoIterator<Item = (&'k str, &'k str)>) {
        let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
        for (api_version, kind) in kinds {
            if !seen.insert((api_version, kind)) {
                continue;
            }
            let slot = self.slot(api_version, kind);
            if !slot.claimed.swap(true, Ordering::AcqRel) {
                slot.resolved.get_or_init(|| Arc::new(self.resolve(api_version, kind)));
            }
        }
    }

    /// The kind's slot, taken under the lock and filled outside it.
    fn slot(&self, api_version: &str, kind: &str) -> Arc<Slot> {
        let key = (api_version.to_string(), kind.to_string());
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone()
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Resolved {
        let group = group_of(api_version);
        let version = api_version.rsplit('/').next().unwrap_or(api_version);
        if self.builtin_groups.contains(group) || group.is_empty() {
            if let Some(schema) = self.k8s.kind_schema(api_version, kind) {
                let deprecated = match removed::status(api_version, kind, self.minor) {
                    Some(Status::Deprecated { replacement }) => {
                        Some(format!("{api_version} {kind} is deprecated; use {replacement}"))
                    }
                    _ => None,
                };
                return Resolved::Schema {
                    origin: Origin::Kubernetes(self.version.clone()),
                    schema: validate::compile(schema),
                    cel: None,
                    deprecated,
                };
            }
            if let Some(Status::Removed { removed_in, replacement }) = removed::status(api_version, kind, self.minor) {
                return Resolved::Removed { removed_in, replacement: replacement.to_string() };
            }
            let served_versions: Vec<String> = self
                .k8s
                .kinds()
                .filter(|(av, k)| *k == kind && group_of(av) == group)
                .map(|(av, _)| av.to_string())
                .collect();
            // Served by an older bundled version but not the target: removed in between.
            let last_serving = bundled::KUBERNETES_VERSIONS
                .iter()
                .filter_map(|v| Some((minor_of(v)?, bundled::kubernetes(v)?)))
                .filter(|(m, k)| *m < self.minor && k.serves(api_version, kind))
                .map(|(m, _)| m)
                .max();
            if let Some(last) = last_serving {
                let replacement = if served_versions.is_empty() {
                    "(no replacement is served)".to_string()
                } else {
                    served_versions.join(" or ")
                };
                return Resolved::Removed { removed_in: last + 1, replacement };
            }
            let mut kinds_at_version: Vec<String> =
                self.k8s.kinds().filter(|(av, _)| *av == api_version).map(|(_, k)| k.to_string()).collect();
            kinds_at_version.sort();
            return Resolved::UnknownBuiltin { served_versions, kinds_at_version };
        }
        let key = (group.to_string(), version.to_string(), kind.to_string());
        if let Some(e) = self.crds.get(&key) {
            let flux_deprecated = match removed::status(api_version, kind, self.minor) {
                Some(Status::Deprecated { replacement }) => {
                    Some(format!("{api_version} {kind} is deprecated; use {replacement}"))
                }
                _ => None,
            };
            let bundled_schema;
            let open_api: Option<&serde_json::Value> = match e.bundled {
                Some(c) => match c.schemas().map(|mut m| m.remove(version)) {
                    Ok(oa) => {
                        bundled_schema = oa;
                        bundled_schema.as_ref()
                    }
                    Err(err) => {
                        return Resolved::Schema {
                            origin: e.origin.clone(),
                            schema: Err(err),
                            cel: None,
                            deprecated: None,
                        };
                    }
                },
                None => e.open_api.as_deref(),
            };
            let (schema, cel) = match open_api {
                Some(oa) => {
                    let rules = CelRules::compile(oa);
                    (validate::compile(crd::crd_to_json_schema(oa)), (!rules.is_empty()).then_some(rules))
                }
                // A CRD without a schema accepts anything: that is a pass by definition.
                None => (validate::compile(serde_json::json!({})), None),
            };
            return Resolved::Schema {
                origin: e.origin.clone(),
                schema,
                cel,
                deprecated: e.deprecated.clone().or(flux_deprecated),
            };
        }
        let other_versions =
            self.crds.keys().filter(|(g, _, k)| g == group && k == kind).map(|(_, v, _)| v.clone()).collect();
        let flux_replacement = match removed::status(api_version, kind, self.minor) {
            Some(Status::Deprecated { replacement }) => Some(replacement),
            _ => None,
        };
        Resolved::Missing { other_versions, flux_replacement }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [(&str, &str); 5] = [
        ("v1", "ConfigMap"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("example.com/v1", "Nothing"),
    ];

    fn resolved(r: &Registry, (api_version, kind): (&str, &str)) -> bool {
        r.slot(api_version, kind).resolved.get().is_some()
    }

    #[test]
    fn threads_preparing_the_same_kinds_resolve_each_once_for_every_lookup() {
        let r = Registry::new(None).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| r.prepare(KINDS.iter().chain(KINDS.iter()).copied()));
            }
        });
        for k in KINDS {
            assert!(resolved(&r, k), "{k:?} resolved");
            assert!(Arc::ptr_eq(&r.lookup(k.0, k.1), &r.lookup(k.0, k.1)), "{k:?} resolved once");
        }
        assert!(matches!(*r.lookup("apps/v1", "Deployment"), Resolved::Schema { schema: Ok(_), .. }));
        assert!(matches!(*r.lookup("example.com/v1", "Nothing"), Resolved::Missing { .. }));
    }

    #[test]
    fn prepare_passes_by_a_kind_another_thread_has_claimed() {
        let r = Registry::new(None).unwrap();
        // As if another thread were compiling it right now.
        r.slot("apps/v1", "Deployment").claimed.store(true, Ordering::Release);
        r.prepare(KINDS);
        assert!(!resolved(&r, ("apps/v1", "Deployment")), "left to the thread that claimed it");
        assert!(resolved(&r, ("v1", "Service")));
        // A lookup never passes by: it resolves (or waits for) the kind it needs.
        assert!(matches!(*r.lookup("apps/v1", "Deployment"), Resolved::Schema { schema: Ok(_), .. }));
    }
}
