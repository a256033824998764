//! What the cross-entry-point stages (the Flux graph, HelmReleases, the tree walk's own
//! bookkeeping) read of a Flux entry point's objects, so a run that has checked an entry point
//! can drop the rest: Flux objects, ConfigMaps, Secrets, Namespaces and the objects operators
//! make Secrets from stay whole; every other object shrinks to its identity and a digest of its
//! content, which is all the graph's duplicate check compares.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use crate::kustomize::resource::Resource;
use crate::source::{Mapping, Node, Value};

/// The top-level key of a shrunk object that holds its content digest. Two shrunk renders of
/// one object compare equal (field by field, labels and annotations aside) exactly when their
/// contents do, so the graph's duplicate check reads them as it reads whole objects.
pub const DIGEST_KEY: &str = "fluxgate.io/content-digest";

/// Whether the graph, helm or the tree walk read more of an object than its identity: Flux
/// kinds (any `*fluxcd*` group), `substituteFrom`/`valuesFrom` ConfigMaps and Secrets,
/// Namespaces (Pod Security levels), and what operators make Secrets or Flux objects from.
pub fn read_whole(r: &Resource) -> bool {
    // The tree walk reads the levels below from the finished entries.
    if super::tree::pooled(r) {
        return true;
    }
    let group = r.group();
    group.contains("fluxcd")
        || (group.is_empty() && matches!(r.kind(), "ConfigMap" | "Secret" | "Namespace"))
        || matches!(
            (group, r.kind()),
            ("external-secrets.io", "ExternalSecret")
                | ("bitnami.com", "SealedSecret")
                | ("cert-manager.io", "Certificate")
                | ("objectbucket.io", "ObjectBucketClaim")
        )
}

/// An object as the cross-entry-point stages need it: whole when [`read_whole`], else its
/// apiVersion, kind, name and namespace (located where the object is) and [`DIGEST_KEY`].
pub fn graph_view(r: Resource) -> Resource {
    if read_whole(&r) {
        return r;
    }
    shrunk(r)
}

/// The ConfigMaps and Secrets the graph and helm read whole once the tree walk is done: those
/// whose name some `spec.valuesFrom` entry of `objects` names (any kind, any namespace).
pub fn values_sources<'a>(objects: impl Iterator<Item = &'a Resource>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for r in objects {
        for item in r.node.path(&["spec", "valuesFrom"]).and_then(Node::as_seq).into_iter().flatten() {
            if let (Some(kind), Some(name)) = (item.str_at(&["kind"]), item.str_at(&["name"])) {
                out.insert((kind.to_string(), name.to_string()));
            }
        }
    }
    out
}

/// An object of a finished tree walk as the graph and helm still read it: a ConfigMap or
/// Secret that no `valuesFrom` names (see [`values_sources`]) is shrunk as any other object
/// (only the tree walk's levels below and a HelmRelease's values read more of it), the rest
/// as [`graph_view`] keeps them.
pub fn after_walk(r: Resource, values_sources: &BTreeSet<(String, String)>) -> Resource {
    let unread = matches!(r.kind(), "ConfigMap" | "Secret")
        && r.group().is_empty()
        && !values_sources.contains(&(r.kind().to_string(), r.name().to_string()));
    if unread { shrunk(r) } else { r }
}

/// An object as its apiVersion, kind, name and namespace (located where the object is) and
/// [`DIGEST_KEY`].
fn shrunk(r: Resource) -> Resource {
    let str_node = |s: &str| Node::synthetic(Value::Str(s.to_string()));
    // Sized exactly: a run holds one view per object of every Flux entry point until the
    // graph is checked, and a map grown by insertion keeps room for 7 entries where 4 are
    // used (on huge, 132,000 views: 151 -> 111 MiB).
    let exact = |n: usize| Mapping::with_capacity_and_hasher(n, Default::default());
    let namespaced = !r.namespace().is_empty();
    let mut metadata = exact(if namespaced { 2 } else { 1 });
    metadata.insert("name".to_string(), str_node(r.name()));
    if namespaced {
        metadata.insert("namespace".to_string(), str_node(r.namespace()));
    }
    let mut top = exact(4);
    top.insert("apiVersion".to_string(), str_node(r.api_version()));
    top.insert("kind".to_string(), str_node(r.kind()));
    top.insert("metadata".to_string(), Node::synthetic(Value::Map(Box::new(metadata))));
    top.insert(DIGEST_KEY.to_string(), str_node(&format!("{:016x}", content_digest(&r.node))));
    Resource::new(Node::new(Value::Map(Box::new(top)), r.node.loc))
}

/// The hasher of [`content_digest`]: fixed-seeded, so equal content digests alike across the
/// run's threads (foldhash: SipHash was a measurable part of every Flux entry's finish).
fn digest_hasher() -> impl Hasher {
    std::hash::BuildHasher::build_hasher(&foldhash::quality::FixedState::with_seed(0x5eed_f1a9))
}

/// A digest of an object's content without `metadata.labels` and `metadata.annotations`, equal
/// for two objects when their JSON forms are (map order aside), as the duplicate check compares.
pub fn content_digest(node: &Node) -> u64 {
    let mut h = digest_hasher();
    match &node.value {
        Value::Map(m) => {
            let stripped = m.iter().map(|(k, v)| {
                let mut e = digest_hasher();
                k.hash(&mut e);
                match (&v.value, k.as_str()) {
                    (Value::Map(meta), "metadata") => {
                        hash_map(meta.iter().filter(|(k, _)| !matches!(k.as_str(), "labels" | "annotations")), &mut e)
                    }
                    _ => hash_node(v, &mut e),
                }
                e.finish()
            });
            combine(stripped, &mut h);
        }
        _ => hash_node(node, &mut h),
    }
    h.finish()
}

/// Folds a map's entry digests without regard to their order (JSON maps compare that way).
fn combine(entries: impl Iterator<Item = u64>, h: &mut impl Hasher) {
    let (mut n, mut sum, mut xor) = (0u64, 0u64, 0u64);
    for e in entries {
        n += 1;
        sum = sum.wrapping_add(e);
        xor ^= e.rotate_left(17);
    }
    h.write_u8(b'm');
    h.write_u64(n);
    h.write_u64(sum);
    h.write_u64(xor);
}

fn hash_map<'a>(entries: impl Iterator<Item = (&'a String, &'a Node)>, h: &mut impl Hasher) {
    combine(
        entries.map(|(k, v)| {
            let mut e = digest_hasher();
            k.hash(&mut e);
            hash_node(v, &mut e);
            e.finish()
        }),
        h,
    );
}

/// Hashes a value as its JSON form: every null alike, integers apart from floats, a float
/// that JSON cannot hold (NaN, infinities) as null.
fn hash_node(n: &Node, h: &mut impl Hasher) {
    match &n.value {
        Value::Null(_) => h.write_u8(b'n'),
        Value::Bool(b) => {
            h.write_u8(b'b');
            b.hash(h);
        }
        Value::Int(i) => {
            h.write_u8(b'i');
            i.hash(h);
        }
        Value::Float(f) if f.is_finite() => {
            h.write_u8(b'f');
            // -0.0 and 0.0 are one JSON number.
            h.write_u64(if *f == 0.0 { 0 } else { f.to_bits() });
        }
        Value::Float(_) => h.write_u8(b'n'),
        Value::Str(s) => {
            h.write_u8(b's');
            s.hash(h);
        }
        Value::Seq(items) => {
            h.write_u8(b'l');
            h.write_usize(items.len());
            for i in items {
                hash_node(i, h);
            }
        }
        Value::Map(m) => hash_map(m.iter(), h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(text: &str) -> Resource {
        use crate::source::yaml::{Dialect, parse};
        let mut docs = parse(text, crate::source::FileId(0), Dialect::Yaml12, &crate::source::Limits::default()).docs;
        Resource::new(docs.remove(0))
    }

    #[test]
    fn digests_ignore_labels_annotations_and_map_order_but_not_content() {
        let a = resource(
            "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {x: '1'}}\nspec: {ports: [{port: 80, name: h}]}\n",
        );
        let b = resource(
            "kind: Service\napiVersion: v1\nmetadata: {annotations: {y: z}, name: a}\nspec: {ports: [{name: h, port: 80}]}\n",
        );
        let c = resource("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 81, name: h}]}\n");
        let d =
            resource("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80.5, name: h}]}\n");
        assert_eq!(content_digest(&a.node), content_digest(&b.node));
        assert_ne!(content_digest(&a.node), content_digest(&c.node));
        assert_ne!(content_digest(&c.node), content_digest(&d.node));
    }

    #[test]
    fn after_the_walk_only_configmaps_and_secrets_a_values_from_names_stay_whole() {
        let hr = resource(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a, namespace: n}\nspec: {valuesFrom: [{kind: ConfigMap, name: read}]}\n",
        );
        let keep = values_sources(std::iter::once(&hr));
        let cm = |name: &str| {
            resource(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: n}}\ndata: {{k: v}}\n"
            ))
        };
        let (read, unread) = (cm("read"), cm("unread"));
        assert_eq!(after_walk(read.clone(), &keep).node, read.node);
        let shrunk = after_walk(unread.clone(), &keep);
        assert_eq!(shrunk.object_ref(), unread.object_ref());
        assert!(shrunk.node.path(&["data"]).is_none(), "an unread ConfigMap keeps no data");
        assert_eq!(after_walk(hr.clone(), &keep).node, hr.node);
        let ns = resource("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n");
        assert_eq!(after_walk(ns.clone(), &keep).node, ns.node);
    }

    #[test]
    fn graph_view_keeps_flux_objects_whole_and_shrinks_the_rest() {
        let hr = resource(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a, namespace: n}\nspec: {chart: {spec: {chart: x}}}\n",
        );
        assert_eq!(graph_view(hr.clone()).node, hr.node);
        let deploy = resource(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: n, labels: {a: b}}\nspec: {replicas: 2}\n",
        );
        let v = graph_view(deploy.clone());
        assert_eq!(v.object_ref(), deploy.object_ref());
        assert_eq!(v.loc(), deploy.loc());
        assert!(v.node.path(&["spec"]).is_none());
        assert!(v.node.str_at(&[DIGEST_KEY]).is_some());
    }
}
