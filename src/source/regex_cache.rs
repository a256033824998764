//! Regular expressions as kustomize uses them (patch target names, image names), made cheap:
//! the same patterns repeat across hundreds of overlays, and compiling one costs far more than
//! matching with it. Before this module, compiling the same patterns per overlay was a sixth
//! of a full `validate`'s CPU on the generated benchmark repositories. Most patterns are plain
//! names, matched here without a regex at all; the others are compiled once per run.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;

/// More distinct patterns than any real repository writes; past it the cache starts over, so
/// generated or hostile input cannot grow it without bound (a compiled regex and its match
/// caches weigh tens of kilobytes).
const MAX_ENTRIES: usize = 1024;

type Cache = HashMap<String, Result<Arc<Regex>, regex::Error>>;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The compiled form of `pattern`, or its compile error, as `Regex::new` gives them. Shared, not
/// cloned: a cloned `Regex` starts with an empty pool of match scratch space, which every
/// overlay would then allocate again.
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    if let Some(r) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return r.clone();
    }
    // Compile outside the lock: parallel renders do not queue behind one compile.
    let r = Regex::new(pattern).map(Arc::new);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= MAX_ENTRIES {
        cache.clear();
    }
    cache.entry(pattern.to_string()).or_insert(r).clone()
}

/// Whether `pattern`, read as a regular expression, is a plain name: letters, digits and
/// `-_/:` stand for themselves, and `.` for any one character but a line feed. Such a pattern
/// matches exactly the strings of its own length that [`plain_prefix`] accepts.
pub fn is_plain(pattern: &str) -> bool {
    pattern.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b':' | b'.'))
}

/// For a plain `pattern` ([`is_plain`]), the rest of `s` after the pattern matched its start,
/// or `None` when it does not: what the regex `^pattern` would consume, without compiling it.
pub fn plain_prefix<'s>(pattern: &str, s: &'s str) -> Option<&'s str> {
    let mut chars = s.char_indices();
    for p in pattern.bytes() {
        let (_, c) = chars.next()?;
        let ok = if p == b'.' { c != '\n' } else { c == p as char };
        if !ok {
            return None;
        }
    }
    Some(chars.next().map_or("", |(i, _)| &s[i..]))
}

/// A whole-string match as kustomize's selectors make it (`^(?:pattern)$`).
#[derive(Clone, Debug)]
pub enum Anchored {
    /// A plain name ([`is_plain`]), matched without a regex.
    Plain(String),
    Regex(Arc<Regex>),
}

impl Anchored {
    pub fn new(pattern: &str) -> Result<Anchored, regex::Error> {
        if is_plain(pattern) {
            return Ok(Anchored::Plain(pattern.to_string()));
        }
        compiled(&format!("^(?:{pattern})$")).map(Anchored::Regex)
    }

    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Anchored::Plain(p) => plain_prefix(p, s) == Some(""),
            Anchored::Regex(r) => r.is_match(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // The invalid pattern is the point: the cache must give `Regex::new`'s own error.
    #[allow(clippy::invalid_regex)]
    fn gives_what_regex_new_gives_and_compiles_once() {
        let a = compiled("^app-[0-9]+$").unwrap();
        let b = compiled("^app-[0-9]+$").unwrap();
        assert!(a.is_match("app-12") && !b.is_match("app-x"));
        assert!(Arc::ptr_eq(&a, &b));
        let bad = compiled("(unclosed").unwrap_err();
        assert_eq!(bad.to_string(), Regex::new("(unclosed").unwrap_err().to_string());
    }

    #[test]
    fn plain_names_match_as_their_regex_does() {
        let subjects = [
            "app",
            "app-1",
            "apps",
            "ap",
            "a.p",
            "appx",
            "xapp",
            "",
            "ap\n",
            "äpp",
            "registry.io/app",
            "registryxio/app",
        ];
        for pattern in ["app", "app-1", "a.p", "...", "registry.io/app", "my_app:v1", ""] {
            assert!(is_plain(pattern));
            let re = Regex::new(&format!("^(?:{pattern})$")).unwrap();
            let plain = Anchored::new(pattern).unwrap();
            assert!(matches!(plain, Anchored::Plain(_)));
            for s in subjects {
                assert_eq!(plain.is_match(s), re.is_match(s), "pattern {pattern:?} on {s:?}");
            }
        }
        for pattern in ["app|web", "app.*", "(a)", "a+", "[ab]", "a?", "\\d", "a{2}", "^a", "a$"] {
            assert!(!is_plain(pattern), "{pattern}");
            assert!(matches!(Anchored::new(pattern).unwrap(), Anchored::Regex(_)));
        }
        assert!(Anchored::new("app|web").unwrap().is_match("web"));
        assert_eq!(plain_prefix("a.c", "abc:1.2"), Some(":1.2"));
        assert_eq!(plain_prefix("a.c", "ab"), None);
    }
}
