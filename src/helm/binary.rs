//! Finding the `helm` binary and running it safely. fluxgate drives helm rather than
//! reimplementing Go templates, so every helm process is treated as untrusted work on
//! untrusted input: a scrubbed environment (no user HOME, config, credentials, plugins or
//! kubeconfig), a private working directory, and a deadline after which it is killed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Environment variables passed through to helm: proxies and CA bundles, which a CI agent may
/// need to reach a registry. Nothing else of the caller's environment reaches helm.
const PASS_THROUGH: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// A helm binary that was found, and its version.
#[derive(Clone, Debug)]
pub struct Helm {
    pub path: PathBuf,
    /// `v4.1.4`, as `helm version` reports it.
    pub version: String,
}

/// Where to look for helm, in order: the config's `helm.binary`, the `FLUXGATE_HELM`
/// environment variable, then `PATH`. `None` when none of them names an executable file.
pub fn find(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = configured {
        return is_executable(p).then(|| p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("FLUXGATE_HELM").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("helm")).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A private home for helm processes: HOME, XDG and HELM_* directories, an empty plugins
/// directory and an empty repository config, all inside one temporary directory that is
/// removed when this value is dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> std::io::Result<Sandbox> {
        let dir = tempfile::Builder::new().prefix("fluxgate-helm-").tempdir()?;
        for sub in ["home", "cache", "config", "data", "plugins", "work"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        std::fs::write(dir.path().join("config/repositories.yaml"), "apiVersion: \"\"\nrepositories: []\n")?;
        Ok(Sandbox { dir })
    }

    /// A scratch directory for one job's files (values, pulled archives).
    pub fn scratch(&self) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new().prefix("job-").tempdir_in(self.dir.path().join("work"))
    }

    /// A helm command with the scrubbed environment and the sandbox as working directory.
    pub fn command(&self, helm: &Path) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(helm);
        c.env_clear();
        for k in PASS_THROUGH {
            if let Some(v) = std::env::var_os(k) {
                c.env(k, v);
            }
        }
        c.env("PATH", "/usr/bin:/bin")
            .env("HOME", d.join("home"))
            .env("XDG_CACHE_HOME", d.join("cache"))
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("HELM_CACHE_HOME", d.join("cache"))
            .env("HELM_CONFIG_HOME", d.join("config"))
            .env("HELM_DATA_HOME", d.join("data"))
            .env("HELM_PLUGINS", d.join("plugins"))
            .env("HELM_REPOSITORY_CONFIG", d.join("config/repositories.yaml"))
            .env("HELM_REPOSITORY_CACHE", d.join("cache/repository"))
            .env("HELM_REGISTRY_CONFIG", d.join("config/registry.json"))
            .env("KUBECONFIG", d.join("config/no-kubeconfig"))
            .current_dir(d.join("work"))
            .stdin(Stdio::null());
        c
    }
}

/// What one helm process produced.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion or until `timeout`, when it is killed (an error).
pub fn run(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start helm: {e}"))?;
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let status = match crate::source::process::wait_with_deadline(&mut child, timeout) {
        Ok(Some(s)) => s,
        Ok(None) => return Err(format!("helm did not finish within {}s and was stopped", timeout.as_secs())),
        Err(e) => return Err(format!("cannot wait for helm: {e}")),
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Output { success: status.success(), stdout, stderr })
}

/// The version helm reports (`v4.1.4`).
pub fn version(sandbox: &Sandbox, helm: &Path, timeout: Duration) -> Result<String, String> {
    let mut c = sandbox.command(helm);
    c.args(["version", "--template", "{{.Version}}"]);
    let o = run(c, timeout)?;
    if !o.success || o.stdout.trim().is_empty() {
        return Err(format!("`helm version` failed: {}", o.stderr.trim()));
    }
    Ok(o.stdout.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn environment_is_scrubbed_and_private() {
        let sb = Sandbox::new().unwrap();
        let c = sb.command(Path::new("/usr/bin/env"));
        let o = run(c, Duration::from_secs(10)).unwrap();
        assert!(o.success);
        let vars: Vec<&str> = o.stdout.lines().map(|l| l.split('=').next().unwrap_or("")).collect();
        assert!(vars.contains(&"HELM_PLUGINS"));
        assert!(!vars.contains(&"CARGO_MANIFEST_DIR"), "{vars:?}");
        let home = o.stdout.lines().find_map(|l| l.strip_prefix("HOME=")).unwrap();
        assert!(home.contains("fluxgate-helm-"), "{home}");
    }

    #[test]
    fn a_process_past_its_deadline_is_killed() {
        let mut c = Command::new("/bin/sleep");
        c.arg("5");
        let start = Instant::now();
        let e = run(c, Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("did not finish"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}
