//! Exec credential plugins (`users[].user.exec`, e.g. GKE's `gke-gcloud-auth-plugin`, AWS's
//! `aws eks get-token`, `kubelogin`): run the command with `KUBERNETES_EXEC_INFO` set, never
//! interactively, with a time limit, and read the token or client certificate from the
//! `ExecCredential` it prints.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::kubeconfig::ExecConfig;

/// What a plugin returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Issued {
    Token(String),
    ClientCert { cert: Vec<u8>, key: Vec<u8> },
}

#[derive(Deserialize)]
struct ExecCredential {
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// Runs the plugin and returns its credential. The plugin gets no stdin (non-interactive) and
/// is killed after `timeout`; its stderr is passed through to ours for its own messages.
/// `cluster` is the `spec.cluster` given to a plugin that asks for it (`provideClusterInfo`).
pub fn run(exec: &ExecConfig, cluster: Option<serde_json::Value>, timeout: Duration) -> Result<Issued, Error> {
    let api_version = exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1".into());
    let mut info = serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": false},
    });
    if let Some(c) = cluster.filter(|_| exec.provide_cluster_info) {
        info["spec"]["cluster"] = c;
    }
    let mut cmd = Command::new(&exec.command);
    cmd.args(&exec.args).env("KUBERNETES_EXEC_INFO", info.to_string());
    for e in &exec.env {
        cmd.env(&e.name, &e.value);
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().map_err(|e| {
        let hint =
            exec.install_hint.as_deref().map(|h| format!(" ({})", h.trim().replace('\n', " "))).unwrap_or_default();
        Error::Auth(format!("cannot run exec credential plugin '{}': {e}{hint}", exec.command))
    })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let status = match crate::source::process::wait_with_deadline(&mut child, timeout) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(Error::Auth(format!(
                "exec credential plugin '{}' did not finish within {}s",
                exec.command,
                timeout.as_secs()
            )));
        }
        Err(e) => return Err(Error::Auth(format!("exec credential plugin '{}': {e}", exec.command))),
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::Auth(format!("exec credential plugin '{}' failed ({status})", exec.command)));
    }
    parse(&out).map_err(|e| Error::Auth(format!("exec credential plugin '{}': {e}", exec.command)))
}

/// Reads an `ExecCredential` document.
fn parse(out: &[u8]) -> Result<Issued, String> {
    let cred: ExecCredential =
        serde_json::from_slice(out).map_err(|e| format!("its output is not an ExecCredential: {e}"))?;
    let s = cred.status.ok_or("its ExecCredential has no status")?;
    if let Some(t) = s.token.filter(|t| !t.is_empty()) {
        return Ok(Issued::Token(t));
    }
    match (s.client_certificate_data, s.client_key_data) {
        (Some(c), Some(k)) => Ok(Issued::ClientCert { cert: c.into_bytes(), key: k.into_bytes() }),
        _ => Err("its ExecCredential status has neither a token nor a client certificate and key".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_token_or_a_certificate_pair_is_read_from_the_status() {
        let t = parse(br#"{"kind":"ExecCredential","status":{"token":"t0k"}}"#).unwrap();
        assert_eq!(t, Issued::Token("t0k".into()));
        let c = parse(br#"{"status":{"clientCertificateData":"C","clientKeyData":"K"}}"#).unwrap();
        assert_eq!(c, Issued::ClientCert { cert: b"C".to_vec(), key: b"K".to_vec() });
        assert!(parse(br#"{"status":{}}"#).unwrap_err().contains("neither"));
        assert!(parse(b"nope").unwrap_err().contains("not an ExecCredential"));
    }

    #[test]
    fn a_missing_plugin_names_the_command_and_its_install_hint() {
        let exec = ExecConfig {
            command: "/nonexistent/gke-gcloud-auth-plugin".into(),
            install_hint: Some("gcloud components install gke-gcloud-auth-plugin".into()),
            ..ExecConfig::default()
        };
        let e = run(&exec, None, Duration::from_secs(5)).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/gke-gcloud-auth-plugin") && e.contains("gcloud components install"), "{e}");
    }

    #[test]
    fn a_plugin_gets_the_exec_info_and_its_env_and_is_killed_at_the_timeout() {
        let exec = ExecConfig {
            command: "sh".into(),
            args: vec![
                "-c".into(),
                r#"case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) printf '{"status":{"token":"%s"}}' "$T";; esac"#
                    .into(),
            ],
            env: vec![super::super::kubeconfig::EnvVar { name: "T".into(), value: "from-env".into() }],
            ..ExecConfig::default()
        };
        assert_eq!(run(&exec, None, Duration::from_secs(10)).unwrap(), Issued::Token("from-env".into()));
        let slow = ExecConfig { command: "sleep".into(), args: vec!["5".into()], ..ExecConfig::default() };
        let start = Instant::now();
        let e = run(&slow, None, Duration::from_millis(200)).unwrap_err().to_string();
        assert!(e.contains("did not finish within"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(4));
    }
}
