//! Directory listings of the repository, read once per run and shared by every lookup.
//!
//! Why: asking the operating system whether a path stays inside the root (`canonicalize`)
//! costs one `readlink` per path component, and a `--base` run asks it tens of thousands of
//! times (every file probe of the dependency graph, every kustomization name probed). A
//! directory reached from the root through plain directories only (no symlink on the way)
//! holds, for each of its entries that is not a symlink, exactly the path the OS would
//! resolve: such a path cannot leave the root. So a lookup walks the cached listings from the
//! root; only when a component is a symlink (or of a type the listing cannot tell) does the
//! caller resolve the path with the OS, with every containment check it had before.
//!
//! The listings are a snapshot, like the file table of [`super::Repo`]: a run reads a tree
//! that does not change under it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use super::RelPath;

/// What a directory entry is, as its listing says (symlinks not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    /// A FIFO, socket or device.
    Other,
    /// A symlink, or an entry whose type or name the listing cannot give exactly (a name that
    /// is not UTF-8): only the OS can resolve it.
    Link,
}

/// One directory's entries, sorted by name.
#[derive(Debug, Default)]
pub struct Listing {
    entries: Vec<(String, Kind)>,
}

impl Listing {
    fn read(abs: &Path) -> std::io::Result<Listing> {
        let mut entries: Vec<(String, Kind)> = std::fs::read_dir(abs)?
            .filter_map(|e| e.ok())
            .map(|e| {
                let name = e.file_name();
                let kind = match (name.to_str(), e.file_type()) {
                    (None, _) | (_, Err(_)) => Kind::Link,
                    (Some(_), Ok(t)) if t.is_symlink() => Kind::Link,
                    (Some(_), Ok(t)) if t.is_dir() => Kind::Dir,
                    (Some(_), Ok(t)) if t.is_file() => Kind::File,
                    (Some(_), Ok(_)) => Kind::Other,
                };
                (name.to_string_lossy().into_owned(), kind)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Listing { entries })
    }

    /// The kind of the entry `name`, or `None` when the directory has no such entry.
    pub fn get(&self, name: &str) -> Option<Kind> {
        self.entries.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.entries[i].1)
    }

    /// Every entry, sorted by name.
    pub fn entries(&self) -> &[(String, Kind)] {
        &self.entries
    }
}

/// Where a repository path leads, as far as the listings tell.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// Every component is a plain entry of a plain directory: the path is inside the root
    /// and is exactly the on-disk path below the canonical root.
    Plain(Kind),
    /// No such entry (or a component on the way is not a directory).
    Missing,
    /// A component is a symlink, or a directory could not be listed: resolve with the OS.
    Indirect,
}

/// A directory's state in the cache: listed, or to be resolved by the OS.
#[derive(Clone, Debug)]
enum Dir {
    Listed(Arc<Listing>),
    Indirect,
}

/// The listings of the plain directories a run looked into, by repository path.
#[derive(Debug, Default)]
pub struct Listings {
    dirs: RwLock<HashMap<RelPath, Dir>>,
}

impl Listings {
    /// Where `p` leads; `root` is the canonical root directory.
    pub fn lookup(&self, root: &Path, p: &RelPath) -> Lookup {
        if p.is_root() {
            return Lookup::Plain(Kind::Dir);
        }
        match self.dir(root, &p.parent()) {
            Some(Dir::Listed(l)) => match l.get(p.file_name()) {
                Some(k) => Lookup::Plain(k),
                None => Lookup::Missing,
            },
            Some(Dir::Indirect) => Lookup::Indirect,
            None => Lookup::Missing,
        }
    }

    /// The listing of a plain directory (`None` when it is a plain directory that cannot be
    /// listed, or not a plain directory: then only the OS knows).
    pub fn listing(&self, root: &Path, dir: &RelPath) -> Option<Arc<Listing>> {
        match self.dir(root, dir)? {
            Dir::Listed(l) => Some(l),
            Dir::Indirect => None,
        }
    }

    /// The cached state of `dir`, listing it (and its ancestors) on first use; `None` when it
    /// does not exist or is not a directory.
    fn dir(&self, root: &Path, dir: &RelPath) -> Option<Dir> {
        if let Some(d) = self.dirs.read().unwrap_or_else(|e| e.into_inner()).get(dir) {
            return Some(d.clone());
        }
        let state = match self.lookup(root, dir) {
            Lookup::Plain(Kind::Dir) => {
                let abs = if dir.is_root() { root.to_path_buf() } else { root.join(dir.as_str()) };
                match Listing::read(&abs) {
                    Ok(l) => Dir::Listed(Arc::new(l)),
                    Err(_) => Dir::Indirect,
                }
            }
            Lookup::Plain(Kind::Link) | Lookup::Indirect => Dir::Indirect,
            Lookup::Plain(_) | Lookup::Missing => return None,
        };
        let mut dirs = self.dirs.write().unwrap_or_else(|e| e.into_inner());
        Some(dirs.entry(dir.clone()).or_insert(state).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    #[test]
    fn plain_paths_resolve_from_the_listings() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/k.yaml"), "x").unwrap();
        let l = Listings::default();
        assert!(matches!(l.lookup(&root, &rel("a/b/k.yaml")), Lookup::Plain(Kind::File)));
        assert!(matches!(l.lookup(&root, &rel("a/b")), Lookup::Plain(Kind::Dir)));
        assert!(matches!(l.lookup(&root, &rel("a/b/none.yaml")), Lookup::Missing));
        assert!(matches!(l.lookup(&root, &rel("a/b/k.yaml/x")), Lookup::Missing));
        assert!(matches!(l.lookup(&root, &rel("x/y/z")), Lookup::Missing));
        assert_eq!(l.listing(&root, &rel("a")).unwrap().entries(), &[("b".to_string(), Kind::Dir)]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_left_to_the_os() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/k.yaml"), "x").unwrap();
        symlink("real", root.join("inside")).unwrap();
        symlink("/", root.join("outside")).unwrap();
        symlink("/etc/passwd", root.join("real/leak.yaml")).unwrap();
        let l = Listings::default();
        assert!(matches!(l.lookup(&root, &rel("inside/k.yaml")), Lookup::Indirect));
        assert!(matches!(l.lookup(&root, &rel("outside/etc/passwd")), Lookup::Indirect));
        assert!(matches!(l.lookup(&root, &rel("real/leak.yaml")), Lookup::Plain(Kind::Link)));
        assert!(l.listing(&root, &rel("outside")).is_none());
    }
}
