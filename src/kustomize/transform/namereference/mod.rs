//! Name references: after prefixes, suffixes, hash suffixes and `namespace:` rename or move
//! objects, every field that refers to one of them (a ConfigMap in a volume, a Service in an
//! Ingress, a ServiceAccount in a RoleBinding...) is updated, exactly as kustomize's name
//! reference transformer does it:
//! - the referrers and fields come from kustomize's table ([`table::builtin`]) plus the
//!   `nameReference` entries of `configurations:`; a referrer is matched by its original kind;
//! - candidates are objects that were renamed or moved (they have previous ids), that once had
//!   the referenced name and the target kind, and that the referrer can see: the same namespace,
//!   cluster-scoped ones, ServiceAccounts named by a RoleBinding's subjects in their namespace;
//!   a field given as a map (`{name, namespace}`) narrows them to that namespace;
//! - among several, those whose name prefixes and suffixes match the referrer's win; still
//!   several distinct ones is kustomize's "found multiple possible referrals" error.

mod table;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crate::kustomize::config::NameRefConfig;
use crate::kustomize::resource::{PrevId, Resource, kustomize_cluster_scoped};
use crate::source::{Loc, Node, Value};

/// A group/version/kind selector; empty parts match anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GvkSel {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl GvkSel {
    fn selects(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }
}

/// A field (`path`, `/`-separated, `\/` for a slash inside a key) of the objects `sel` selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    pub sel: GvkSel,
    pub path: String,
}

/// The fields that hold the name of a `target` object.
#[derive(Clone, Debug)]
pub struct Backref {
    pub target: GvkSel,
    pub referrers: Vec<Referrer>,
}

/// Splits a field spec path as kustomize does: on `/`, except `\/`, which is a slash in a key.
pub fn split_path(path: &str) -> Vec<String> {
    let path = path.strip_prefix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    crate::kustomize::fieldspec::split_escaped(path)
}

/// kustomize's builtin table, built once per run.
static BUILTIN: LazyLock<Vec<Backref>> = LazyLock::new(table::builtin);

/// The builtin table with the configured entries merged in (same target: fields added).
fn backrefs(extra: &[NameRefConfig]) -> Cow<'static, [Backref]> {
    if extra.is_empty() {
        return Cow::Borrowed(BUILTIN.as_slice());
    }
    let mut out = BUILTIN.clone();
    for n in extra {
        let target = GvkSel {
            group: n.group.clone().unwrap_or_default(),
            version: n.version.clone().unwrap_or_default(),
            kind: n.kind.clone(),
        };
        let referrers = n.specs.iter().map(|f| Referrer {
            sel: GvkSel {
                group: f.group.clone().unwrap_or_default(),
                version: f.version.clone().unwrap_or_default(),
                kind: f.kind.clone().unwrap_or_default(),
            },
            path: f.path.clone(),
        });
        match out.iter_mut().find(|b| b.target == target) {
            Some(b) => {
                for r in referrers {
                    if !b.referrers.contains(&r) {
                        b.referrers.push(r);
                    }
                }
            }
            None => out.push(Backref { target, referrers: referrers.collect() }),
        }
    }
    Cow::Owned(out)
}

/// One field of the table, its path split once per render rather than once per object.
struct Field<'t> {
    target: &'t GvkSel,
    referrer: &'t Referrer,
    path: Vec<String>,
}

/// The table's fields by referrer kind, so each object only looks at the fields of its own
/// kind (and those of any kind), in table order.
struct Fields<'t> {
    all: Vec<Field<'t>>,
    by_kind: HashMap<&'t str, Vec<usize>>,
    any_kind: Vec<usize>,
}

impl<'t> Fields<'t> {
    fn new(table: &'t [Backref]) -> Fields<'t> {
        let all: Vec<Field> = table
            .iter()
            .flat_map(|b| b.referrers.iter().map(move |f| (&b.target, f)))
            .map(|(target, referrer)| Field { target, referrer, path: split_path(&referrer.path) })
            .collect();
        let (mut by_kind, mut any_kind) = (HashMap::<&str, Vec<usize>>::new(), Vec::new());
        for (i, f) in all.iter().enumerate() {
            match f.referrer.sel.kind.as_str() {
                "" => any_kind.push(i),
                k => by_kind.entry(k).or_default().push(i),
            }
        }
        Fields { all, by_kind, any_kind }
    }

    /// The fields of an object of this original group, version and kind, in table order.
    fn of(&self, group: &str, version: &str, kind: &str) -> Vec<&Field<'t>> {
        let mut ids: Vec<usize> = self.by_kind.get(kind).into_iter().flatten().chain(&self.any_kind).copied().collect();
        ids.sort_unstable();
        ids.into_iter().map(|i| &self.all[i]).filter(|f| f.referrer.sel.selects(group, version, kind)).collect()
    }
}

/// What name references need to know of one object, taken before any field changes.
struct Info {
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: String,
    cluster_scoped: bool,
    /// Previous ids, namespaces effective; empty when never renamed, moved or re-kinded.
    previous: Vec<PrevId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

const NOT_A_NAMESPACE: &str = "_non_namespaceable_";

impl Info {
    fn of(r: &Resource) -> Info {
        let gvk = r.gvk();
        let cluster_scoped = kustomize_cluster_scoped(r.api_version(), &gvk.kind);
        let eff = |ns: &str| effective(cluster_scoped, ns);
        Info {
            cluster_scoped,
            previous: r
                .previous
                .iter()
                .map(|p| PrevId { kind: p.kind.clone(), name: p.name.clone(), namespace: eff(&p.namespace) })
                .collect(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            prefixes: r.affixes.0.clone(),
            suffixes: r.affixes.1.clone(),
            group: gvk.group,
            version: gvk.version,
            kind: gvk.kind,
        }
    }

    fn effective_ns(&self) -> String {
        effective(self.cluster_scoped, &self.namespace)
    }

    /// kustomize's id string (`Kind.version.group/name.namespace`), for messages.
    fn id(&self) -> String {
        let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
        format!(
            "{}.{}.{}/{}.{}",
            self.kind,
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]"),
            self.name,
            or(&self.namespace, "[noNs]")
        )
    }
}

fn effective(cluster_scoped: bool, ns: &str) -> String {
    if cluster_scoped {
        NOT_A_NAMESPACE.to_string()
    } else if ns.is_empty() {
        "default".to_string()
    } else {
        ns.to_string()
    }
}

/// kustomize's `SameEndingSubSlice`: the shorter list is the tail of the longer one.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

fn affixes_equal(a: &Info, b: &Info, allow_empty: bool) -> bool {
    let pre =
        (allow_empty && (a.prefixes.is_empty() || b.prefixes.is_empty())) || same_ending(&a.prefixes, &b.prefixes);
    let suf =
        (allow_empty && (a.suffixes.is_empty() || b.suffixes.is_empty())) || same_ending(&a.suffixes, &b.suffixes);
    pre && suf
}

/// Renamed or moved objects indexed for lookups, so name references stay linear in the
/// size of the render: by each name they once had, and their original namespaces.
struct Index {
    by_name: HashMap<String, Vec<usize>>,
    /// Original effective namespaces of all objects (cluster-scoped ones excluded).
    org_all: HashSet<String>,
    /// The same, per current effective namespace.
    org_by_current: HashMap<String, HashSet<String>>,
}

impl Index {
    fn new(infos: &[Info]) -> Index {
        let mut ix = Index { by_name: HashMap::new(), org_all: HashSet::new(), org_by_current: HashMap::new() };
        for (i, o) in infos.iter().enumerate() {
            let mut names: Vec<&str> = o.previous.iter().map(|p| p.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for n in names {
                ix.by_name.entry(n.to_string()).or_default().push(i);
            }
            // Every object counts here, renamed or not (its original id is then its current one).
            let org = o.previous.first().map_or_else(|| o.effective_ns(), |p| p.namespace.clone());
            if org != NOT_A_NAMESPACE {
                ix.org_by_current.entry(o.effective_ns()).or_default().insert(org.clone());
                ix.org_all.insert(org);
            }
        }
        ix
    }
}

/// One referrer being updated: its snapshot, what it can see, and the field's target.
struct Ctx<'a> {
    infos: &'a [Info],
    index: &'a Index,
    me: usize,
    /// Namespaces of the referrer's RoleBinding ServiceAccount subjects (visible to it).
    rb_namespaces: &'a [String],
    target: &'a GvkSel,
    /// For `roleRef/name`: the roleRef's apiGroup and kind.
    role_ref: Option<(String, String)>,
}

impl Ctx<'_> {
    /// Whether the referrer can refer to object `i` at all (kustomize's
    /// `SubsetThatCouldBeReferencedByResource`).
    fn visible(&self, i: usize) -> bool {
        let (me, o) = (&self.infos[self.me], &self.infos[i]);
        me.cluster_scoped
            || o.cluster_scoped
            || o.effective_ns() == me.effective_ns()
            || self.rb_namespaces.contains(&o.namespace)
    }

    /// Whether some visible object (renamed or not) was originally in namespace `ns`.
    fn any_visible_from(&self, ns: &str) -> bool {
        let me = &self.infos[self.me];
        if me.cluster_scoped {
            return self.index.org_all.contains(ns);
        }
        std::iter::once(me.effective_ns())
            .chain(self.rb_namespaces.iter().map(|n| effective(false, n)))
            .any(|cur| self.index.org_by_current.get(&cur).is_some_and(|s| s.contains(ns)))
    }

    /// kustomize's referral selection for a field that held `old`, among the visible objects
    /// that pass `pool`.
    fn select(&self, old: &str, pool: &dyn Fn(&Info) -> bool, by_namespace_too: bool) -> Result<Option<usize>, String> {
        let me = &self.infos[self.me];
        let mut c: Vec<usize> = self
            .index
            .by_name
            .get(old)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                let o = &self.infos[i];
                self.visible(i)
                    && pool(o)
                    // kustomize matches the kind the object had when it had that name.
                    && o.previous.iter().any(|p| self.target.selects(&o.group, &o.version, &p.kind))
                    && self
                        .role_ref
                        .as_ref()
                        .is_none_or(|(g, k)| (g.is_empty() || *g == o.group) && (k.is_empty() || *k == o.kind))
                    && (me.cluster_scoped
                        || o.cluster_scoped
                        || o.kind == "ServiceAccount"
                        || o.effective_ns() == me.effective_ns())
            })
            .collect();
        if c.len() == 1 {
            return Ok(c.first().copied());
        }
        c.retain(|&i| affixes_equal(&self.infos[i], me, true));
        if c.len() > 1 {
            c.retain(|&i| affixes_equal(&self.infos[i], me, false));
        }
        match c.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [first, rest @ ..] => {
                let f = &self.infos[*first];
                if rest.iter().all(|&i| {
                    let o = &self.infos[i];
                    o.name == f.name && (!by_namespace_too || o.namespace == f.namespace)
                }) {
                    return Ok(Some(*first));
                }
                let ids: Vec<String> = c.iter().map(|&i| self.infos[i].id()).collect();
                Err(format!("found multiple possible referrals: {}", ids.join(", ")))
            }
        }
    }

    /// Updates a name held as a plain string.
    fn set_scalar(&self, node: &mut Node) -> Result<(), String> {
        let Some(old) = node.as_str() else { return Ok(()) };
        if let Some(i) = self.select(old, &|_| true, false)?
            && self.infos[i].name != old
        {
            node.value = Value::Str(self.infos[i].name.clone());
        }
        Ok(())
    }

    /// Updates a `{name, namespace}` map (a binding subject, a webhook's service).
    fn set_mapping(&self, node: &mut Node) -> Result<(), String> {
        let Some(m) = node.as_map_mut() else { return Ok(()) };
        let Some(old) = m.get("name").map(scalar_text) else {
            return Err("path config error; no 'name' field in node".into());
        };
        // A map naming its namespace narrows the candidates to those originally there or, when
        // no visible object came from there, to those there now.
        let ns = m.get("namespace").map(scalar_text);
        let by_org = ns.as_deref().is_some_and(|n| self.any_visible_from(n));
        let pool = |o: &Info| match ns.as_deref() {
            None => true,
            Some(n) if by_org => o.previous.first().is_some_and(|p| p.namespace == n),
            Some(n) => {
                let e = o.effective_ns();
                e != NOT_A_NAMESPACE && e == n
            }
        };
        let Some(i) = self.select(&old, &pool, true)? else { return Ok(()) };
        let r = &self.infos[i];
        if r.name == old && r.namespace.is_empty() {
            return Ok(());
        }
        let loc = m.get("name").map_or(Loc::NONE, |n| n.loc);
        m.insert("name".into(), Node::string(r.name.clone(), loc));
        if !r.namespace.is_empty() {
            let loc = m.get("namespace").map_or(loc, |n| n.loc);
            m.insert("namespace".into(), Node::string(r.namespace.clone(), loc));
        }
        Ok(())
    }

    fn set(&self, node: &mut Node) -> Result<(), String> {
        match &mut node.value {
            Value::Null(_) => Ok(()),
            Value::Map(_) => self.set_mapping(node),
            Value::Seq(items) => {
                for item in items.iter_mut() {
                    match &item.value {
                        Value::Null(_) => {}
                        Value::Map(_) => self.set_mapping(item)?,
                        _ => self.set_scalar(item)?,
                    }
                }
                Ok(())
            }
            _ => self.set_scalar(node),
        }
    }
}

fn scalar_text(n: &Node) -> String {
    match &n.value {
        Value::Str(s) => s.clone(),
        Value::Null(_) => String::new(),
        _ => n.to_json().to_string(),
    }
}

/// Walks `path` (maps by key, sequences element by element) and updates what it reaches.
fn walk(node: &mut Node, path: &[String], ctx: &Ctx) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else { return ctx.set(node) };
    match &mut node.value {
        Value::Seq(items) => {
            for item in items.iter_mut() {
                walk(item, path, ctx)?;
            }
            Ok(())
        }
        Value::Map(m) => match m.get_mut(first.as_str()) {
            Some(child) => walk(child, rest, ctx),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Namespaces of the ServiceAccount subjects of a RoleBinding: objects there are visible to
/// it. A subject whose `namespace` is not a string is kustomize's "namespace is blank" error.
fn role_binding_namespaces(r: &Resource, me: &Info) -> Result<Vec<String>, String> {
    if me.kind != "RoleBinding" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for s in r.node.get("subjects").and_then(Node::as_seq).into_iter().flatten() {
        let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind")) else { continue };
        if kind.as_str() != Some("ServiceAccount") {
            continue;
        }
        match ns.as_str() {
            Some(n) => out.push(n.to_string()),
            None => return Err(format!("Invalid Input: namespace is blank for resource \"{}\"", me.id())),
        }
    }
    Ok(out)
}

/// Updates every reference to an object that was renamed or moved (see the module docs).
/// Errors (with the referrer's location) as kustomize does: several distinct possible
/// targets, a subject without `name`, a RoleBinding subject with a blank namespace.
pub fn apply(resources: &mut [Resource], extra: &[NameRefConfig]) -> Result<(), (String, Loc)> {
    let infos: Vec<Info> = resources.iter().map(Info::of).collect();
    let index = Index::new(&infos);
    let table = backrefs(extra);
    let fields = Fields::new(&table);
    for (me, r) in resources.iter_mut().enumerate() {
        let info = &infos[me];
        let specs = fields.of(&info.group, &info.version, &info.kind);
        if specs.is_empty() {
            continue;
        }
        // Walked even when nothing was renamed: a subject without a name is an error anyway.
        let rb_namespaces = role_binding_namespaces(r, info).map_err(|e| (e, r.loc()))?;
        for Field { target, referrer: f, path } in specs {
            let role_ref = f.path.ends_with("roleRef/name").then(|| {
                let g = r.node.str_at(&["roleRef", "apiGroup"]);
                let k = r.node.str_at(&["roleRef", "kind"]);
                (g.unwrap_or("").to_string(), k.unwrap_or("").to_string())
            });
            let role_ref = role_ref.filter(|_| {
                r.node.path(&["roleRef", "apiGroup"]).is_some() && r.node.path(&["roleRef", "kind"]).is_some()
            });
            let ctx = Ctx { infos: &infos, index: &index, me, rb_namespaces: &rb_namespaces, target, role_ref };
            let loc = r.loc();
            walk(&mut r.node, path, &ctx)
                .map_err(|e| (format!("updating name reference in '{}' field of '{}': {e}", f.path, info.id()), loc))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn resources(text: &str) -> Vec<Resource> {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect()
    }

    fn move_to(r: &mut Resource, name: &str, ns: &str) {
        r.set_name(name.into());
        if let Some(m) = r.node.ensure_map(&["metadata"], Loc::NONE) {
            m.insert("namespace".into(), Node::string(ns, Loc::NONE));
        }
    }

    fn first_subject(r: &Resource) -> Option<Node> {
        r.node.path(&["subjects"]).and_then(Node::as_seq).and_then(|s| s.first()).cloned()
    }

    #[test]
    fn moved_service_account_subject_gains_namespace() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {kind: Role, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa}\n",
        );
        move_to(&mut rs[0], "p-sa", "ci");
        move_to(&mut rs[1], "rb", "ci");
        assert_eq!(apply(&mut rs, &[]), Ok(()));
        let subject = first_subject(&rs[1]);
        assert_eq!(subject.as_ref().and_then(|s| s.str_at(&["name"])), Some("p-sa"));
        assert_eq!(subject.as_ref().and_then(|s| s.str_at(&["namespace"])), Some("ci"));
        assert_eq!(rs[1].node.str_at(&["roleRef", "namespace"]), None);
    }

    #[test]
    fn a_namespaced_referrer_does_not_see_other_namespaces() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: b}\nspec:\n  volumes:\n  - configMap: {name: cfg}\n",
        );
        rs[0].set_name("cfg-123".into());
        assert_eq!(apply(&mut rs, &[]), Ok(()));
        assert_eq!(rs[1].node.str_at(&["spec", "volumes", "0", "configMap", "name"]), None);
        let vol = rs[1].node.path(&["spec", "volumes"]).and_then(Node::as_seq).and_then(|v| v.first()).cloned();
        assert_eq!(vol.and_then(|v| v.str_at(&["configMap", "name"]).map(str::to_string)).as_deref(), Some("cfg"));
    }

    #[test]
    fn two_distinct_candidates_are_an_error_unless_affixes_decide() {
        let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb}\nroleRef: {kind: ClusterRole, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa}\n";
        let mut rs = resources(text);
        move_to(&mut rs[0], "sa", "a");
        move_to(&mut rs[1], "sa", "b");
        let err = apply(&mut rs, &[]).map_err(|(m, _)| m).unwrap_err();
        assert!(err.contains("found multiple possible referrals"), "{err}");
        // The same, but the binding and one account share a prefix: that one is chosen.
        let mut rs = resources(text);
        move_to(&mut rs[0], "x-sa", "a");
        rs[0].affixes.0.push("x-".into());
        move_to(&mut rs[1], "y-sa", "b");
        rs[1].affixes.0.push("y-".into());
        rs[2].affixes.0.push("x-".into());
        assert_eq!(apply(&mut rs, &[]), Ok(()));
        assert_eq!(
            first_subject(&rs[2]).and_then(|s| s.str_at(&["name"]).map(str::to_string)).as_deref(),
            Some("x-sa")
        );
    }

    #[test]
    fn deprecated_service_account_field_is_not_a_reference() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {serviceAccount: sa, serviceAccountName: sa}\n",
        );
        rs[0].set_name("sa-x".into());
        assert_eq!(apply(&mut rs, &[]), Ok(()));
        assert_eq!(rs[1].node.str_at(&["spec", "serviceAccount"]), Some("sa"));
        assert_eq!(rs[1].node.str_at(&["spec", "serviceAccountName"]), Some("sa-x"));
    }

    #[test]
    fn escaped_slashes_stay_in_one_key() {
        assert_eq!(split_path(r"metadata/annotations/a.io\/b"), ["metadata", "annotations", "a.io/b"]);
        assert_eq!(split_path("/spec/x"), ["spec", "x"]);
    }
}
