//! Files of the repository under check: reading them (never outside the root), remembering
//! their text for snippets, and parsing YAML once per run however many overlays include it.

pub mod emit;
pub mod goyaml;
pub mod listing;
pub mod node;
pub mod path;
pub mod process;
pub mod regex_cache;
#[cfg(all(test, unix))]
mod repo_tests;
pub mod vars;
pub mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub use node::{Mapping, Node, NullForm, Value};
pub use path::RelPath;

/// Index of a file in the run's [`Repo`] file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A 1-based line:column position inside a repository file; `Loc::NONE` when a value has no
/// source (synthesised by fluxgate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

impl Default for Loc {
    fn default() -> Self {
        Loc::NONE
    }
}

impl Loc {
    pub const NONE: Loc = Loc { file: FileId(u32::MAX), line: 0, col: 0 };

    pub fn new(file: FileId, line: u32, col: u32) -> Self {
        Loc { file, line, col }
    }

    pub fn is_none(&self) -> bool {
        self.file.0 == u32::MAX
    }

    /// This location if it is known, else `other`.
    pub fn or(self, other: Loc) -> Loc {
        if self.is_none() { other } else { self }
    }
}

/// One file read from the repository: its path relative to the root and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub id: FileId,
    pub path: RelPath,
    pub text: String,
}

impl SourceFile {
    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        yaml_lines(&self.text).nth(line.checked_sub(1)? as usize)
    }
}

/// The lines of a text as the YAML parser counts them: LF, CRLF and a lone CR each end a line.
/// `str::lines` splits on LF only, so a file with old Mac line endings would be one line to
/// the snippets and many to the locations (found by fuzzing).
pub fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.find(['\r', '\n']) {
            Some(i) => {
                let skip = if r[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&r[i + skip..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Why a file could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    #[error("path '{0}' is outside the repository root")]
    OutsideRoot(String),
    #[error("'{0}' does not exist")]
    NotFound(String),
    /// The file is not text; `at` locates the first invalid byte in the file (which is kept,
    /// decoded lossily, in the file table so the finding can show the line).
    #[error("'{path}' is not valid UTF-8 text (invalid byte at line {}, column {})", at.line, at.col)]
    NotUtf8 { path: String, at: Loc },
    #[error("'{path}' is {size} bytes, over the {limit}-byte limit")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("cannot read '{0}': {1}")]
    Io(String, String),
}

/// A file that is not UTF-8: its lossy text and the 1-based line and column of the first
/// invalid byte.
struct NotText {
    lossy: String,
    line: u32,
    col: u32,
}

impl NotText {
    fn of(bytes: &[u8], valid_up_to: usize) -> NotText {
        let head = String::from_utf8_lossy(&bytes[..valid_up_to]);
        let (mut line, mut col) = (0u32, 1u32);
        for l in yaml_lines(&head) {
            line += 1;
            col = l.chars().count() as u32 + 1;
        }
        NotText { lossy: String::from_utf8_lossy(bytes).into_owned(), line: line.max(1), col }
    }
}

/// Reads at most `limit` bytes; `None` when the file holds more (it grew after its size was
/// checked, or reports a wrong size, as some special files do).
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    // Room for a typical manifest up front: no size probe (`fstat`) and no regrowth.
    let mut out = Vec::with_capacity(16 << 10);
    let within = read_bounded_into(path, limit, &mut out)?;
    // The file table keeps the text for the whole run: not the 16 KiB of room around it.
    out.shrink_to_fit();
    Ok(within.then_some(out))
}

/// [`read_bounded`] into `buf` (cleared first): whether the file held at most `limit` bytes.
fn read_bounded_into(path: &Path, limit: u64, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(buf)?;
    Ok(buf.len() as u64 <= limit)
}

/// Bounds on what one file may cost; crossing one is a located finding, not a crash.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_alias_expansion: usize,
    pub max_depth: usize,
    pub max_documents: usize,
    /// Nodes one object may grow to through patches (a JSON 6902 `copy` doubling it each time).
    pub max_object_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 32 << 20,
            max_alias_expansion: 100_000,
            max_depth: 256,
            max_documents: 50_000,
            max_object_nodes: 1_000_000,
        }
    }
}

/// The repository being checked: the root directory, the table of files read so far, and the
/// cache of parsed YAML. Shared (by reference) across all parallel renders of one run.
pub struct Repo {
    root: PathBuf,
    canonical_root: PathBuf,
    pub limits: Limits,
    files: RwLock<Vec<Arc<SourceFile>>>,
    by_path: Mutex<HashMap<RelPath, Result<FileId, ReadError>>>,
    parsed: Mutex<HashMap<FileId, Arc<yaml::Parsed>>>,
    /// Readers of a file's parse not yet served, for the files whose readers a caller counted
    /// up front ([`Repo::expect_parse_user`]); the others stay parsed for the run.
    parse_users: Mutex<HashMap<RelPath, usize>>,
    listings: listing::Listings,
}

/// Where a repository path leads: a plain entry (its on-disk path is the root joined with it),
/// or the canonical path the OS resolved it to (through a symlink, still inside the root).
enum Located {
    Plain(listing::Kind),
    Canonical(PathBuf),
}

impl Repo {
    /// Opens a repository rooted at `root` (which must be a directory).
    pub fn open(root: &Path) -> std::io::Result<Repo> {
        let canonical_root = root.canonicalize()?;
        if !canonical_root.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a directory", root.display())));
        }
        Ok(Repo {
            root: root.to_path_buf(),
            canonical_root,
            limits: Limits::default(),
            files: RwLock::new(Vec::new()),
            by_path: Mutex::new(HashMap::new()),
            parsed: Mutex::new(HashMap::new()),
            parse_users: Mutex::new(HashMap::new()),
            listings: listing::Listings::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute on-disk path of a repository path.
    pub fn abs(&self, p: &RelPath) -> PathBuf {
        if p.as_str().is_empty() { self.canonical_root.clone() } else { self.canonical_root.join(p.as_str()) }
    }

    /// Turns an on-disk path (e.g. from the command line) into a repository path, or `None`
    /// when it is outside the root.
    pub fn rel_of(&self, p: &Path) -> Option<RelPath> {
        let c = p.canonicalize().ok()?;
        let r = c.strip_prefix(&self.canonical_root).ok()?;
        Some(RelPath::from_components(r.components().map(|c| c.as_os_str().to_string_lossy().into_owned())))
    }

    /// Where `p` leads: from the cached directory listings when no component is a symlink
    /// (no system call once its directory is listed), else resolved by the OS ([`Repo::contained`]).
    fn locate(&self, p: &RelPath) -> Result<Located, ReadError> {
        match self.listings.lookup(&self.canonical_root, p) {
            listing::Lookup::Plain(listing::Kind::Link) | listing::Lookup::Indirect => {
                self.contained(p).map(Located::Canonical)
            }
            listing::Lookup::Plain(kind) => Ok(Located::Plain(kind)),
            listing::Lookup::Missing => Err(ReadError::NotFound(p.to_string())),
        }
    }

    /// Checks that `p` (after following symlinks) stays inside the root.
    fn contained(&self, p: &RelPath) -> Result<PathBuf, ReadError> {
        let abs = self.abs(p);
        match abs.canonicalize() {
            Ok(c) if c.starts_with(&self.canonical_root) => Ok(c),
            Ok(_) => Err(ReadError::OutsideRoot(p.to_string())),
            // A symlink that does not resolve: dangling, or a loop (`a -> b -> a`).
            Err(_) if std::fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink()) => Err(ReadError::Io(
                p.to_string(),
                "it is a symlink that resolves to nothing (dangling, or a symlink loop)".into(),
            )),
            Err(_) => Err(ReadError::NotFound(p.to_string())),
        }
    }

    pub fn is_dir(&self, p: &RelPath) -> bool {
        match self.locate(p) {
            Ok(Located::Plain(kind)) => kind == listing::Kind::Dir,
            Ok(Located::Canonical(c)) => c.is_dir(),
            Err(_) => false,
        }
    }

    pub fn is_file(&self, p: &RelPath) -> bool {
        match self.locate(p) {
            Ok(Located::Plain(kind)) => kind == listing::Kind::File,
            Ok(Located::Canonical(c)) => c.is_file(),
            Err(_) => false,
        }
    }

    /// Entries of a directory inside the root, sorted by name.
    pub fn list_dir(&self, p: &RelPath) -> Result<Vec<(String, bool)>, ReadError> {
        let c = match self.locate(p)? {
            Located::Plain(listing::Kind::Dir) => match self.listings.listing(&self.canonical_root, p) {
                Some(l) => {
                    let mut out: Vec<(String, bool)> =
                        l.entries().iter().map(|(n, k)| (n.clone(), *k == listing::Kind::Dir)).collect();
                    out.sort();
                    return Ok(out);
                }
                None => self.abs(p),
            },
            // Not a directory: the OS says why, in the words it always did.
            Located::Plain(_) => self.abs(p),
            Located::Canonical(c) => c,
        };
        let rd = std::fs::read_dir(&c).map_err(|e| ReadError::Io(p.to_string(), e.to_string()))?;
        let mut out: Vec<(String, bool)> = rd
            .filter_map(|e| e.ok())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                // Symlinks are not followed when listing: no loops, no escapes.
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                (name, is_dir)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Reads a file once per run; later calls return the same [`SourceFile`].
    pub fn read(&self, p: &RelPath) -> Result<Arc<SourceFile>, ReadError> {
        if let Some(r) = self.by_path.lock().unwrap_or_else(|e| e.into_inner()).get(p) {
            return r.clone().map(|id| self.file(id));
        }
        // Read outside the lock so parallel renders do not queue behind disk I/O.
        let result = self.read_uncached(p);
        let mut by_path = self.by_path.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = by_path.get(p) {
            return r.clone().map(|id| self.file(id));
        }
        let push = |text: String| {
            let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
            let id = FileId(files.len() as u32);
            files.push(Arc::new(SourceFile { id, path: p.clone(), text }));
            id
        };
        let stored = match result {
            Ok(Ok(text)) => Ok(push(text)),
            // Kept (lossily) so the finding can point at the line of the first invalid byte.
            Ok(Err(NotText { lossy, line, col })) => {
                let id = push(lossy);
                Err(ReadError::NotUtf8 { path: p.to_string(), at: Loc::new(id, line, col) })
            }
            Err(e) => Err(e),
        };
        by_path.insert(p.clone(), stored.clone());
        drop(by_path);
        stored.map(|id| self.file(id))
    }

    /// Reads a regular file inside the root, within the size limit. FIFOs, devices and
    /// sockets are refused without opening them: reading one could block the run forever.
    fn read_uncached(&self, p: &RelPath) -> Result<Result<String, NotText>, ReadError> {
        let bytes = self.read_raw(p)?;
        Ok(String::from_utf8(bytes).map_err(|e| NotText::of(e.as_bytes(), e.utf8_error().valid_up_to())))
    }

    /// The bytes of a regular file inside the root, within the size limit (uncached).
    fn read_raw(&self, p: &RelPath) -> Result<Vec<u8>, ReadError> {
        let c = match self.locate(p)? {
            // A regular file by its listing: no `stat` before the read; the size is asked
            // only when the read crosses the limit (for the message).
            Located::Plain(listing::Kind::File) => {
                let abs = self.abs(p);
                return match read_bounded(&abs, self.limits.max_file_bytes) {
                    Ok(Some(bytes)) => Ok(bytes),
                    Ok(None) => Err(ReadError::TooLarge {
                        path: p.to_string(),
                        size: std::fs::metadata(&abs).map_or(self.limits.max_file_bytes + 1, |m| m.len()),
                        limit: self.limits.max_file_bytes,
                    }),
                    Err(e) => Err(ReadError::Io(p.to_string(), e.to_string())),
                };
            }
            Located::Plain(_) => self.abs(p),
            Located::Canonical(c) => c,
        };
        let meta = std::fs::metadata(&c).map_err(|e| ReadError::Io(p.to_string(), e.to_string()))?;
        if meta.is_dir() {
            return Err(ReadError::Io(p.to_string(), "is a directory".into()));
        }
        if !meta.is_file() {
            return Err(ReadError::Io(p.to_string(), "not a regular file (a FIFO, socket or device)".into()));
        }
        if meta.len() > self.limits.max_file_bytes {
            return Err(ReadError::TooLarge {
                path: p.to_string(),
                size: meta.len(),
                limit: self.limits.max_file_bytes,
            });
        }
        read_bounded(&c, self.limits.max_file_bytes)
            .map_err(|e| ReadError::Io(p.to_string(), e.to_string()))?
            .ok_or_else(|| ReadError::TooLarge {
                path: p.to_string(),
                size: self.limits.max_file_bytes + 1,
                limit: self.limits.max_file_bytes,
            })
    }

    /// Looks at the bytes of a regular file that its directory listing shows (no symlink on
    /// the way), within the size limit, without entering the file table: for scans of many
    /// files that keep nothing (discovery). The bytes are read into a buffer the thread reuses,
    /// so a scan of every YAML file of the repository allocates once per thread, not per file.
    /// `None` for anything else (missing, a symlink, a special file, over the limit,
    /// unreadable): the caller then goes through [`Repo::read`] and its checks.
    pub fn peek_with<R>(&self, p: &RelPath, look: impl FnOnce(&[u8]) -> R) -> Option<R> {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let listing::Lookup::Plain(listing::Kind::File) = self.listings.lookup(&self.canonical_root, p) else {
            return None;
        };
        BUFFER.with(|b| {
            // A re-entrant look (none today) gets a buffer of its own instead of a panic.
            let mut own = Vec::new();
            let mut borrowed = b.try_borrow_mut();
            let buf = borrowed.as_deref_mut().unwrap_or(&mut own);
            let within = read_bounded_into(&self.abs(p), self.limits.max_file_bytes, buf).ok()?;
            let out = within.then(|| look(buf));
            // A rare large file does not pin its size for the rest of the run.
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
            out
        })
    }

    /// The raw bytes of a file inside the root (e.g. a binary file for a generator), with
    /// the same containment, file-type and size checks as [`Repo::read`].
    pub fn read_bytes(&self, p: &RelPath) -> Result<Vec<u8>, ReadError> {
        match self.read(p) {
            Ok(f) => Ok(f.text.clone().into_bytes()),
            // Not text: the cache kept a lossy copy for locations; read the exact bytes.
            Err(ReadError::NotUtf8 { .. }) => self.read_raw(p),
            Err(e) => Err(e),
        }
    }

    /// The file with this id. Panics only on an id not issued by this repo (a programming error).
    pub fn file(&self, id: FileId) -> Arc<SourceFile> {
        self.files.read().unwrap_or_else(|e| e.into_inner())[id.0 as usize].clone()
    }

    /// The file for a location, if it has one.
    pub fn file_of(&self, loc: Loc) -> Option<Arc<SourceFile>> {
        if loc.is_none() {
            return None;
        }
        self.files.read().unwrap_or_else(|e| e.into_inner()).get(loc.file.0 as usize).cloned()
    }

    /// Parses a YAML file (cached per run) with the resource rules (Go yaml.v3).
    pub fn load_yaml(&self, p: &RelPath) -> Result<Arc<yaml::Parsed>, ReadError> {
        let f = self.read(p)?;
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = parsed.get(&f.id) {
            return Ok(r.clone());
        }
        drop(parsed);
        let r = Arc::new(yaml::parse(&f.text, f.id, yaml::Dialect::Yaml12, &self.limits));
        // Every counted reader served already: nobody is expected to read this parse again.
        if self.parse_users.lock().unwrap_or_else(|e| e.into_inner()).get(p) != Some(&0) {
            parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
            parsed.insert(f.id, r.clone());
        }
        Ok(r)
    }

    /// Counts one more expected reader of a file's parse (a kustomization listing the file).
    /// Once every counted reader is served ([`Repo::parse_served`]) the parse is dropped, so
    /// the cache holds the files still to be read rather than the whole repository; a reader
    /// the count missed parses the file again, with the same result.
    pub fn expect_parse_user(&self, p: &RelPath) {
        *self.parse_users.lock().unwrap_or_else(|e| e.into_inner()).entry(p.clone()).or_default() += 1;
    }

    /// One counted reader of a file's parse is done with it; the last drops the parse.
    pub fn parse_served(&self, p: &RelPath) {
        let last = {
            let mut users = self.parse_users.lock().unwrap_or_else(|e| e.into_inner());
            match users.get_mut(p) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    *n == 0
                }
                _ => false,
            }
        };
        let id = match self.by_path.lock().unwrap_or_else(|e| e.into_inner()).get(p) {
            Some(Ok(id)) if last => *id,
            _ => return,
        };
        self.parsed.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}
