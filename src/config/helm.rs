//! The `helm:` section (and the `--chart-cache` / `--offline` flags): the helm binary, the
//! chart cache, timeouts, and what a chart that cannot be had is.

use std::path::PathBuf;
use std::time::Duration;

use super::Level;
use crate::source::Node;

/// The `helm:` section of `.fluxgate.yaml` (and the `--chart-cache` / `--offline` flags).
#[derive(Clone, Debug)]
pub struct HelmConfig {
    /// `helm.binary`: the helm executable (else `FLUXGATE_HELM`, else `PATH`).
    pub binary: Option<PathBuf>,
    /// `helm.cache` / `--chart-cache`: the chart cache directory (default: the user's cache dir).
    pub cache: Option<PathBuf>,
    /// `helm.timeout`: the longest one helm process or download may take.
    pub timeout: Duration,
    /// `helm.unavailable`: what a chart that cannot be fetched is.
    pub unavailable: Level,
    /// `helm.offline` / `--offline`: use only the chart cache, never the network.
    pub offline: bool,
}

impl Default for HelmConfig {
    fn default() -> Self {
        HelmConfig {
            binary: None,
            cache: None,
            timeout: Duration::from_secs(120),
            unavailable: Level::Warning,
            offline: false,
        }
    }
}

impl HelmConfig {
    /// Parses the `helm:` map; unknown keys are errors (line, message).
    pub fn parse(v: &Node) -> Result<HelmConfig, (u32, String)> {
        let m = v.as_map().ok_or((v.loc.line, "'helm' must be a map".to_string()))?;
        let mut c = HelmConfig::default();
        for (k, x) in m {
            let line = x.loc.line;
            match k.as_str() {
                "binary" => {
                    c.binary = Some(PathBuf::from(x.as_str().ok_or((line, "'helm.binary' must be a path".into()))?));
                }
                "cache" => {
                    c.cache = Some(PathBuf::from(x.as_str().ok_or((line, "'helm.cache' must be a path".into()))?));
                }
                "timeout" => {
                    c.timeout = parse_duration(x).ok_or((line, "'helm.timeout' must be like 90s or 2m".into()))?
                }
                "unavailable" => {
                    c.unavailable = match x.as_str() {
                        Some("error") => Level::Error,
                        Some("warning") => Level::Warning,
                        Some("off") => Level::Off,
                        _ => return Err((line, "'helm.unavailable' must be error, warning or off".into())),
                    }
                }
                "offline" => c.offline = x.as_bool().ok_or((line, "'helm.offline' must be true or false".into()))?,
                other => return Err((line, format!("unknown setting 'helm.{other}'"))),
            }
        }
        Ok(c)
    }

    /// The chart cache root in effect; a relative `helm.cache` is relative to `root`.
    pub fn cache_root(&self, root: &std::path::Path) -> PathBuf {
        match &self.cache {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => root.join(p),
            None => default_cache_root(),
        }
    }
}

/// `90s`, `2m`, `1h` or a number of seconds.
fn parse_duration(v: &Node) -> Option<Duration> {
    if let Some(i) = v.as_i64() {
        return u64::try_from(i).ok().filter(|s| *s > 0).map(Duration::from_secs);
    }
    let s = v.as_str()?.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

/// The default cache root: `$XDG_CACHE_HOME/fluxgate`, else `~/.cache/fluxgate`, else a
/// directory under the system temp dir.
pub fn default_cache_root() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("fluxgate");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("fluxgate");
    }
    std::env::temp_dir().join("fluxgate-cache")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn cfg(text: &str) -> Result<HelmConfig, (u32, String)> {
        let p = parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        HelmConfig::parse(&p.docs[0])
    }

    #[test]
    fn config_section() {
        let c = cfg("binary: /opt/helm\ncache: .charts\ntimeout: 2m\nunavailable: error\noffline: true\n").unwrap();
        assert_eq!(c.binary, Some(PathBuf::from("/opt/helm")));
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert_eq!(c.unavailable, Level::Error);
        assert!(c.offline);
        assert_eq!(c.cache_root(std::path::Path::new("/r")), PathBuf::from("/r/.charts"));
        assert!(cfg("timeout: soon\n").is_err());
        assert!(cfg("binaryy: x\n").unwrap_err().1.contains("helm.binaryy"));
    }
}
