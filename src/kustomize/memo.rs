//! The engine's memo of built bases, and how long it keeps each one.
//!
//! A base is built once and shared by every kustomization that lists it. Kept for the whole
//! run, the memo would hold every base of the repository at the end, so memory would grow with
//! the repository rather than with the largest render. A caller that knows every
//! kustomization of the run ([`BaseMemo::expect_users`]) has each directory's users counted up
//! front (the kustomizations that list it under `resources`); a base is dropped when its last
//! counted user has read it. A user the count missed (a component listing it, a directory
//! built again later) builds it once more, with the same result: the count only ever costs
//! time, never changes a render. Without counts every base is kept, as before.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Built values by key (`(schema key, directory)`), with the expected number of users left
/// for each directory.
pub(super) struct BaseMemo<D, V> {
    built: Mutex<HashMap<(String, D), V>>,
    /// Users not yet served, by directory; a directory with no entry is kept for the run.
    users: Mutex<HashMap<D, usize>>,
}

impl<D: Clone + Eq + Hash, V: Clone> BaseMemo<D, V> {
    pub(super) fn new() -> Self {
        BaseMemo { built: Mutex::new(HashMap::new()), users: Mutex::new(HashMap::new()) }
    }

    /// Counts one more expected user of `dir` (one kustomization listing it).
    pub(super) fn expect_user(&self, dir: D) {
        *self.users.lock().unwrap_or_else(|e| e.into_inner()).entry(dir).or_default() += 1;
    }

    /// The memoised build of `dir` under `schema`, if it is held.
    pub(super) fn get(&self, schema: &str, dir: &D) -> Option<V> {
        self.built.lock().unwrap_or_else(|e| e.into_inner()).get(&(schema.to_string(), dir.clone())).cloned()
    }

    /// Memoises a build, unless every counted user of its directory has been served already
    /// (an extra user built it again: nobody is expected to read it after).
    pub(super) fn insert(&self, schema: &str, dir: &D, value: V) {
        if self.users.lock().unwrap_or_else(|e| e.into_inner()).get(dir) == Some(&0) {
            return;
        }
        self.built.lock().unwrap_or_else(|e| e.into_inner()).insert((schema.to_string(), dir.clone()), value);
    }

    /// Takes a build out of the memo (its last user, by the caller's knowledge).
    pub(super) fn take(&self, schema: &str, dir: &D) -> Option<V> {
        self.built.lock().unwrap_or_else(|e| e.into_inner()).remove(&(schema.to_string(), dir.clone()))
    }

    /// One counted user of `dir` has read its build: the last one drops it from the memo and
    /// gets it back, if it was held.
    pub(super) fn served(&self, schema: &str, dir: &D) -> Option<V> {
        let last = {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            match users.get_mut(dir) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    *n == 0
                }
                _ => false,
            }
        };
        if last { self.take(schema, dir) } else { None }
    }

    /// How many builds the memo holds (for tests of how long it keeps them).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.built.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_base_is_dropped_after_its_last_user_and_an_uncounted_one_is_kept() {
        let memo: BaseMemo<&str, u32> = BaseMemo::new();
        memo.expect_user("base");
        memo.expect_user("base");
        memo.insert("", &"base", 1);
        memo.insert("", &"other", 2);
        assert_eq!(memo.served("", &"base"), None);
        assert_eq!(memo.get("", &"base"), Some(1));
        assert_eq!(memo.served("", &"base"), Some(1));
        assert_eq!(memo.get("", &"base"), None);
        // A user the count missed builds it again; nobody is expected after it.
        memo.insert("", &"base", 1);
        assert_eq!(memo.served("", &"base"), None);
        assert_eq!(memo.get("", &"base"), None);
        assert_eq!(memo.served("", &"other"), None);
        assert_eq!(memo.get("", &"other"), Some(2));
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn an_engine_told_its_users_holds_no_base_once_every_overlay_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
            ("dev/kustomization.yaml", "resources: [../base]\nnamespace: dev\n"),
            ("prod/kustomization.yaml", "resources: [../base]\nnamespace: prod\n"),
        ];
        for (p, text) in files {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let repo = crate::source::Repo::open(dir.path()).unwrap();
        let dirs: Vec<crate::source::RelPath> =
            ["base", "dev", "prod"].iter().map(|d| crate::source::RelPath::parse(d).unwrap()).collect();
        let render = |engine: &crate::kustomize::build::Engine| {
            let names: Vec<String> =
                dirs[1..].iter().map(|d| engine.render_last(d).unwrap().resources[0].namespace().to_string()).collect();
            assert_eq!(names, ["dev", "prod"]);
        };
        // Without counts the base stays for the run, as before.
        let engine = crate::kustomize::build::Engine::new(&repo, crate::kustomize::build::LoadRestrictor::None);
        render(&engine);
        assert_eq!(engine.memo_len(), 1);
        let engine = crate::kustomize::build::Engine::new(&repo, crate::kustomize::build::LoadRestrictor::None);
        engine.expect_users(&dirs);
        render(&engine);
        assert_eq!(engine.memo_len(), 0);
        // A user the count missed builds it again, with the same result.
        render(&engine);
        assert_eq!(engine.memo_len(), 0);
    }
}
