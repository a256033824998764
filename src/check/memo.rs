//! A memo of per-object checks. A Flux Kustomization that applies an overlay renders the very
//! objects the overlay renders (same values, same source positions) whenever its post-build
//! substitution changes nothing, and shared bases reach many renders: one run used to check
//! each object two to three times. An object's checks depend only on its node and the
//! registry, so a node seen before (by a 128-bit fingerprint of its values, types and
//! positions) reuses the earlier outcome.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::source::{Node, Value};

use super::objects::ObjectCheck;

/// Shards of the memo, so parallel checks rarely wait on one lock.
const SHARDS: usize = 16;

/// Outcomes one shard keeps before it starts afresh. The memo's hits come from renders of one
/// object close in time (a Flux Kustomization's render checked as the plain overlay it
/// builds, on the same thread), so a bounded memo keeps them, while an unbounded one held an
/// outcome per object of the run (on huge, 36 MiB at the peak). Forgetting only costs a
/// second check with the same outcome.
const SHARD_CAPACITY: usize = 4096;

/// Outcomes of [`super::objects::check`] by object fingerprint. One memo serves one registry
/// (the outcome depends on it): a run that adds CRDs from charts starts a new one.
pub struct ObjectMemo {
    shards: Vec<Mutex<HashMap<u128, Arc<ObjectCheck>>>>,
    /// Two independently seeded hashers make the 128-bit fingerprint; the seeds are random per
    /// process, so a repository cannot craft two objects that collide.
    seeds: (foldhash::quality::RandomState, foldhash::quality::RandomState),
}

impl Default for ObjectMemo {
    fn default() -> Self {
        ObjectMemo {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seeds: (Default::default(), Default::default()),
        }
    }
}

/// Feeds every write to both halves of the fingerprint.
struct Pair<A, B>(A, B);

impl<A: Hasher, B: Hasher> Hasher for Pair<A, B> {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
        self.1.write(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i);
        self.1.write_u8(i);
    }
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i);
        self.1.write_u32(i);
    }
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i);
        self.1.write_u64(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i);
        self.1.write_usize(i);
    }
}

/// Everything a check can see of a node: the type and form of every value, every key in order,
/// and every position (findings point at them).
fn feed(node: &Node, h: &mut impl Hasher) {
    node.loc.file.hash(h);
    h.write_u32(node.loc.line);
    h.write_u32(node.loc.col);
    match &node.value {
        Value::Null(form) => {
            h.write_u8(0);
            h.write_u8(*form as u8);
        }
        Value::Bool(b) => {
            h.write_u8(1);
            h.write_u8(u8::from(*b));
        }
        Value::Int(i) => {
            h.write_u8(2);
            h.write_u64(*i as u64);
        }
        Value::Float(f) => {
            h.write_u8(3);
            h.write_u64(f.to_bits());
        }
        Value::Str(s) => {
            h.write_u8(4);
            s.hash(h);
        }
        Value::Seq(items) => {
            h.write_u8(5);
            h.write_usize(items.len());
            items.iter().for_each(|n| feed(n, h));
        }
        Value::Map(m) => {
            h.write_u8(6);
            h.write_usize(m.len());
            for (k, v) in m.iter() {
                k.hash(h);
                feed(v, h);
            }
        }
    }
}

impl ObjectMemo {
    /// The fingerprint of `node`.
    fn fingerprint(&self, node: &Node) -> u128 {
        let mut h = Pair(self.seeds.0.build_hasher(), self.seeds.1.build_hasher());
        feed(node, &mut h);
        (u128::from(h.0.finish()) << 64) | u128::from(h.1.finish())
    }

    /// The outcome for `node`: remembered, or computed by `check` and remembered.
    pub fn get_or(&self, node: &Node, check: impl FnOnce() -> ObjectCheck) -> Arc<ObjectCheck> {
        let key = self.fingerprint(node);
        let shard = &self.shards[(key as usize) % SHARDS];
        if let Some(hit) = shard.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Arc::clone(hit);
        }
        // Checked outside the lock: two threads may both check one object, never wait on it.
        let outcome = Arc::new(check());
        let mut held = shard.lock().unwrap_or_else(|e| e.into_inner());
        if held.len() >= SHARD_CAPACITY {
            held.clear();
        }
        held.entry(key).or_insert(outcome).clone()
    }

    /// How many distinct objects were checked (for the tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits, Loc};

    fn outcome(n: usize) -> ObjectCheck {
        ObjectCheck { findings: Vec::new(), checked: true, cel_skipped: n }
    }

    fn doc(text: &str) -> Node {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0)
    }

    #[test]
    fn the_same_object_is_checked_once() {
        let memo = ObjectMemo::default();
        let a = doc("kind: ConfigMap\ndata:\n  k: v\n");
        let mut calls = 0;
        let first = memo.get_or(&a, || {
            calls += 1;
            outcome(7)
        });
        let again = memo.get_or(&a.clone(), || {
            calls += 1;
            outcome(0)
        });
        assert_eq!(calls, 1);
        assert_eq!((first.cel_skipped, again.cel_skipped), (7, 7));
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn the_memo_stays_bounded_however_many_objects_it_sees() {
        let memo = ObjectMemo::default();
        for i in 0..(SHARDS * SHARD_CAPACITY * 2) {
            memo.get_or(&doc(&format!("kind: ConfigMap\ndata:\n  k: v{i}\n")), || outcome(i));
        }
        assert!(memo.len() <= SHARDS * SHARD_CAPACITY, "{} outcomes held", memo.len());
    }

    #[test]
    fn values_types_forms_and_positions_all_tell_objects_apart() {
        let memo = ObjectMemo::default();
        let base = doc("kind: ConfigMap\ndata:\n  k: v\n");
        let mut moved = base.clone();
        moved.loc = Loc { line: base.loc.line + 1, ..base.loc };
        let variants = [
            base.clone(),
            moved,
            doc("kind: ConfigMap\ndata:\n  k: w\n"),
            doc("kind: ConfigMap\ndata:\n  k: '1'\n"),
            doc("kind: ConfigMap\ndata:\n  k: 1\n"),
            doc("kind: ConfigMap\ndata:\n  k:\n"),
            doc("kind: ConfigMap\ndata:\n  k: ~\n"),
            doc("kind: ConfigMap\ndata:\n  j: v\n"),
            doc("data:\n  k: v\nkind: ConfigMap\n"),
            doc("kind: ConfigMap\ndata: [k, v]\n"),
        ];
        for (i, v) in variants.iter().enumerate() {
            memo.get_or(v, || outcome(i));
        }
        assert_eq!(memo.len(), variants.len(), "every variant is a distinct object");
        for (i, v) in variants.iter().enumerate() {
            assert_eq!(memo.get_or(v, || outcome(99)).cel_skipped, i);
        }
    }
}
