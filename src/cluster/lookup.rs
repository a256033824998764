//! Answers other stages ask of the live cluster, cached for the run: a ConfigMap's or
//! Secret's keys (never its values: they are dropped as the answer is read), whether an object
//! of a kind exists, which versions of a custom resource the cluster serves. The first failure
//! (unreachable, forbidden) is kept and every later answer is [`Fact::Unknown`], so a run falls
//! back to its offline result with one warning instead of a failure per question.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use super::{Client, Error};

/// What the cluster says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact<T> {
    Known(T),
    /// The cluster could not be asked (the run's warnings say why).
    Unknown,
}

/// A kind's REST resource, from API discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resource {
    version: String,
    plural: String,
    namespaced: bool,
}

/// Cached, read-only questions to one cluster.
pub struct Lookup {
    client: Client,
    /// `(group, kind)` → resource, per group discovered.
    discovered: Mutex<HashMap<String, BTreeMap<String, Resource>>>,
    answers: Mutex<HashMap<String, Option<Value>>>,
    /// Per problem, one line; the first one makes later questions unknown when it is a
    /// connection failure.
    problems: Mutex<Vec<String>>,
    down: Mutex<bool>,
    /// The cluster's CRDs, listed once, on first use.
    crds: Mutex<Option<Vec<Value>>>,
    /// The repository directory the cluster syncs, found on first use.
    tree: std::sync::OnceLock<Option<String>>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lookup({} at {})", self.client.context(), self.client.server())
    }
}

impl Lookup {
    /// A lookup asking `client`'s cluster, with nothing asked yet.
    pub fn new(client: Client) -> Lookup {
        Lookup {
            client,
            discovered: Mutex::new(HashMap::new()),
            answers: Mutex::new(HashMap::new()),
            problems: Mutex::new(Vec::new()),
            down: Mutex::new(false),
            crds: Mutex::new(None),
            tree: std::sync::OnceLock::new(),
        }
    }

    /// The client, for callers that list objects themselves.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The problems met, one line each, in order (for the run's warnings).
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn note(&self, e: &Error) {
        let fatal = matches!(
            e,
            Error::Unreachable { .. } | Error::Timeout { .. } | Error::Unauthorized { .. } | Error::Auth(_)
        );
        if fatal && let Ok(mut d) = self.down.lock() {
            *d = true;
        }
        if let Ok(mut p) = self.problems.lock()
            && !p.contains(&e.to_string())
        {
            p.push(e.to_string());
        }
    }

    fn is_down(&self) -> bool {
        self.down.lock().map(|d| *d).unwrap_or(true)
    }

    /// GET with the answer cached; `Unknown` after a failure.
    fn get(&self, path: &str) -> Fact<Option<Value>> {
        if self.is_down() {
            return Fact::Unknown;
        }
        if let Some(v) = self.answers.lock().ok().and_then(|a| a.get(path).cloned()) {
            return Fact::Known(v);
        }
        match self.client.get_opt(path) {
            Ok(v) => {
                if let Ok(mut a) = self.answers.lock() {
                    a.insert(path.to_string(), v.clone());
                }
                Fact::Known(v)
            }
            Err(e) => {
                self.note(&e);
                Fact::Unknown
            }
        }
    }

    /// The keys of a ConfigMap's `data`/`binaryData` or a Secret's `data`; `None` when the
    /// object does not exist. Values are never kept.
    pub fn data_keys(&self, kind: &str, namespace: &str, name: &str) -> Fact<Option<Vec<String>>> {
        let plural = match kind {
            "ConfigMap" => "configmaps",
            "Secret" => "secrets",
            _ => return Fact::Unknown,
        };
        let path = format!("/api/v1/namespaces/{namespace}/{plural}/{name}");
        if self.is_down() {
            return Fact::Unknown;
        }
        // Not cached through `get`: the answer holds values, which are dropped here.
        match self.client.get_opt(&path) {
            Ok(None) => Fact::Known(None),
            Ok(Some(obj)) => {
                let mut keys: Vec<String> = ["data", "binaryData"]
                    .iter()
                    .filter_map(|f| obj.get(*f).and_then(Value::as_object))
                    .flat_map(|m| m.keys().cloned())
                    .collect();
                keys.sort();
                keys.dedup();
                Fact::Known(Some(keys))
            }
            Err(e) => {
                self.note(&e);
                Fact::Unknown
            }
        }
    }

    /// The REST resource of `kind` in `group` (preferred version), by API discovery.
    fn resource(&self, group: &str, kind: &str) -> Fact<Option<Resource>> {
        if let Some(r) = self.discovered.lock().ok().and_then(|d| d.get(group).map(|m| m.get(kind).cloned())) {
            return Fact::Known(r);
        }
        let version = if group.is_empty() {
            "v1".to_string()
        } else {
            match self.get(&format!("/apis/{group}")) {
                Fact::Unknown => return Fact::Unknown,
                Fact::Known(None) => {
                    self.remember(group, BTreeMap::new());
                    return Fact::Known(None);
                }
                Fact::Known(Some(g)) => match g.pointer("/preferredVersion/version").and_then(Value::as_str) {
                    Some(v) => v.to_string(),
                    None => return Fact::Known(None),
                },
            }
        };
        let path = if group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{group}/{version}") };
        let Fact::Known(list) = self.get(&path) else { return Fact::Unknown };
        let mut kinds = BTreeMap::new();
        for r in list.as_ref().and_then(|l| l.get("resources")).and_then(Value::as_array).into_iter().flatten() {
            let (Some(k), Some(plural)) =
                (r.get("kind").and_then(Value::as_str), r.get("name").and_then(Value::as_str))
            else {
                continue;
            };
            if plural.contains('/') {
                continue; // a subresource (`deployments/scale`)
            }
            let namespaced = r.get("namespaced").and_then(Value::as_bool).unwrap_or(true);
            kinds.entry(k.to_string()).or_insert(Resource {
                version: version.clone(),
                plural: plural.to_string(),
                namespaced,
            });
        }
        let found = kinds.get(kind).cloned();
        self.remember(group, kinds);
        Fact::Known(found)
    }

    fn remember(&self, group: &str, kinds: BTreeMap<String, Resource>) {
        if let Ok(mut d) = self.discovered.lock() {
            d.insert(group.to_string(), kinds);
        }
    }

    /// Whether the object exists (`false` too when the cluster serves no such kind).
    pub fn exists(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Fact<bool> {
        let r = match self.resource(group, kind) {
            Fact::Unknown => return Fact::Unknown,
            Fact::Known(None) => return Fact::Known(false),
            Fact::Known(Some(r)) => r,
        };
        let base = if group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{group}/{}", r.version) };
        let path = if r.namespaced {
            format!("{base}/namespaces/{namespace}/{}/{name}", r.plural)
        } else {
            format!("{base}/{}/{name}", r.plural)
        };
        match self.get(&path) {
            Fact::Known(v) => Fact::Known(v.is_some()),
            Fact::Unknown => Fact::Unknown,
        }
    }

    /// The live object (`None`: it does not exist, or the cluster serves no such kind), read
    /// at the manifest's apiVersion. Not cached: it may hold Secret values, which the caller
    /// masks.
    pub fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Fact<Option<Value>> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let r = match self.resource(group, kind) {
            Fact::Unknown => return Fact::Unknown,
            Fact::Known(None) => return Fact::Known(None),
            Fact::Known(Some(r)) => r,
        };
        let base = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let path = if r.namespaced {
            let ns = if namespace.is_empty() { "default" } else { namespace };
            format!("{base}/namespaces/{ns}/{}/{name}", r.plural)
        } else {
            format!("{base}/{}/{name}", r.plural)
        };
        if self.is_down() {
            return Fact::Unknown;
        }
        match self.client.get_opt(&path) {
            Ok(v) => Fact::Known(v),
            Err(e) => {
                self.note(&e);
                Fact::Unknown
            }
        }
    }

    /// Every object of a kind, in all namespaces, whose labels match `selector` (`k=v,...`),
    /// as metadata only (see [`Client::list_metadata`]). A kind the cluster does not serve has
    /// none.
    pub fn list_labelled(&self, group: &str, kind: &str, selector: &str) -> Fact<Vec<Value>> {
        let r = match self.resource(group, kind) {
            Fact::Unknown => return Fact::Unknown,
            Fact::Known(None) => return Fact::Known(Vec::new()),
            Fact::Known(Some(r)) => r,
        };
        let base = if group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{group}/{}", r.version) };
        if self.is_down() {
            return Fact::Unknown;
        }
        match self.client.list_metadata(&format!("{base}/{}", r.plural), Some(selector)) {
            Ok(items) => Fact::Known(items),
            Err(e) => {
                self.note(&e);
                Fact::Unknown
            }
        }
    }

    /// The repository directory the cluster syncs: the `spec.path` of its
    /// `flux-system/flux-system` Kustomization (what `flux bootstrap` makes), `./` and
    /// trailing `/` dropped; `None` when it has none.
    pub fn synced_tree(&self) -> Option<String> {
        self.tree
            .get_or_init(|| {
                let Fact::Known(Some(k)) =
                    self.object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "flux-system")
                else {
                    return None;
                };
                let path = k.pointer("/spec/path")?.as_str()?;
                Some(path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string())
            })
            .clone()
    }

    /// Whether the cluster's answers apply to the Flux tree rendered from `dir` (a cluster
    /// directory such as `clusters/production`): the tree the cluster syncs, or every tree when
    /// that is unknown.
    pub fn syncs(&self, dir: &str) -> bool {
        self.synced_tree().is_none_or(|t| t == dir)
    }

    /// Whether a namespace exists.
    pub fn namespace_exists(&self, name: &str) -> Fact<bool> {
        match self.get(&format!("/api/v1/namespaces/{name}")) {
            Fact::Known(v) => Fact::Known(v.is_some()),
            Fact::Unknown => Fact::Unknown,
        }
    }

    /// Every CustomResourceDefinition of the cluster, as listed.
    pub fn crds(&self) -> Fact<Vec<Value>> {
        let Ok(mut cache) = self.crds.lock() else { return Fact::Unknown };
        if cache.is_none() {
            if self.is_down() {
                return Fact::Unknown;
            }
            match self.client.list(CRDS, None) {
                Ok(items) => *cache = Some(items),
                Err(e) => {
                    self.note(&e);
                    return Fact::Unknown;
                }
            }
        }
        Fact::Known(cache.clone().unwrap_or_default())
    }

    /// The versions the cluster serves of a custom resource kind (empty: no such CRD).
    pub fn served_versions(&self, group: &str, kind: &str) -> Fact<Vec<String>> {
        match self.crds() {
            Fact::Known(crds) => {
                Fact::Known(served_of(&crds).remove(&(group.to_string(), kind.to_string())).unwrap_or_default())
            }
            Fact::Unknown => Fact::Unknown,
        }
    }
}

/// The CRD list path.
pub const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/// (group, kind) → served versions, from listed CRDs.
pub fn served_of(crds: &[Value]) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for c in crds {
        let (Some(group), Some(kind)) =
            (c.pointer("/spec/group").and_then(Value::as_str), c.pointer("/spec/names/kind").and_then(Value::as_str))
        else {
            continue;
        };
        let versions: Vec<String> = c
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
            .filter_map(|v| v.get("name").and_then(Value::as_str).map(String::from))
            .collect();
        out.insert((group.to_string(), kind.to_string()), versions);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_versions_skip_unserved_ones() {
        let crds = vec![serde_json::json!({"spec": {"group": "g.io", "names": {"kind": "K"},
            "versions": [{"name": "v1", "served": true}, {"name": "v1beta1", "served": false}, {"name": "v2"}]}})];
        let m = served_of(&crds);
        assert_eq!(m[&("g.io".to_string(), "K".to_string())], ["v1", "v2"]);
    }
}
