//! The HTTP side: one `ureq` agent per run with the cluster's CA, client certificate and
//! timeouts, the bearer token in front of every request, list pagination, and API errors
//! mapped to [`Error`]. Its only request method is GET.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use super::Error;
use super::exec::{self, Issued};
use super::kubeconfig::{self, Credentials, Target};

/// How to find and talk to the cluster (the `--kubeconfig`, `--context` and timeout flags).
#[derive(Clone, Debug)]
pub struct Options {
    pub source: kubeconfig::Source,
    /// The limit of one request (connect, send, read) and of an exec plugin run.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { source: kubeconfig::Source::default(), timeout: Duration::from_secs(30) }
    }
}

/// Largest answer read (a page of CRDs can be several megabytes).
const MAX_BODY: u64 = 256 * 1024 * 1024;
/// Items asked per page of a list.
const PAGE: usize = 100;

/// A read-only client of one cluster.
pub struct Client {
    agent: ureq::Agent,
    target: Target,
    timeout: Duration,
    /// The `Authorization` header, when the credentials are a token (or basic auth).
    auth: Option<String>,
}

/// The server's version (`GET /version`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    /// `1.31`: the minor version fluxgate's schemas are chosen by.
    pub minor: String,
    /// `v1.31.4-gke.1256000` as the server says it.
    pub git_version: String,
}

impl Client {
    /// Resolves the cluster and its credentials (running an exec plugin if the user has one).
    /// Makes no request.
    pub fn connect(options: &Options) -> Result<Client, Error> {
        let target = kubeconfig::resolve(&options.source)?;
        Client::for_target(target, options.timeout)
    }

    /// A client of a resolved target.
    pub fn for_target(target: Target, timeout: Duration) -> Result<Client, Error> {
        let mut auth = None;
        let mut client_cert = None;
        match &target.credentials {
            Credentials::Anonymous => {}
            Credentials::Token(t) => auth = Some(format!("Bearer {t}")),
            Credentials::TokenFile(p) => {
                let t = std::fs::read_to_string(p)
                    .map_err(|e| Error::Auth(format!("cannot read token file {}: {e}", p.display())))?;
                auth = Some(format!("Bearer {}", t.trim()));
            }
            Credentials::Basic(u, p) => {
                use base64::Engine;
                auth = Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
            }
            Credentials::ClientCert { cert, key } => client_cert = Some(client_certificate(cert, key)?),
            Credentials::Exec(e) => match exec::run(e, Some(cluster_info(&target)), timeout)? {
                Issued::Token(t) => auth = Some(format!("Bearer {t}")),
                Issued::ClientCert { cert, key } => client_cert = Some(client_certificate(&cert, &key)?),
            },
        }
        let mut tls = TlsConfig::builder().client_cert(client_cert).disable_verification(target.insecure);
        if let Some(ca) = &target.ca {
            let certs = certificates(ca)
                .map_err(|e| Error::Config(format!("certificate-authority of {}: {e}", target.context)))?;
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls.build())
            .user_agent(concat!("fluxgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { agent, target, timeout, auth })
    }

    /// The context name (or `in-cluster`).
    pub fn context(&self) -> &str {
        &self.target.context
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.target.server
    }

    /// GET `path` (starting with `/`) as JSON.
    pub fn get(&self, path: &str) -> Result<Value, Error> {
        self.get_opt(path)?.ok_or_else(|| Error::Status { path: path.into(), status: 404, message: "not found".into() })
    }

    /// GET `path` as JSON; `None` when the server answers 404 (no such object or resource).
    pub fn get_opt(&self, path: &str) -> Result<Option<Value>, Error> {
        self.get_accepting(path, "application/json")
    }

    fn get_accepting(&self, path: &str, accept: &str) -> Result<Option<Value>, Error> {
        let url = format!("{}{path}", self.target.server);
        let mut req = self.agent.get(&url).header("Accept", accept);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|e| match e {
            ureq::Error::Timeout(_) => self.transport(e),
            e => Error::Decode { path: path.into(), detail: e.to_string() },
        })?;
        let message = || api_message(&body);
        match status {
            200..=299 => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| Error::Decode { path: path.into(), detail: e.to_string() }),
            401 => {
                Err(Error::Unauthorized { server: self.target.server.clone(), context: self.target.context.clone() })
            }
            403 => {
                Err(Error::Forbidden { path: path.into(), context: self.target.context.clone(), message: message() })
            }
            404 => Ok(None),
            _ => Err(Error::Status { path: path.into(), status, message: message() }),
        }
    }

    /// Every item of a list (`/api/v1/namespaces`, ...), following `continue` tokens.
    /// `label_selector` is passed as `labelSelector`.
    pub fn list(&self, path: &str, label_selector: Option<&str>) -> Result<Vec<Value>, Error> {
        self.list_accepting(path, label_selector, "application/json")
    }

    /// Like [`Client::list`], asking for the objects' metadata only (`PartialObjectMetadata`):
    /// a list of Secrets then carries no values. A server that cannot answer so sends whole
    /// objects, which callers read only the metadata of.
    pub fn list_metadata(&self, path: &str, label_selector: Option<&str>) -> Result<Vec<Value>, Error> {
        self.list_accepting(
            path,
            label_selector,
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
        )
    }

    fn list_accepting(&self, path: &str, label_selector: Option<&str>, accept: &str) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut cont: Option<String> = None;
        loop {
            let mut q = format!("{path}?limit={PAGE}");
            if let Some(sel) = label_selector {
                q.push_str(&format!("&labelSelector={}", encode(sel)));
            }
            if let Some(c) = &cont {
                q.push_str(&format!("&continue={}", encode(c)));
            }
            let Some(page) = self.get_accepting(&q, accept)? else { return Ok(items) };
            if let Some(list) = page.get("items").and_then(Value::as_array) {
                items.extend(list.iter().cloned());
            }
            cont =
                page.pointer("/metadata/continue").and_then(Value::as_str).filter(|c| !c.is_empty()).map(String::from);
            if cont.is_none() {
                return Ok(items);
            }
        }
    }

    /// The server's version.
    pub fn version(&self) -> Result<ServerVersion, Error> {
        let v = self.get("/version")?;
        let git_version = v.get("gitVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let major = v.get("major").and_then(Value::as_str).unwrap_or("");
        // GKE and EKS say `minor: "31+"`.
        let minor: String =
            v.get("minor").and_then(Value::as_str).unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
        let minor = if major.is_empty() || minor.is_empty() {
            git_version.trim_start_matches('v').split('.').take(2).collect::<Vec<_>>().join(".")
        } else {
            format!("{major}.{minor}")
        };
        if minor.split('.').count() != 2
            || !minor.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::Decode { path: "/version".into(), detail: format!("no Kubernetes version in {v}") });
        }
        Ok(ServerVersion { minor, git_version })
    }

    fn transport(&self, e: ureq::Error) -> Error {
        let (server, context) = (self.target.server.clone(), self.target.context.clone());
        match e {
            ureq::Error::Timeout(_) => Error::Timeout { server, context, secs: self.timeout.as_secs().max(1) },
            e => Error::Unreachable { server, context, detail: e.to_string() },
        }
    }
}

/// The `spec.cluster` of an `ExecCredential`: where the plugin's credential is for.
fn cluster_info(target: &Target) -> Value {
    use base64::Engine;
    let mut c = serde_json::json!({"server": target.server, "insecure-skip-tls-verify": target.insecure});
    if let Some(ca) = &target.ca {
        c["certificate-authority-data"] = Value::String(base64::engine::general_purpose::STANDARD.encode(ca));
    }
    c
}

/// The `message` of a Kubernetes `Status` answer, else the body's first line.
fn api_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| body.lines().next().unwrap_or("").chars().take(200).collect())
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| e.to_string())? {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(out)
}

fn client_certificate(cert: &[u8], key: &[u8]) -> Result<ClientCert, Error> {
    let certs = certificates(cert).map_err(|e| Error::Config(format!("client certificate: {e}")))?;
    let key = PrivateKey::from_pem(key).map_err(|e| Error::Config(format!("client key: {e}")))?;
    Ok(ClientCert::new_with_certs(&certs, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("kustomize.toolkit.fluxcd.io/name=apps"), "kustomize.toolkit.fluxcd.io%2Fname%3Dapps");
        assert_eq!(api_message(r#"{"kind":"Status","message":"nope"}"#), "nope");
        assert_eq!(api_message("plain\nmore"), "plain");
    }

    #[test]
    fn a_ca_that_is_not_pem_is_refused_with_the_context() {
        let target = Target {
            context: "c".into(),
            server: "https://k".into(),
            ca: Some(b"junk".to_vec()),
            insecure: false,
            credentials: Credentials::Anonymous,
        };
        let e = Client::for_target(target, Duration::from_secs(1)).err().unwrap().to_string();
        assert!(e.contains("certificate-authority of c"), "{e}");
    }
}
