//! A Helm HTTP repository: its `index.yaml`, and which chart version a HelmRelease's
//! `chart.spec.version` selects. helm-controller (through source-controller) reads the
//! constraint with Masterminds semver and takes the highest matching version of the index;
//! an empty constraint means `*`. Pre-releases match only a constraint that names one.

use std::time::Duration;

use crate::source::yaml::{self, Dialect};
use crate::source::{FileId, Limits, Node};

/// Most bytes read from a repository index (large public indexes are tens of MB).
const MAX_INDEX_BYTES: u64 = 256 << 20;
/// Most bytes read for one chart archive.
pub const MAX_CHART_BYTES: u64 = 64 << 20;

/// One chart version listed in an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub version: String,
    /// Download URLs as written (absolute, or relative to the repository URL).
    pub urls: Vec<String>,
    /// `sha256` hex of the archive, when the index gives one.
    pub digest: Option<String>,
}

/// Parses an `index.yaml` and returns the versions of one chart.
pub fn chart_versions(index_text: &str, chart: &str) -> Result<Vec<IndexEntry>, String> {
    let limits = Limits { max_file_bytes: MAX_INDEX_BYTES, ..Limits::default() };
    let parsed = yaml::parse(index_text, FileId(u32::MAX), Dialect::Yaml12, &limits);
    if let Some(e) = parsed.error {
        return Err(format!("index.yaml does not parse: line {}: {}", e.loc.line, e.message));
    }
    let doc = parsed.docs.first().ok_or("index.yaml is empty")?;
    let Some(list) = doc.path(&["entries", chart]).and_then(Node::as_seq) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in list {
        let Some(version) = e.get("version").and_then(Node::scalar_text) else { continue };
        let urls = e
            .get("urls")
            .and_then(Node::as_seq)
            .map(|u| u.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let digest = e.str_at(&["digest"]).map(|d| d.trim_start_matches("sha256:").to_ascii_lowercase());
        out.push(IndexEntry { version, urls, digest });
    }
    Ok(out)
}

/// A version as Masterminds semver reads it: a leading `v` and missing minor/patch allowed.
pub fn parse_version(v: &str) -> Option<semver::Version> {
    let v = v.trim().trim_start_matches('v');
    if let Ok(x) = semver::Version::parse(v) {
        return Some(x);
    }
    // `1.2` / `1` / `1.2-rc.1`: pad the numeric core to three parts.
    let (core, rest) = match v.find(['-', '+']) {
        Some(i) => v.split_at(i),
        None => (v, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut padded: Vec<&str> = parts.clone();
    padded.resize(3, "0");
    semver::Version::parse(&format!("{}{rest}", padded.join("."))).ok()
}

/// A version constraint as helm-controller reads it (Masterminds syntax: space or comma
/// separated comparators, `||` alternatives, `1.2 - 1.4` hyphen ranges, `x`/`*` wildcards;
/// a bare version is an exact match).
#[derive(Clone, Debug)]
pub struct Constraint {
    alternatives: Vec<semver::VersionReq>,
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let text = text.trim();
        let text = if text.is_empty() { "*" } else { text };
        let mut alternatives = Vec::new();
        for alt in text.split("||") {
            let alt = alt.trim();
            let comparators: Vec<String> = match alt.split_once(" - ") {
                Some((lo, hi)) => vec![format!(">={}", lo.trim()), format!("<={}", hi.trim())],
                None => alt
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(|c| {
                        let bare = c.starts_with(|ch: char| ch.is_ascii_digit() || ch == 'v');
                        let c = c.replacen("v", "", usize::from(c.starts_with('v')));
                        if bare && !c.contains(['x', 'X', '*']) { format!("={c}") } else { c }
                    })
                    .collect(),
            };
            let joined = comparators.join(", ");
            let req = semver::VersionReq::parse(&joined)
                .map_err(|e| format!("version constraint '{text}' is not valid semver: {e}"))?;
            alternatives.push(req);
        }
        Ok(Constraint { alternatives })
    }

    pub fn matches(&self, v: &semver::Version) -> bool {
        self.alternatives.iter().any(|r| r.matches(v))
    }

    /// Whether the constraint names exactly one version (`1.2.3`), so a cached archive of that
    /// version can be used without asking the repository.
    pub fn exact(text: &str) -> Option<semver::Version> {
        let t = text.trim().trim_start_matches('=').trim();
        if t.contains([' ', ',', '|', '*', 'x', 'X', '^', '~', '<', '>']) {
            return None;
        }
        semver::Version::parse(t.trim_start_matches('v')).ok()
    }
}

/// The highest version of `entries` that `constraint` allows.
pub fn resolve<'e>(entries: &'e [IndexEntry], constraint: &str) -> Result<Option<&'e IndexEntry>, String> {
    let c = Constraint::parse(constraint)?;
    Ok(entries
        .iter()
        .filter_map(|e| parse_version(&e.version).map(|v| (v, e)))
        .filter(|(v, _)| c.matches(v))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, e)| e))
}

/// Joins a chart URL from the index with the repository URL when it is relative.
pub fn absolute_url(repo_url: &str, url: &str) -> String {
    if url.contains("://") {
        return url.to_string();
    }
    format!("{}/{}", repo_url.trim_end_matches('/'), url.trim_start_matches('/'))
}

/// The index URL of a repository.
pub fn index_url(repo_url: &str) -> String {
    format!("{}/index.yaml", repo_url.trim_end_matches('/'))
}

/// Fetches a URL with a deadline and a size bound.
pub fn fetch(url: &str, timeout: Duration, max_bytes: u64) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(true).build().into();
    let mut resp = agent.get(url).call().map_err(|e| format!("GET {url}: {e}"))?;
    resp.body_mut().with_config().limit(max_bytes).read_to_vec().map_err(|e| format!("GET {url}: {e}"))
}

/// Fetches and returns the index text of a repository.
pub fn fetch_index(repo_url: &str, timeout: Duration) -> Result<String, String> {
    let bytes = fetch(&index_url(repo_url), timeout, MAX_INDEX_BYTES)?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", index_url(repo_url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "apiVersion: v1\nentries:\n  app:\n    - version: 1.2.0\n      urls: [app-1.2.0.tgz]\n      digest: ab12\n    - version: 1.10.1\n      urls: [https://cdn.example/app-1.10.1.tgz]\n    - version: 2.0.0-rc.1\n      urls: [app-2.0.0-rc.1.tgz]\n    - version: v1.9\n      urls: [app-1.9.tgz]\n";

    fn pick(c: &str) -> Option<String> {
        let e = chart_versions(INDEX, "app").unwrap();
        resolve(&e, c).unwrap().map(|e| e.version.clone())
    }

    #[test]
    fn constraints_resolve_to_the_highest_match_like_masterminds() {
        assert_eq!(pick("").as_deref(), Some("1.10.1"));
        assert_eq!(pick("*").as_deref(), Some("1.10.1"));
        assert_eq!(pick("1.2.0").as_deref(), Some("1.2.0"));
        assert_eq!(pick("1.2.x").as_deref(), Some("1.2.0"));
        assert_eq!(pick(">=1.0.0 <1.10.0").as_deref(), Some("v1.9"));
        assert_eq!(pick("~1.9").as_deref(), Some("v1.9"));
        assert_eq!(pick("^1.2").as_deref(), Some("1.10.1"));
        assert_eq!(pick("1.2.0 - 1.9.5").as_deref(), Some("v1.9"));
        assert_eq!(pick("0.1.x || 1.2.0").as_deref(), Some("1.2.0"));
        assert_eq!(pick(">=2.0.0-0").as_deref(), Some("2.0.0-rc.1"));
        assert_eq!(pick("3.x"), None);
        assert!(resolve(&[], "not a version").is_err());
    }

    #[test]
    fn index_entries_and_urls() {
        let e = chart_versions(INDEX, "app").unwrap();
        assert_eq!(e[0].digest.as_deref(), Some("ab12"));
        assert_eq!(absolute_url("http://h/charts/", "app-1.2.0.tgz"), "http://h/charts/app-1.2.0.tgz");
        assert_eq!(absolute_url("http://h", "https://cdn.example/x.tgz"), "https://cdn.example/x.tgz");
        assert!(chart_versions(INDEX, "other").unwrap().is_empty());
        assert_eq!(Constraint::exact("1.2.3"), semver::Version::parse("1.2.3").ok());
        assert_eq!(Constraint::exact("1.2.x"), None);
    }
}
