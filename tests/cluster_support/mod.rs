//! A fake Kubernetes API server on loopback HTTP for the `--cluster` tests: it serves
//! `/version`, API discovery (`/api/v1`, `/apis/<group>`, `/apis/<group>/<version>`), objects
//! by path and lists (all namespaces or one, `labelSelector` equality terms, `limit` /
//! `continue` pages) with bodies shaped like a real API server's, answers 401 to a wrong bearer
//! token, 403 under forbidden paths, and can answer slowly. It records every request; any
//! method but GET is answered 405 and fails [`Running::assert_read_only`].

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// One request received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub auth: Option<String>,
    pub accept: Option<String>,
}

/// A served kind: group, version, kind, plural, namespaced.
type Kind = (&'static str, &'static str, &'static str, &'static str, bool);

const KINDS: &[Kind] = &[
    ("", "v1", "Namespace", "namespaces", false),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "Service", "services", true),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", true),
    ("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories", true),
    ("source.toolkit.fluxcd.io", "v1", "OCIRepository", "ocirepositories", true),
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", true),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", true),
    ("external-secrets.io", "v1", "ExternalSecret", "externalsecrets", true),
];

/// The server before it starts.
#[derive(Clone)]
pub struct FakeApi {
    objects: BTreeMap<String, Value>,
    /// The bearer token it accepts; `None`: any request.
    pub token: Option<String>,
    /// Paths starting with one of these answer 403.
    pub forbidden: Vec<String>,
    /// Wait this long before answering every request.
    pub delay: Duration,
    pub minor: String,
}

/// The running server.
pub struct Running {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

fn kind_of(api_version: &str, kind: &str) -> Option<&'static Kind> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    KINDS.iter().find(|k| k.0 == group && k.1 == version && k.2 == kind)
}

fn base(group: &str, version: &str) -> String {
    if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") }
}

impl FakeApi {
    pub fn new() -> FakeApi {
        FakeApi {
            objects: BTreeMap::new(),
            token: None,
            forbidden: Vec::new(),
            delay: Duration::ZERO,
            minor: "35".into(),
        }
    }

    /// Adds an object as the server would return it: with uid, resourceVersion,
    /// creationTimestamp and managedFields, as a real server adds them.
    pub fn add(&mut self, mut obj: Value) -> &mut Self {
        let av = obj["apiVersion"].as_str().unwrap().to_string();
        let k = kind_of(&av, obj["kind"].as_str().unwrap()).unwrap_or_else(|| panic!("unserved kind {obj}"));
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let n = self.objects.len();
        let meta = obj["metadata"].as_object_mut().unwrap();
        meta.insert("uid".into(), json!(format!("0000-{n}")));
        meta.insert("resourceVersion".into(), json!(format!("{}", 1000 + n)));
        meta.insert("creationTimestamp".into(), json!("2026-01-02T03:04:05Z"));
        meta.insert("managedFields".into(), json!([{"manager": "kustomize-controller", "operation": "Apply"}]));
        let path = if k.4 {
            let ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("default").to_string();
            meta.insert("namespace".into(), json!(ns));
            format!("{}/namespaces/{ns}/{}/{name}", base(k.0, k.1), k.3)
        } else {
            format!("{}/{}/{name}", base(k.0, k.1), k.3)
        };
        self.objects.insert(path, obj);
        self
    }

    pub fn start(self) -> Running {
        self.start_with(None)
    }

    /// Serves HTTPS with the certificate chain and key given as PEM; with `client_ca`, only
    /// to clients presenting a certificate that CA signed (client certificate auth).
    pub fn start_tls(self, cert_pem: &[u8], key_pem: &[u8], client_ca: Option<&[u8]>) -> Running {
        let key = ureq::tls::PrivateKey::from_pem(key_pem).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.der().to_vec()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in ders(ca) {
                    roots.add(c).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        self.start_with(Some(Arc::new(builder.with_single_cert(ders(cert_pem), key).unwrap())))
    }

    fn start_with(self, tls: Option<Arc<rustls::ServerConfig>>) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let me = Arc::new(self);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (me, log, tls) = (me.clone(), log.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => me.serve(stream, &log),
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                        me.serve(rustls::StreamOwned::new(conn, stream), &log);
                    }
                });
            }
        });
        Running { url, requests }
    }

    fn serve<S: std::io::Read + Write>(&self, mut stream: S, log: &Mutex<Vec<Request>>) {
        let mut reader = BufReader::new(&mut stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let (mut auth, mut accept) = (None, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    auth = Some(v.trim().to_string());
                } else if k.eq_ignore_ascii_case("accept") {
                    accept = Some(v.trim().to_string());
                }
            }
        }
        drop(reader);
        log.lock().unwrap().push(Request {
            method: method.clone(),
            path: path.clone(),
            auth: auth.clone(),
            accept: accept.clone(),
        });
        std::thread::sleep(self.delay);
        let (status, mut body) = self.answer(&method, &path, auth.as_deref());
        // `as=PartialObjectMetadataList`: the items' metadata only, as a real server answers.
        if accept.is_some_and(|a| a.starts_with("application/json;as=PartialObjectMetadataList"))
            && let Some(items) = body.get_mut("items").and_then(Value::as_array_mut)
        {
            for item in items.iter_mut() {
                *item = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": item["metadata"].clone()});
            }
            body["kind"] = json!("PartialObjectMetadataList");
            body["apiVersion"] = json!("meta.k8s.io/v1");
        }
        let body = body.to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.flush();
    }

    fn answer(&self, method: &str, full: &str, auth: Option<&str>) -> (u16, Value) {
        let status = |code: u16, reason: &str, message: String| {
            (
                code,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
            )
        };
        if method != "GET" {
            return status(405, "MethodNotAllowed", format!("{method} is not allowed"));
        }
        if let Some(t) = &self.token
            && auth != Some(format!("Bearer {t}").as_str())
        {
            return status(401, "Unauthorized", "Unauthorized".into());
        }
        let (path, query) = full.split_once('?').unwrap_or((full, ""));
        if self.forbidden.iter().any(|f| path.starts_with(f.as_str())) {
            return status(403, "Forbidden", format!("User \"ci\" cannot get resource at {path}"));
        }
        if path == "/version" {
            return (
                200,
                json!({"major": "1", "minor": format!("{}+", self.minor),
                "gitVersion": format!("v1.{}.2-gke.1000", self.minor), "platform": "linux/amd64"}),
            );
        }
        if let Some(d) = self.discovery(path) {
            return (200, d);
        }
        if let Some(obj) = self.objects.get(path) {
            return (200, obj.clone());
        }
        match self.list(path, query) {
            Some(l) => (200, l),
            None => status(404, "NotFound", format!("{path} not found")),
        }
    }

    fn discovery(&self, path: &str) -> Option<Value> {
        if let Some(group) = path.strip_prefix("/apis/").filter(|g| !g.contains('/')) {
            let k = KINDS.iter().find(|k| k.0 == group)?;
            let gv = json!({"groupVersion": format!("{group}/{}", k.1), "version": k.1});
            return Some(
                json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}),
            );
        }
        let resources: Vec<Value> = KINDS
            .iter()
            .filter(|k| base(k.0, k.1) == path)
            .map(|k| json!({"name": k.3, "singularName": "", "namespaced": k.4, "kind": k.2, "verbs": ["get", "list"]}))
            .collect();
        (!resources.is_empty())
            .then(|| json!({"kind": "APIResourceList", "groupVersion": path, "resources": resources}))
    }

    /// A list at `path` (`<base>/<plural>` or `<base>/namespaces/<ns>/<plural>`).
    fn list(&self, path: &str, query: &str) -> Option<Value> {
        let k = KINDS.iter().find(|k| {
            let b = base(k.0, k.1);
            path == format!("{b}/{}", k.3)
                || (path.starts_with(&format!("{b}/namespaces/"))
                    && path.ends_with(&format!("/{}", k.3))
                    && path.matches('/').count() == b.matches('/').count() + 3)
        })?;
        let params: BTreeMap<&str, String> =
            query.split('&').filter_map(|p| p.split_once('=')).map(|(a, b)| (a, decode(b))).collect();
        let selector: Vec<(String, String)> = params
            .get("labelSelector")
            .map(|s| {
                s.split(',').filter_map(|t| t.split_once('=')).map(|(a, b)| (a.to_string(), b.to_string())).collect()
            })
            .unwrap_or_default();
        let b = base(k.0, k.1);
        let ns_prefix = path.strip_suffix(&format!("/{}", k.3)).unwrap().to_string();
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|(p, _)| {
                let rest = if ns_prefix == b {
                    p.strip_prefix(&format!("{b}/"))
                } else {
                    p.strip_prefix(&format!("{ns_prefix}/"))
                };
                rest.is_some_and(|r| {
                    let segs: Vec<&str> = r.split('/').collect();
                    (segs.len() == 2 && segs[0] == k.3)
                        || (ns_prefix == b && segs.len() == 4 && segs[0] == "namespaces" && segs[2] == k.3)
                })
            })
            .map(|(_, o)| o.clone())
            .filter(|o| selector.iter().all(|(l, v)| o["metadata"]["labels"][l].as_str() == Some(v.as_str())))
            .collect();
        let start: usize = params.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
        let limit: usize = params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(usize::MAX).min(2);
        let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
        let more = start + limit < items.len();
        let mut meta = json!({"resourceVersion": "9999"});
        if more {
            meta["continue"] = json!(format!("{}", start + limit));
        }
        Some(
            json!({"kind": format!("{}List", k.2), "apiVersion": if k.0.is_empty() { k.1.to_string() } else { format!("{}/{}", k.0, k.1) },
            "metadata": meta, "items": page}),
        )
    }
}

/// The certificates of a PEM bundle, as rustls takes them.
fn ders(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(rustls::pki_types::CertificateDer::from(c.der().to_vec())),
            _ => None,
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl Running {
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The read-only proof: every request the server received was a GET.
    pub fn assert_read_only(&self) {
        let reqs = self.requests();
        let writes: Vec<&Request> = reqs.iter().filter(|r| r.method != "GET").collect();
        assert!(writes.is_empty(), "fluxgate sent non-GET requests: {writes:?}");
    }
}

/// A CRD as a server lists it (status, managedFields and all), serving `versions`; each
/// version's schema requires `spec.<field>` of type `type_`.
pub fn crd(group: &str, kind: &str, plural: &str, versions: &[(&str, bool)], field: &str, type_: &str) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, (v, served))| {
            json!({"name": v, "served": served, "storage": i == 0,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "required": [field], "properties": {field: {"type": type_}}}}}}})
        })
        .collect();
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}"), "generation": 3},
        "spec": {"group": group, "scope": "Namespaced", "conversion": {"strategy": "None"},
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "versions": vs},
        "status": {"acceptedNames": {"kind": kind, "plural": plural}, "storedVersions": ["v1"],
            "conditions": [{"type": "Established", "status": "True"}]}})
}

/// A kubeconfig at `dir/kubeconfig` whose context `fake` reaches `url` with `user` (YAML of
/// the `user:` mapping), and whose context `other` uses a wrong token.
pub fn kubeconfig(dir: &std::path::Path, url: &str, user: &str) -> std::path::PathBuf {
    kubeconfig_with(dir, url, "", user)
}

/// [`kubeconfig`] with more fields of the cluster entry (`cluster` lines, indented 4).
pub fn kubeconfig_with(dir: &std::path::Path, url: &str, cluster: &str, user: &str) -> std::path::PathBuf {
    let p = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n{cluster}\
         users:\n- name: me\n  user:\n{user}\n- name: stranger\n  user:\n    token: wrong\n\
         contexts:\n- name: fake\n  context: {{cluster: fake, user: me}}\n- name: other\n  context: {{cluster: fake, user: stranger}}\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}
