//! The chart cache: a content-addressed directory of chart archives and rendered output, so a
//! CI agent downloads each chart once (`fluxgate charts pull` fills it ahead of time) and an
//! offline run (`--offline`) uses only what is there.
//!
//! Layout under the cache root:
//! - `charts/<key>/<chart>-<version>.tgz`, `<key>` = sha256 of (source URL, chart, version,
//!   digest): an archive is never overwritten by different content under the same key.
//! - `refs/<key>`: what a (source URL, chart, version constraint) last resolved to
//!   (`version`, `digest` lines), for exact versions without asking the repository and for
//!   offline runs.
//! - `renders/<key>.yaml`: `helm template` output keyed by chart digest, values and settings
//!   (never written for releases whose values come from a Secret).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cache key from parts that cannot run into each other.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().take(20).map(|b| format!("{b:02x}")).collect()
}

/// What a chart reference resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub version: String,
    pub digest: String,
}

/// The chart cache at one root directory.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the archive of (url, chart, version, digest) lives.
    pub fn archive_path(&self, url: &str, chart: &str, r: &Resolved) -> PathBuf {
        let name = format!("{}-{}.tgz", sanitize(chart), sanitize(&r.version));
        self.root.join("charts").join(key(&[url, chart, &r.version, &r.digest])).join(name)
    }

    /// The cached archive, if present and (when the digest is known) intact.
    pub fn archive(&self, url: &str, chart: &str, r: &Resolved) -> Option<PathBuf> {
        let p = self.archive_path(url, chart, r);
        let bytes = std::fs::read(&p).ok()?;
        (r.digest.is_empty() || sha256_hex(&bytes) == r.digest).then_some(p)
    }

    /// Stores an archive; returns its path.
    pub fn store_archive(&self, url: &str, chart: &str, r: &Resolved, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let p = self.archive_path(url, chart, r);
        write_atomic(&p, bytes)?;
        Ok(p)
    }

    fn ref_path(&self, kind: &str, url: &str, chart: &str, constraint: &str) -> PathBuf {
        self.root.join("refs").join(key(&[kind, url, chart, constraint]))
    }

    /// What a reference resolved to last time.
    pub fn get_ref(&self, kind: &str, url: &str, chart: &str, constraint: &str) -> Option<Resolved> {
        let text = std::fs::read_to_string(self.ref_path(kind, url, chart, constraint)).ok()?;
        let mut lines = text.lines();
        let version = lines.next()?.to_string();
        let digest = lines.next().unwrap_or("").to_string();
        (!version.is_empty()).then_some(Resolved { version, digest })
    }

    pub fn put_ref(&self, kind: &str, url: &str, chart: &str, constraint: &str, r: &Resolved) -> std::io::Result<()> {
        let text = format!("{}\n{}\n", r.version, r.digest);
        write_atomic(&self.ref_path(kind, url, chart, constraint), text.as_bytes())
    }

    fn render_path(&self, key: &str) -> PathBuf {
        self.root.join("renders").join(format!("{key}.yaml"))
    }

    pub fn get_render(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.render_path(key)).ok()
    }

    pub fn put_render(&self, key: &str, text: &str) -> std::io::Result<()> {
        write_atomic(&self.render_path(key), text.as_bytes())
    }
}

/// A file name part with only safe characters.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') { c } else { '_' }).collect()
}

/// Writes through a temporary file and a rename, so parallel runs never see half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("cache path without a directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_keyed_by_content_and_verified() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::new(d.path().to_path_buf());
        let bytes = b"chart bytes";
        let r = Resolved { version: "1.0.0".into(), digest: sha256_hex(bytes) };
        assert!(c.archive("http://x", "app", &r).is_none());
        let p = c.store_archive("http://x", "app", &r, bytes).unwrap();
        assert_eq!(c.archive("http://x", "app", &r), Some(p.clone()));
        std::fs::write(&p, b"tampered").unwrap();
        assert!(c.archive("http://x", "app", &r).is_none(), "a corrupt archive is not a hit");
        let other = Resolved { version: "1.0.0".into(), digest: "00".into() };
        assert_ne!(c.archive_path("http://x", "app", &other), p);
        c.put_ref("http", "http://x", "app", "1.x", &r).unwrap();
        assert_eq!(c.get_ref("http", "http://x", "app", "1.x"), Some(r));
        assert_eq!(c.get_ref("http", "http://x", "app", "2.x"), None);
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
    }
}
