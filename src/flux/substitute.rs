//! Flux post-build variable substitution (`spec.postBuild.substitute` / `substituteFrom`),
//! applied to one rendered object the way kustomize-controller applies it: the object is
//! written out as YAML, `envsubst` runs over the whole text, and the text is read back.
//! Working on text (not on string values) is what gives Flux its typing: `replicas: ${N}`
//! becomes an integer, and a value holding `a: b` becomes a map. Reproducing that is the point;
//! fluxgate then maps every problem back to the line in the repository that holds the `${VAR}`.
//!
//! Verified against `fluxcd/pkg` (`kustomize/kustomize_varsub.go`, `envsubst/`):
//! objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are left
//! alone; values have their newlines removed; the text is read back with `sigs.k8s.io/yaml`
//! (go-yaml v2, so YAML 1.1 booleans: a value `yes` becomes `true`).

pub use crate::source::vars::{has_reference, valid_name};
use indexmap::IndexMap;

use super::envsubst;
use crate::rules::Rule;
use crate::schema::PathSeg;
use crate::source::emit::emit_node;
use crate::source::yaml::{self, Dialect};
use crate::source::{FileId, Limits, Loc, Node, Value};

/// The label/annotation key that switches substitution off for one object.
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The variables of one Flux Kustomization, in the order the caller merged them
/// (`substituteFrom` sources first, then inline `substitute`, which wins). Ordered so reports
/// that list variables are stable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars {
    map: IndexMap<String, String>,
}

impl Vars {
    pub fn new() -> Self {
        Vars::default()
    }

    /// Sets a variable (a later source overrides an earlier one). Newlines are removed from the
    /// value, as kustomize-controller does for every source, so a value can never break the
    /// YAML line it lands on.
    pub fn insert(&mut self, name: impl Into<String>, value: impl AsRef<str>) {
        self.map.insert(name.into(), value.as_ref().replace('\n', ""));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Names Flux rejects (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`); the controller fails the whole
    /// Kustomization on one of them, so the caller reports them once, not per object.
    pub fn invalid_names(&self) -> Vec<&str> {
        self.map.keys().filter(|k| !valid_name(k)).map(String::as_str).collect()
    }
}

impl<K: Into<String>, V: AsRef<str>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v = Vars::new();
        for (k, val) in iter {
            v.insert(k, val);
        }
        v
    }
}

/// One substitution problem, located by the path (in the original object) of the string that
/// holds the reference, so the caller can point at its line. For a `${...}` in a map key the
/// path is the map's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubstError {
    pub rule: Rule,
    pub path: Vec<PathSeg>,
    /// The variable concerned; empty when a malformed expression has no readable name.
    pub var: String,
    pub message: String,
}

/// Whether the object opted out of substitution (label or annotation `...: disabled`).
pub fn is_disabled(obj: &Node) -> bool {
    ["labels", "annotations"]
        .iter()
        .any(|m| obj.path(&["metadata", m, SUBSTITUTE_KEY]).and_then(Node::as_str) == Some("disabled"))
}

/// Applies post-build substitution to one rendered object. `strict` is Flux 2.9's default: a
/// `${VAR}` that is unset and has no default is an error (lenient mode, Flux < 2.9, expands it
/// to an empty string). Nodes whose path survives keep their original location even when
/// their value changed; nodes the substitution created take the location of the nearest
/// surviving ancestor (the string that held the reference).
pub fn substitute(obj: &Node, vars: &Vars, strict: bool) -> Result<Node, Vec<SubstError>> {
    substitute_changed(obj, vars, strict).map(|n| n.unwrap_or_else(|| obj.clone()))
}

/// [`substitute`], giving `None` when the object comes out unchanged: most objects hold no
/// `${`, and copying each one only to replace it by itself cost a tenth of a Flux render.
pub fn substitute_changed(obj: &Node, vars: &Vars, strict: bool) -> Result<Option<Node>, Vec<SubstError>> {
    if is_disabled(obj) || !has_dollar(obj) {
        return Ok(None);
    }
    let lookup = |n: &str| vars.get(n).map(str::to_string);

    // Check each string on its own first, so every problem is reported at its own path.
    let mut errors = Vec::new();
    let mut found = Vec::new();
    // Each string that holds a `$`: its path, its text, and its text substituted.
    let mut strings: Vec<(Vec<PathSeg>, String, String)> = Vec::new();
    walk_strings(obj, &mut Vec::new(), &mut |path, s| {
        if !s.contains('$') {
            return;
        }
        match envsubst::parse(s) {
            Err(f) => errors.push(SubstError {
                rule: Rule::FluxSubstituteInvalid,
                path: path.to_vec(),
                var: f.var.clone().unwrap_or_default(),
                message: format!("invalid substitution expression in '{}': {}", shorten(s), f.error),
            }),
            Ok(pieces) => {
                let mut unset = Vec::new();
                let out = envsubst::eval(&pieces, &lookup, strict, &mut unset);
                strings.push((path.to_vec(), s.to_string(), out));
                let mut seen: Vec<&str> = Vec::new();
                for v in &unset {
                    if !seen.contains(&v.as_str()) {
                        seen.push(v);
                        errors.push(SubstError {
                            rule: Rule::FluxSubstituteUnset,
                            path: path.to_vec(),
                            var: v.clone(),
                            message: format!("variable '{v}' is not set and has no default"),
                        });
                    }
                }
                let mut names = Vec::new();
                envsubst::referenced(&pieces, &mut names);
                found.extend(names.into_iter().map(|n| (path.to_vec(), n)));
            }
        }
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    match substitute_scalars(obj, &strings) {
        Some(fast) => Ok(fast),
        None => substitute_text(obj, vars, strict, &found),
    }
}

/// Exactly what the controller does: the object written out, substituted as text, read back.
fn substitute_text(
    obj: &Node,
    vars: &Vars,
    strict: bool,
    found: &[(Vec<PathSeg>, String)],
) -> Result<Option<Node>, Vec<SubstError>> {
    let lookup = |n: &str| vars.get(n).map(str::to_string);
    let text = emit_node(obj);
    let pieces = envsubst::parse(&text).map_err(|f| {
        vec![SubstError {
            rule: Rule::FluxSubstituteInvalid,
            path: Vec::new(),
            var: f.var.unwrap_or_default(),
            message: format!("variable substitution failed: {}", f.error),
        }]
    })?;
    let mut unset = Vec::new();
    let out = envsubst::eval(&pieces, &lookup, strict, &mut unset);
    if let Some(v) = unset.first() {
        return Err(vec![SubstError {
            rule: Rule::FluxSubstituteUnset,
            path: Vec::new(),
            var: v.clone(),
            message: format!("variable '{v}' is not set and has no default"),
        }]);
    }
    if out == text {
        return Ok(None);
    }

    let parsed = yaml::parse(&out, FileId(u32::MAX), Dialect::Yaml11, &Limits::default());
    let problem = match (&parsed.error, parsed.docs.len()) {
        (Some(e), _) => Some(e.message.clone()),
        (None, 1) => None,
        (None, n) => Some(format!("the result holds {n} YAML documents instead of one")),
    };
    if let Some(problem) = problem {
        return Err(culprits(found, vars)
            .into_iter()
            .map(|(path, var)| {
                let value = vars.get(&var).unwrap_or("");
                SubstError {
                    rule: Rule::FluxSubstituteInvalid,
                    message: format!(
                        "substituting variable '{var}' (value '{}') does not give valid YAML: {problem}",
                        shorten(value)
                    ),
                    path,
                    var,
                }
            })
            .collect());
    }
    let Some(mut new) = parsed.docs.into_iter().next() else { return Ok(None) };
    copy_locs(&mut new, Some(obj), obj.loc);
    Ok(Some(new))
}

/// The whole-text substitution's result without writing and reading the object, when every
/// string that holds a `$` is one the text substitution can only turn into one scalar in its
/// place ([`scalar_in_place`]) and no key holds a `$`; `None` when one is not. `Some(None)`:
/// nothing changes. Writing and re-reading each object was most of a Flux render's cost.
fn substitute_scalars(obj: &Node, strings: &[(Vec<PathSeg>, String, String)]) -> Option<Option<Node>> {
    if has_dollar_key(obj) {
        return None;
    }
    let mut changed = Vec::new();
    for (path, before, after) in strings {
        let node = scalar_in_place(before, after)?;
        if !matches!(&node.value, Value::Str(s) if s == before) {
            changed.push((path, node));
        }
    }
    if changed.is_empty() {
        return Some(None);
    }
    let mut out = obj.clone();
    for (path, node) in changed {
        let slot = node_at_mut(&mut out, path)?;
        // The path survives: the value keeps the location of the string that held the reference.
        slot.value = node.value;
    }
    Some(Some(out))
}

/// What reading back the object's text gives in place of the string `before` once it is
/// substituted to `after`, when that cannot depend on where the string sits: `before` is
/// written as a plain scalar on one line (no whitespace or quotes, and the writer leaves it
/// unquoted), so the text substitution writes `after` plain in its place; and `after` is a
/// plain scalar that no context reads differently (no whitespace, no indicator first, only
/// characters with no meaning inside a plain scalar). It is read as a document of its own,
/// which gives its YAML 1.1 type as the controller's reader does (`3` an integer, `yes` true).
fn scalar_in_place(before: &str, after: &str) -> Option<Node> {
    let quiet = |c: char| c.is_ascii_alphanumeric() || "._/-:+=~,$".contains(c);
    let plain_before = !before.is_empty()
        && before.chars().all(|c| quiet(c) || c == '{' || c == '}')
        && emit_node(&Node::string(before, Loc::NONE)) == format!("{before}\n");
    let first_ok = after.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/');
    if !plain_before || !first_ok || !after.chars().all(quiet) || after.ends_with(':') || after.contains('$') {
        return None;
    }
    let parsed = yaml::parse(after, FileId(u32::MAX), Dialect::Yaml11, &Limits::default());
    match (parsed.error, <[Node; 1]>::try_from(parsed.docs)) {
        (None, Ok([doc])) if !matches!(doc.value, Value::Map(_) | Value::Seq(_)) => Some(doc),
        _ => None,
    }
}

fn has_dollar_key(n: &Node) -> bool {
    match &n.value {
        Value::Seq(s) => s.iter().any(has_dollar_key),
        Value::Map(m) => m.iter().any(|(k, v)| k.contains('$') || has_dollar_key(v)),
        _ => false,
    }
}

fn node_at_mut<'n>(node: &'n mut Node, path: &[PathSeg]) -> Option<&'n mut Node> {
    path.iter().try_fold(node, |n, seg| match (seg, &mut n.value) {
        (PathSeg::Key(k), Value::Map(m)) => m.get_mut(k.as_str()),
        (PathSeg::Index(i), Value::Seq(s)) => s.get_mut(*i),
        _ => None,
    })
}

/// Every `${var}` reference in the object (defaults' nested references included), with the
/// path of the string holding it, in document order. A disabled object references nothing;
/// malformed expressions are left to [`substitute`] to report.
pub fn references(obj: &Node) -> Vec<(Vec<PathSeg>, String)> {
    let mut out = Vec::new();
    if is_disabled(obj) {
        return out;
    }
    walk_strings(obj, &mut Vec::new(), &mut |path, s| {
        if !s.contains('$') {
            return;
        }
        if let Ok(pieces) = envsubst::parse(s) {
            let mut names = Vec::new();
            envsubst::referenced(&pieces, &mut names);
            out.extend(names.into_iter().map(|n| (path.to_vec(), n)));
        }
    });
    out
}

/// The references to blame when the substituted text no longer parses: those whose value holds
/// characters that mean something in YAML; failing that, every set variable referenced.
fn culprits(found: &[(Vec<PathSeg>, String)], vars: &Vars) -> Vec<(Vec<PathSeg>, String)> {
    let special = |v: &str| {
        v.starts_with(['-', '?', ' '])
            || v.ends_with(' ')
            || v.contains([
                ':', '#', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '\\', '\t',
            ])
    };
    let pick = |want_special: bool| {
        let mut out: Vec<(Vec<PathSeg>, String)> = Vec::new();
        for (path, var) in found {
            let Some(v) = vars.get(var) else { continue };
            if (!want_special || special(v)) && !out.iter().any(|(_, o)| o == var) {
                out.push((path.clone(), var.clone()));
            }
        }
        out
    };
    let mut out = pick(true);
    if out.is_empty() {
        out = pick(false);
    }
    if out.is_empty() {
        out = found.first().cloned().into_iter().collect();
    }
    if out.is_empty() {
        out.push((Vec::new(), String::new()));
    }
    out
}

fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX { s.to_string() } else { s.chars().take(MAX).collect::<String>() + "…" }
}

fn has_dollar(n: &Node) -> bool {
    match &n.value {
        Value::Str(s) => s.contains('$'),
        Value::Seq(s) => s.iter().any(has_dollar),
        Value::Map(m) => m.iter().any(|(k, v)| k.contains('$') || has_dollar(v)),
        _ => false,
    }
}

/// Calls `f` for every string value and every map key (keys with the map's path).
fn walk_strings(n: &Node, path: &mut Vec<PathSeg>, f: &mut dyn FnMut(&[PathSeg], &str)) {
    match &n.value {
        Value::Str(s) => f(path, s),
        Value::Seq(s) => {
            for (i, v) in s.iter().enumerate() {
                path.push(PathSeg::Index(i));
                walk_strings(v, path, f);
                path.pop();
            }
        }
        Value::Map(m) => {
            for (k, v) in m.iter() {
                f(path, k);
                path.push(PathSeg::Key(k.clone()));
                walk_strings(v, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Gives each node of `new` the location of the node at the same path in `old`, or, where
/// `old` has no such path, the location of the nearest ancestor that it has.
fn copy_locs(new: &mut Node, old: Option<&Node>, fallback: Loc) {
    new.loc = old.map_or(fallback, |o| o.loc);
    let here = new.loc;
    match &mut new.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                copy_locs(v, old.and_then(|o| o.get(k)), here);
            }
        }
        Value::Seq(s) => {
            let olds = old.and_then(Node::as_seq);
            for (i, v) in s.iter_mut().enumerate() {
                copy_locs(v, olds.and_then(|o| o.get(i)), here);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: FileId = FileId(7);

    fn obj(src: &str) -> Node {
        let p = yaml::parse(src, FILE, Dialect::Yaml12, &Limits::default());
        assert!(p.error.is_none(), "{:?}", p.error);
        p.docs.into_iter().next().unwrap()
    }

    fn vars(v: &[(&str, &str)]) -> Vars {
        v.iter().copied().collect()
    }

    /// The in-place substitution of scalars gives what writing, substituting and reading the
    /// whole text gives, locations included, wherever it applies; and it applies to the common
    /// forms (a name, a number, a word in a longer value).
    #[test]
    fn scalars_in_place_agree_with_the_whole_text() {
        let templates = [
            "kind: ConfigMap\nmetadata:\n  name: app-${V}\n  labels:\n    env: ${V}\ndata:\n  k: ${V}\n",
            "spec:\n  replicas: ${V}\n  list:\n  - ${V}\n  - x-${V}-y\n  f: 1.5\n  t: true\n",
            "spec:\n  url: https://${V}.example.com/p\n  q: '${V}'\n  d: \"${V:=dflt}\"\n",
            "spec:\n  a: ${V}${V}\n  b: $V\n  c: pre ${V} post\n  d: ${V:-x}\n",
        ];
        let values = [
            "dev",
            "3",
            "3.0",
            "0x1F",
            "yes",
            "off",
            "null",
            "~",
            "true",
            "a:b",
            "a: b",
            "a #b",
            "- x",
            "[x]",
            "{a: 1}",
            "",
            " ",
            "x y",
            "it's",
            "q\"t",
            "back\\slash",
            "*ref",
            "&anc",
            "!tag",
            "%p",
            "@at",
            "`b`",
            ">f",
            "|l",
            "1e3",
            ".inf",
            ".5",
            "-1",
            "+1",
            "2024-01-01",
            "12:30",
            "0o17",
            "1_000",
            "x,y",
            "a=b",
            "ü",
            "a:",
            "v1.2.3",
        ];
        let mut fast_used = 0;
        for t in templates {
            let o = obj(t);
            for v in values {
                let vars = vars(&[("V", v)]);
                let mut strings = Vec::new();
                let mut found = Vec::new();
                walk_strings(&o, &mut Vec::new(), &mut |path, s| {
                    if let Ok(pieces) = envsubst::parse(s).map_err(|_| ()) {
                        let lookup = |n: &str| vars.get(n).map(str::to_string);
                        let out = envsubst::eval(&pieces, &lookup, true, &mut Vec::new());
                        if s.contains('$') {
                            strings.push((path.to_vec(), s.to_string(), out));
                        }
                        let mut names = Vec::new();
                        envsubst::referenced(&pieces, &mut names);
                        found.extend(names.into_iter().map(|n| (path.to_vec(), n)));
                    }
                });
                let Some(fast) = substitute_scalars(&o, &strings) else { continue };
                fast_used += 1;
                let text = substitute_text(&o, &vars, true, &found);
                let want = match text {
                    Ok(n) => n.unwrap_or_else(|| o.clone()),
                    Err(e) => panic!("the text fails where scalars apply: {t:?} with {v:?}: {e:?}"),
                };
                let got = fast.unwrap_or_else(|| o.clone());
                assert_eq!(emit_node(&got), emit_node(&want), "{t:?} with {v:?}");
                assert_eq!(got, want, "{t:?} with {v:?}");
                // Key order may differ (the text comes back with sorted keys); the output sorts them.
                let mut locs = (Vec::new(), Vec::new());
                walk_locs(&got, String::new(), &mut locs.0);
                walk_locs(&want, String::new(), &mut locs.1);
                locs.0.sort();
                locs.1.sort();
                assert_eq!(locs.0, locs.1, "{t:?} with {v:?}");
            }
        }
        assert!(fast_used >= 40, "the in-place path applied {fast_used} times");
    }

    fn walk_locs(n: &Node, path: String, out: &mut Vec<(String, Loc)>) {
        out.push((path.clone(), n.loc));
        match &n.value {
            Value::Map(m) => m.iter().for_each(|(k, v)| walk_locs(v, format!("{path}/{k}"), out)),
            Value::Seq(s) => s.iter().enumerate().for_each(|(i, v)| walk_locs(v, format!("{path}/{i}"), out)),
            _ => {}
        }
    }

    fn subst(src: &str, v: &[(&str, &str)]) -> String {
        emit_node(&substitute(&obj(src), &vars(v), true).unwrap())
    }

    fn errs(src: &str, v: &[(&str, &str)], strict: bool) -> Vec<SubstError> {
        substitute(&obj(src), &vars(v), strict).unwrap_err()
    }

    fn key(k: &str) -> PathSeg {
        PathSeg::Key(k.to_string())
    }

    #[test]
    fn numbers_and_bools_take_their_type_after_substitution() {
        let src = "spec:\n  replicas: ${REPLICAS}\n  port: \"${PORT}\"\n  enabled: ${ON}\n  uid: ${PUID:=1000}\n";
        // A quoted `"${PORT}"` is written plain by kustomize, so it becomes a number too.
        assert!(emit_node(&obj(src)).contains("port: ${PORT}\n"));
        let out = substitute(&obj(src), &vars(&[("REPLICAS", "3"), ("PORT", "8080"), ("ON", "true")]), true).unwrap();
        assert_eq!(out.path(&["spec", "replicas"]).unwrap().as_i64(), Some(3));
        assert_eq!(out.path(&["spec", "port"]).unwrap().as_i64(), Some(8080));
        assert_eq!(out.path(&["spec", "enabled"]).unwrap().as_bool(), Some(true));
        assert_eq!(out.path(&["spec", "uid"]).unwrap().as_i64(), Some(1000));
        // go-yaml v2 reads the substituted text: `yes` is a boolean there.
        assert_eq!(subst("a: ${X}\n", &[("X", "yes")]), "a: true\n");
    }

    #[test]
    fn strings_that_only_look_like_other_types_survive_the_round_trip() {
        let src = "a: ${X}\nb: \"on\"\nc: \"yes\"\nd: \"y\"\ne: \"3600\"\nf: \"true\"\ng: \"null\"\n";
        assert_eq!(
            subst(src, &[("X", "v")]),
            "a: v\nb: \"on\"\nc: \"yes\"\nd: \"y\"\ne: \"3600\"\nf: \"true\"\ng: \"null\"\n"
        );
    }

    #[test]
    fn defaults_and_empty_values() {
        let src = "a: ${E:=d1}\nb: ${E:-d2}\nc: ${E=d3}\nd: ${U=d4}\ne: \"${U:-with spaces: and colon}\"\nf: ${E}\n";
        assert_eq!(
            subst(src, &[("E", "")]),
            // Flux's `=` also replaces an empty value (one toDefault for all operators).
            "a: d1\nb: d2\nc: d3\nd: d4\ne: 'with spaces: and colon'\nf: null\n"
        );
    }

    #[test]
    fn dash_without_colon_is_a_syntax_error_in_flux() {
        let e = errs("a: ${U-d}\n", &[], true);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].rule, Rule::FluxSubstituteInvalid);
        assert_eq!(e[0].var, "U");
        assert_eq!(e[0].path, vec![key("a")]);
        assert!(e[0].message.contains("missing closing brace"), "{}", e[0].message);
    }

    #[test]
    fn escapes_and_bare_dollars() {
        let src = "a: $${escaped}\nb: $bare and ${X}\nc: pa$$word\n";
        assert_eq!(subst(src, &[("X", "x")]), "a: ${escaped}\nb: $bare and x\nc: pa$word\n");
        // An escaped reference is not a reference.
        let refs: Vec<String> = references(&obj(src)).into_iter().map(|(_, v)| v).collect();
        assert_eq!(refs, ["X"]);
    }

    #[test]
    fn multiple_references_and_block_scalars() {
        let src = "data:\n  url: ${PROTO:=https}://${HOST}:${PORT}/x\n  script: |\n    #!/bin/sh\n    echo ${GREETING}\n    echo $${HOME}\n";
        let out = subst(src, &[("HOST", "h"), ("PORT", "1"), ("GREETING", "hi there")]);
        assert_eq!(
            out,
            "data:\n  script: |\n    #!/bin/sh\n    echo hi there\n    echo ${HOME}\n  url: https://h:1/x\n"
        );
        let refs = references(&obj(src));
        assert_eq!(
            refs,
            vec![
                (vec![key("data"), key("url")], "PROTO".to_string()),
                (vec![key("data"), key("url")], "HOST".to_string()),
                (vec![key("data"), key("url")], "PORT".to_string()),
                (vec![key("data"), key("script")], "GREETING".to_string()),
            ]
        );
    }

    #[test]
    fn disabled_objects_are_untouched() {
        for meta in ["labels", "annotations"] {
            let src = format!("metadata:\n  {meta}:\n    {SUBSTITUTE_KEY}: disabled\ndata:\n  a: ${{MISSING}}\n");
            let o = obj(&src);
            assert_eq!(substitute(&o, &Vars::new(), true).unwrap(), o);
            assert!(references(&o).is_empty());
        }
    }

    #[test]
    fn strict_and_lenient() {
        let src = "metadata:\n  name: app-${cluster_env}\nspec:\n  list:\n  - ${A}${B}\n  - ${A}\n";
        let e = errs(src, &[], true);
        let got: Vec<(Vec<PathSeg>, &str)> = e.iter().map(|e| (e.path.clone(), e.var.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (vec![key("metadata"), key("name")], "cluster_env"),
                (vec![key("spec"), key("list"), PathSeg::Index(0)], "A"),
                (vec![key("spec"), key("list"), PathSeg::Index(0)], "B"),
                (vec![key("spec"), key("list"), PathSeg::Index(1)], "A"),
            ]
        );
        assert!(e.iter().all(|e| e.rule == Rule::FluxSubstituteUnset));
        assert_eq!(e[0].message, "variable 'cluster_env' is not set and has no default");
        // A variable set to "" is set.
        assert!(substitute(&obj(src), &vars(&[("cluster_env", ""), ("A", ""), ("B", "")]), true).is_ok());
        // Lenient (Flux < 2.9): empty strings.
        let out = substitute(&obj(src), &Vars::new(), false).unwrap();
        assert_eq!(emit_node(&out), "metadata:\n  name: app-\nspec:\n  list:\n  - null\n  - null\n");
        // Transform operators on an unset variable are errors in strict mode too.
        assert_eq!(errs("a: ${X^^}\n", &[], true)[0].var, "X");
    }

    #[test]
    fn yaml_special_values_reparse_or_fail_naming_the_variable() {
        // Text substitution then re-reading: `{a: b}` becomes a map, as in Flux.
        let out = substitute(&obj("spec:\n  value: ${X}\n"), &vars(&[("X", "{a: b}")]), true).unwrap();
        assert_eq!(out.path(&["spec", "value", "a"]).unwrap().as_str(), Some("b"));
        // The new nodes point at the line that held the reference.
        let held = obj("spec:\n  value: ${X}\n").path(&["spec", "value"]).unwrap().loc;
        assert_eq!(out.path(&["spec", "value", "a"]).unwrap().loc, held);
        // `a: b` after `value: ` and `[` cannot be read back: flux-substitute-invalid naming
        // the variable, at the reference's path.
        for bad in ["a: b", "[oops"] {
            let e = errs("spec:\n  ok: ${Y}\n  value: ${X}\n", &[("X", bad), ("Y", "fine")], true);
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].rule, Rule::FluxSubstituteInvalid);
            assert_eq!(e[0].var, "X");
            assert_eq!(e[0].path, vec![key("spec"), key("value")]);
            assert!(e[0].message.contains(&format!("'{bad}'")), "{}", e[0].message);
        }
    }

    #[test]
    fn locations_are_kept_where_paths_survive() {
        let src = "kind: Deployment\nspec:\n  replicas: ${N}\n  template:\n    image: img:${TAG}\n";
        let o = obj(src);
        let out = substitute(&o, &vars(&[("N", "2"), ("TAG", "v1")]), true).unwrap();
        for p in [&["kind"][..], &["spec"], &["spec", "replicas"], &["spec", "template", "image"]] {
            assert_eq!(out.path(p).unwrap().loc, o.path(p).unwrap().loc, "{p:?}");
        }
        assert_eq!(out.path(&["spec", "replicas"]).unwrap().loc.line, 3);
        assert_eq!(out.path(&["spec", "replicas"]).unwrap().loc.file, FILE);
        assert_eq!(out.loc, o.loc);
    }

    #[test]
    fn keys_are_substituted_and_located_at_their_map() {
        let src = "data:\n  ${ENV}-url: x\n  other: y\n";
        let o = obj(src);
        let out = substitute(&o, &vars(&[("ENV", "prod")]), true).unwrap();
        let data = o.get("data").unwrap();
        assert_eq!(out.path(&["data", "prod-url"]).unwrap().loc, data.loc);
        assert_eq!(out.path(&["data", "other"]).unwrap().loc, data.get("other").unwrap().loc);
        let e = errs(src, &[], true);
        assert_eq!((e[0].path.clone(), e[0].var.as_str()), (vec![key("data")], "ENV"));
        assert_eq!(references(&o), vec![(vec![key("data")], "ENV".to_string())]);
    }

    #[test]
    fn malformed_expressions_are_reported_per_string() {
        let e = errs("a: ${\nb: ${X\nc: ${X:=y\n", &[], true);
        assert_eq!(e.len(), 3);
        assert!(e.iter().all(|e| e.rule == Rule::FluxSubstituteInvalid));
        assert_eq!(e[0].var, "");
        assert_eq!(e[1].var, "X");
    }

    #[test]
    fn vars_strip_newlines_and_check_names() {
        let v = vars(&[("A", "x\ny"), ("1bad", "z"), ("_ok9", "")]);
        assert_eq!(v.get("A"), Some("xy"));
        assert_eq!(v.invalid_names(), ["1bad"]);
        assert!(valid_name("cluster_env") && !valid_name("a-b") && !valid_name(""));
    }

    #[test]
    fn objects_without_dollars_come_back_unchanged() {
        let o = obj("a: 1\nb: [x, y]\n");
        assert_eq!(substitute(&o, &Vars::new(), true).unwrap(), o);
        assert!(references(&o).is_empty());
    }
}
