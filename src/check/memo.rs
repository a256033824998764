//! A memo of per-object checks. A Flux Kustomization that applies an overlay renders the very
//! objects the overlay renders (same values, same source positions) whenever its post-build
//! substitution changes nothing, and shared bases reach many renders: one run used to check
//! each object two to three times. An object's checks depend only on its node and the
//! registry, so a node seen before (by a 128-bit fingerprint of its values, types and
//! positions) reuses the earlier outcome.
//!
//! The Flux render differs from the overlay's by the owner labels kustomize-controller sets
//! ([`NAME_LABEL`], [`NAMESPACE_LABEL`]). Where an object's checks read labels only for their
//! syntax (every built-in kind: its schema allows any string label, and no CEL rule sees it),
//! a valid owner label cannot change the outcome, so the fingerprint leaves such labels out
//! (and a `metadata.labels` map left empty by that) and both renders share one check.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::flux::entry::{NAME_LABEL, NAMESPACE_LABEL};
use crate::schema::metadata::is_valid_label_value;
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

/// Where a node sits, as far as the fingerprint of an object whose checks read labels only for
/// their syntax cares: owner labels are left out of `metadata.labels`. `Below` is every other
/// place, and every place when labels are read whole.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Root,
    Metadata,
    Labels,
    Below,
}

impl Place {
    fn child(self, key: &str) -> Place {
        match (self, key) {
            (Place::Root, "metadata") => Place::Metadata,
            (Place::Metadata, "labels") => Place::Labels,
            _ => Place::Below,
        }
    }

    /// Whether the entry `key: value` of a map here is left out: a valid owner label, or a
    /// `metadata.labels` map holding nothing else.
    fn omits(self, key: &str, value: &Node) -> bool {
        match self {
            Place::Labels => {
                (key == NAME_LABEL || key == NAMESPACE_LABEL) && value.as_str().is_some_and(is_valid_label_value)
            }
            Place::Metadata if key == "labels" => {
                value.as_map().is_some_and(|m| m.iter().all(|(k, v)| Place::Labels.omits(k, v)))
            }
            _ => false,
        }
    }
}

/// Everything a check can see of a node: the type and form of every value, every key in order,
/// and every position (findings point at them), less what [`Place::omits`].
fn feed(node: &Node, place: Place, h: &mut impl Hasher) {
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
            items.iter().for_each(|n| feed(n, Place::Below, h));
        }
        Value::Map(m) => {
            h.write_u8(6);
            if place == Place::Below {
                h.write_usize(m.len());
                for (k, v) in m.iter() {
                    k.hash(h);
                    feed(v, Place::Below, h);
                }
            } else {
                let kept = || m.iter().filter(|(k, v)| !place.omits(k, v));
                h.write_usize(kept().count());
                for (k, v) in kept() {
                    k.hash(h);
                    feed(v, place.child(k), h);
                }
            }
        }
    }
}

impl ObjectMemo {
    /// The fingerprint of `node`; `labels_syntax_only`: see [`ObjectMemo::get_or`].
    fn fingerprint(&self, node: &Node, labels_syntax_only: bool) -> u128 {
        let mut h = Pair(self.seeds.0.build_hasher(), self.seeds.1.build_hasher());
        feed(node, if labels_syntax_only { Place::Root } else { Place::Below }, &mut h);
        (u128::from(h.0.finish()) << 64) | u128::from(h.1.finish())
    }

    /// The outcome for `node`: remembered, or computed by `check` and remembered.
    /// `labels_syntax_only`: the caller knows that `check` reads this object's labels only for
    /// their syntax (true of built-in kinds), so valid owner labels are not told apart.
    pub fn get_or(
        &self,
        node: &Node,
        labels_syntax_only: bool,
        check: impl FnOnce() -> ObjectCheck,
    ) -> Arc<ObjectCheck> {
        let key = self.fingerprint(node, labels_syntax_only);
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
    use crate::source::Loc;
    use crate::source::yaml::first_doc;

    fn outcome(n: usize) -> ObjectCheck {
        ObjectCheck { findings: Vec::new(), checked: true, cel_skipped: n }
    }

    #[test]
    fn the_same_object_is_checked_once() {
        let memo = ObjectMemo::default();
        let a = first_doc("kind: ConfigMap\ndata:\n  k: v\n");
        let mut calls = 0;
        let first = memo.get_or(&a, false, || {
            calls += 1;
            outcome(7)
        });
        let again = memo.get_or(&a.clone(), false, || {
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
            memo.get_or(&first_doc(&format!("kind: ConfigMap\ndata:\n  k: v{i}\n")), false, || outcome(i));
        }
        assert!(memo.len() <= SHARDS * SHARD_CAPACITY, "{} outcomes held", memo.len());
    }

    #[test]
    fn values_types_forms_and_positions_all_tell_objects_apart() {
        let memo = ObjectMemo::default();
        let base = first_doc("kind: ConfigMap\ndata:\n  k: v\n");
        let mut moved = base.clone();
        moved.loc = Loc { line: base.loc.line + 1, ..base.loc };
        let variants = [
            base.clone(),
            moved,
            first_doc("kind: ConfigMap\ndata:\n  k: w\n"),
            first_doc("kind: ConfigMap\ndata:\n  k: '1'\n"),
            first_doc("kind: ConfigMap\ndata:\n  k: 1\n"),
            first_doc("kind: ConfigMap\ndata:\n  k:\n"),
            first_doc("kind: ConfigMap\ndata:\n  k: ~\n"),
            first_doc("kind: ConfigMap\ndata:\n  j: v\n"),
            first_doc("data:\n  k: v\nkind: ConfigMap\n"),
            first_doc("kind: ConfigMap\ndata: [k, v]\n"),
        ];
        for (i, v) in variants.iter().enumerate() {
            memo.get_or(v, false, || outcome(i));
        }
        assert_eq!(memo.len(), variants.len(), "every variant is a distinct object");
        for (i, v) in variants.iter().enumerate() {
            assert_eq!(memo.get_or(v, false, || outcome(99)).cel_skipped, i);
        }
    }

    /// `node` as a Flux Kustomization named `name` applies it: with the owner labels.
    fn owned(mut node: Node, name: &str) -> Node {
        let loc = node.loc;
        let labels = node.ensure_map(&["metadata", "labels"], loc).unwrap();
        labels.insert(NAME_LABEL.to_string(), Node::string(name, Loc::NONE));
        labels.insert(NAMESPACE_LABEL.to_string(), Node::string("flux-system", Loc::NONE));
        node
    }

    #[test]
    fn a_flux_render_shares_its_overlays_check_where_labels_are_read_for_syntax_only() {
        let memo = ObjectMemo::default();
        for text in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    app: web\ndata:\n  k: v\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {}\n",
        ] {
            let plain = first_doc(text);
            let flux = owned(plain.clone(), "apps");
            assert_eq!(memo.fingerprint(&plain, true), memo.fingerprint(&flux, true), "{text}");
            assert_ne!(memo.fingerprint(&plain, false), memo.fingerprint(&flux, false), "{text}");
        }
        let plain = first_doc("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n");
        let differ = |other: Node, why: &str| {
            assert_ne!(memo.fingerprint(&plain, true), memo.fingerprint(&other, true), "{why}");
        };
        // An owner label the API server would refuse is a finding of its own.
        differ(owned(plain.clone(), &"a".repeat(64)), "invalid owner label");
        differ(owned(plain.clone(), "apps-"), "invalid owner label");
        // Only the owner labels, only at the top, only as strings.
        let mut other = plain.clone();
        other
            .ensure_map(&["metadata", "labels"], plain.loc)
            .unwrap()
            .insert("team".into(), Node::string("a", Loc::NONE));
        differ(other, "a label Flux does not own");
        let mut templated = plain.clone();
        let t = templated.ensure_map(&["spec", "template", "metadata", "labels"], plain.loc).unwrap();
        t.insert(NAME_LABEL.into(), Node::string("apps", Loc::NONE));
        differ(templated, "an owner label in a pod template");
        differ(
            first_doc(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    kustomize.toolkit.fluxcd.io/name: 1\n",
            ),
            "a number",
        );
        differ(first_doc("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: ~\n"), "null labels");
    }

    /// What the memo relies on: for built-in kinds, valid owner labels change no check's outcome
    /// (findings, their places, coverage), whatever else is wrong with the object.
    #[test]
    fn owner_labels_change_no_check_of_a_built_in_kind() {
        use crate::kustomize::resource::Resource;
        use crate::schema::registry::Registry;
        let registry = Registry::new(None).unwrap();
        let outcome = |node: &Node| {
            let r = Resource::new(node.clone());
            let c = super::super::objects::check(&r, &registry, crate::config::Level::Warning);
            let findings: Vec<_> =
                c.findings.iter().map(|l| (l.finding.clone(), l.loc, l.key.clone(), l.path.clone())).collect();
            (findings, c.checked, c.cel_skipped)
        };
        let cases = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  labels:\n    'bad key!': x\n    ok: 'not valid'\n  bogus: 1\ndata:\n  k: 1\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web, '-x': y}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        bogus: true\n",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels: {}\nspec:\n  ports: [{port: x}]\n",
            "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\n",
            "apiVersion: v1\nkind: Nothing\nmetadata: {name: n}\n",
        ];
        for text in cases {
            let plain = first_doc(text);
            let (findings, checked, skipped) = outcome(&plain);
            assert_eq!((findings.clone(), checked, skipped), outcome(&owned(plain.clone(), "apps")), "{text}");
            assert!(!findings.is_empty(), "every case has something to find: {text}");
        }
    }
}
