//! Where the cluster is and who we are to it, resolved as kubectl resolves it: `--kubeconfig`,
//! else the files of `KUBECONFIG` merged (the first file to name a cluster, user or context
//! wins), else `~/.kube/config`, else the pod's service account (in-cluster). Only reads files;
//! credentials from exec plugins are fetched by [`super::exec`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Error;

/// One kubeconfig file as written (`clusters`, `users`, `contexts`, `current-context`).
#[derive(Clone, Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    clusters: Vec<Named<ClusterEntry>>,
    #[serde(default)]
    users: Vec<Named<UserEntry>>,
    #[serde(default)]
    contexts: Vec<Named<ContextEntry>>,
    #[serde(default, rename = "current-context")]
    current_context: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: Option<T>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ClusterEntry {
    server: Option<String>,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct UserEntry {
    token: Option<String>,
    #[serde(alias = "tokenFile")]
    token_file: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<String>,
    username: Option<String>,
    password: Option<String>,
    exec: Option<ExecConfig>,
    auth_provider: Option<AuthProvider>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct AuthProvider {
    name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct ContextEntry {
    cluster: String,
    #[serde(default)]
    user: String,
}

/// An exec credential plugin (`users[].user.exec`): a command that prints an `ExecCredential`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub install_hint: Option<String>,
    /// Pass the cluster's server and CA to the plugin in `KUBERNETES_EXEC_INFO`.
    #[serde(default)]
    pub provide_cluster_info: bool,
}

/// One `name`/`value` environment variable of an exec plugin.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// PEM bytes, read from a file or decoded from a kubeconfig's `*-data` field.
pub type Pem = Vec<u8>;

/// How requests prove who they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Anonymous,
    Token(String),
    /// Re-read on every connection, as the kubelet rotates it (`tokenFile`, service accounts).
    TokenFile(PathBuf),
    Basic(String, String),
    ClientCert {
        cert: Pem,
        key: Pem,
    },
    /// Run the plugin to get a token or a client certificate.
    Exec(ExecConfig),
}

/// Everything needed to talk to one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The context's name (or `in-cluster`), for messages.
    pub context: String,
    /// `https://host:port` with any path prefix, no trailing slash.
    pub server: String,
    /// The cluster's CA bundle; `None`: the system roots.
    pub ca: Option<Pem>,
    pub insecure: bool,
    pub credentials: Credentials,
}

/// Where the kubeconfig comes from and which context to use.
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// `--kubeconfig`: this file only.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: instead of the file's `current-context`.
    pub context: Option<String>,
}

/// The service account directory of a pod; `FLUXGATE_SERVICE_ACCOUNT_DIR` replaces it (tests).
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Resolves the target cluster from flags and the environment, as kubectl does.
pub fn resolve(source: &Source) -> Result<Target, Error> {
    let files: Vec<PathBuf> = match (&source.kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(f), _) => vec![f.clone()],
        (None, Some(list)) if !list.is_empty() => {
            std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect()
        }
        _ => home_config().into_iter().collect(),
    };
    let explicit = source.kubeconfig.is_some() || std::env::var_os("KUBECONFIG").is_some_and(|l| !l.is_empty());
    if files.is_empty() || (!explicit && !files[0].exists()) {
        if let Some(t) = in_cluster()? {
            return Ok(t);
        }
        return Err(Error::Config(
            "no kubeconfig: set KUBECONFIG, pass --kubeconfig FILE, or run inside a pod with a service account".into(),
        ));
    }
    let mut loaded = Vec::new();
    for f in &files {
        match std::fs::read_to_string(f) {
            Ok(text) => {
                loaded.push((f.clone(), parse(&text).map_err(|e| Error::Config(format!("{}: {e}", f.display())))?))
            }
            // kubectl skips missing files of KUBECONFIG, but not a file named by --kubeconfig.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && source.kubeconfig.is_none() && files.len() > 1 => {}
            Err(e) => return Err(Error::Config(format!("cannot read kubeconfig {}: {e}", f.display()))),
        }
    }
    select(&loaded, source.context.as_deref())
}

fn home_config() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".kube").join("config"))
}

/// Parses one kubeconfig file's YAML.
fn parse(text: &str) -> Result<File, String> {
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};
    let parsed = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
    if let Some(e) = parsed.error {
        return Err(format!("line {}: {}", e.loc.line, e.message));
    }
    match parsed.docs.first() {
        None => Ok(File::default()),
        Some(doc) if doc.is_null() => Ok(File::default()),
        Some(doc) => serde_json::from_value(doc.to_json()).map_err(|e| format!("not a kubeconfig: {e}")),
    }
}

/// Picks the context from the merged files and builds its target. Paths in a file are
/// relative to that file's directory.
fn select(files: &[(PathBuf, File)], context: Option<&str>) -> Result<Target, Error> {
    let name = match context {
        Some(c) => c.to_string(),
        None => files
            .iter()
            .find_map(|(_, f)| f.current_context.clone().filter(|c| !c.is_empty()))
            .ok_or_else(|| Error::Config("the kubeconfig has no current-context; pass --context NAME".into()))?,
    };
    let first = |pick: &dyn Fn(&File) -> Option<String>| files.iter().find_map(|(_, f)| pick(f));
    let ctx = files
        .iter()
        .find_map(|(_, f)| f.contexts.iter().find(|c| c.name == name).and_then(|c| c.value.clone()))
        .ok_or_else(|| {
            let known = first(&|f| Some(f.contexts.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ")));
            Error::Config(format!("context '{name}' is not in the kubeconfig (it has: {})", known.unwrap_or_default()))
        })?;
    let (cluster_dir, cluster) = files
        .iter()
        .find_map(|(p, f)| f.clusters.iter().find(|c| c.name == ctx.cluster).map(|c| (dir_of(p), c.value.clone())))
        .ok_or_else(|| {
            Error::Config(format!("context '{name}' names cluster '{}', which is not in the kubeconfig", ctx.cluster))
        })?;
    let cluster = cluster.unwrap_or_default();
    let server = cluster
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Config(format!("cluster '{}' of context '{name}' has no server", ctx.cluster)))?;
    let ca = pem(
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
        &cluster_dir,
        "certificate-authority",
    )?;
    let user = files.iter().find_map(|(p, f)| {
        f.users.iter().find(|u| u.name == ctx.user).map(|u| (dir_of(p), u.value.clone().unwrap_or_default()))
    });
    let credentials = match user {
        Some((dir, u)) => credentials(&u, &dir, &name)?,
        None if ctx.user.is_empty() => Credentials::Anonymous,
        None => {
            return Err(Error::Config(format!(
                "context '{name}' names user '{}', which is not in the kubeconfig",
                ctx.user
            )));
        }
    };
    Ok(Target {
        context: name,
        server: server.trim_end_matches('/').to_string(),
        ca,
        insecure: cluster.insecure_skip_tls_verify,
        credentials,
    })
}

fn dir_of(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A PEM from `*-data` (base64) or a file path (relative to the kubeconfig's directory).
fn pem(data: &Option<String>, file: &Option<String>, dir: &Path, what: &str) -> Result<Option<Pem>, Error> {
    use base64::Engine;
    if let Some(d) = data.as_deref().filter(|d| !d.is_empty()) {
        let clean: String = d.chars().filter(|c| !c.is_whitespace()).collect();
        return base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map(Some)
            .map_err(|e| Error::Config(format!("{what}-data is not base64: {e}")));
    }
    match file.as_deref().filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(f) => {
            let p = dir.join(f);
            std::fs::read(&p).map(Some).map_err(|e| Error::Config(format!("cannot read {what} {}: {e}", p.display())))
        }
    }
}

fn credentials(u: &UserEntry, dir: &Path, context: &str) -> Result<Credentials, Error> {
    if let Some(t) = u.token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Credentials::Token(t.to_string()));
    }
    if let Some(f) = u.token_file.as_deref().filter(|f| !f.is_empty()) {
        return Ok(Credentials::TokenFile(dir.join(f)));
    }
    let cert = pem(&u.client_certificate_data, &u.client_certificate, dir, "client-certificate")?;
    let key = pem(&u.client_key_data, &u.client_key, dir, "client-key")?;
    match (cert, key) {
        (Some(cert), Some(key)) => return Ok(Credentials::ClientCert { cert, key }),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Config(format!(
                "the user of context '{context}' has a client certificate or key but not both"
            )));
        }
        (None, None) => {}
    }
    if let Some(exec) = &u.exec {
        let mut exec = exec.clone();
        // A relative command path (`./plugin`) is relative to the kubeconfig, as in client-go.
        if exec.command.contains('/') && Path::new(&exec.command).is_relative() {
            exec.command = dir.join(&exec.command).to_string_lossy().into_owned();
        }
        return Ok(Credentials::Exec(exec));
    }
    if let (Some(user), Some(pass)) = (&u.username, &u.password) {
        return Ok(Credentials::Basic(user.clone(), pass.clone()));
    }
    if let Some(p) = &u.auth_provider {
        return Err(Error::Config(format!(
            "the user of context '{context}' uses auth-provider '{}', which kubectl dropped; use its exec plugin (GKE: gke-gcloud-auth-plugin, AKS: kubelogin)",
            p.name
        )));
    }
    Ok(Credentials::Anonymous)
}

/// The pod's own service account, when running inside a cluster.
fn in_cluster() -> Result<Option<Target>, Error> {
    let (Ok(host), Ok(port)) = (std::env::var("KUBERNETES_SERVICE_HOST"), std::env::var("KUBERNETES_SERVICE_PORT"))
    else {
        return Ok(None);
    };
    let dir = std::env::var_os("FLUXGATE_SERVICE_ACCOUNT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| SERVICE_ACCOUNT_DIR.into());
    let token = dir.join("token");
    if !token.exists() {
        return Err(Error::Config(format!(
            "KUBERNETES_SERVICE_HOST is set but the service account token {} does not exist (automountServiceAccountToken: false?)",
            token.display()
        )));
    }
    let ca = std::fs::read(dir.join("ca.crt")).ok();
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    Ok(Some(Target {
        context: "in-cluster".into(),
        server: format!("https://{host}:{port}"),
        ca,
        insecure: false,
        credentials: Credentials::TokenFile(token),
    }))
}

/// The contexts a kubeconfig text defines, in order (for tests and messages).
pub fn context_names(text: &str) -> Result<BTreeMap<String, String>, String> {
    let f = parse(text)?;
    Ok(f.contexts.into_iter().map(|c| (c.name, c.value.map(|v| v.cluster).unwrap_or_default())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example.com:6443/
    certificate-authority-data: LS0tLS1CRUdJTg==
- name: prod-cluster
  cluster:
    server: https://prod.example.com
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    token: abc
- name: gke
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/auth-plugin
      args: ["--flag"]
      env: [{name: A, value: b}]
      installHint: install it
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: apps}
- name: prod
  context: {cluster: prod-cluster, user: gke}
- name: broken
  context: {cluster: nowhere, user: dev-user}
"#;

    fn files() -> Vec<(PathBuf, File)> {
        vec![(PathBuf::from("/conf/kubeconfig"), parse(CONFIG).unwrap())]
    }

    #[test]
    fn current_context_picks_cluster_user_and_decodes_the_ca() {
        let t = select(&files(), None).unwrap();
        assert_eq!(t.context, "dev");
        assert_eq!(t.server, "https://dev.example.com:6443");
        assert_eq!(t.ca.as_deref(), Some(&b"-----BEGIN"[..]));
        assert_eq!(t.credentials, Credentials::Token("abc".into()));
        assert!(!t.insecure);
    }

    #[test]
    fn a_named_context_with_an_exec_plugin_resolves_its_path_against_the_file() {
        let t = select(&files(), Some("prod")).unwrap();
        assert!(t.insecure);
        let Credentials::Exec(e) = t.credentials else { panic!("not exec: {:?}", t.credentials) };
        assert_eq!(e.command, "/conf/./bin/auth-plugin");
        assert_eq!(e.args, ["--flag"]);
        assert_eq!(e.env, [EnvVar { name: "A".into(), value: "b".into() }]);
        assert_eq!(e.install_hint.as_deref(), Some("install it"));
    }

    #[test]
    fn unknown_contexts_and_clusters_are_named() {
        let e = select(&files(), Some("staging")).unwrap_err().to_string();
        assert!(e.contains("context 'staging' is not in the kubeconfig (it has: dev, prod, broken)"), "{e}");
        let e = select(&files(), Some("broken")).unwrap_err().to_string();
        assert!(e.contains("cluster 'nowhere'"), "{e}");
    }

    #[test]
    fn merged_files_take_the_first_definition_and_the_first_current_context() {
        let override_text = "current-context: prod\nusers:\n- name: gke\n  user: {token: first}\n";
        let mut all = vec![(PathBuf::from("/a/config"), parse(override_text).unwrap())];
        all.extend(files());
        let t = select(&all, None).unwrap();
        assert_eq!(t.context, "prod");
        assert_eq!(t.credentials, Credentials::Token("first".into()));
    }

    #[test]
    fn legacy_auth_providers_are_refused_with_the_replacement() {
        let text = "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: 'https://k'}}]\nusers: [{name: u, user: {auth-provider: {name: gcp}}}]\n";
        let e = select(&[(PathBuf::from("/k"), parse(text).unwrap())], None).unwrap_err().to_string();
        assert!(e.contains("auth-provider 'gcp'") && e.contains("gke-gcloud-auth-plugin"), "{e}");
        assert_eq!(context_names(text).unwrap().get("c").map(String::as_str), Some("k"));
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let e = parse("clusters: [\n  - a\n bad").unwrap_err();
        assert!(e.starts_with("line "), "{e}");
    }
}
