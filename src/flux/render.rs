//! Rendering one Flux Kustomization as kustomize-controller does (verified against
//! `fluxcd/pkg/kustomize/kustomize_generator.go` and the controller's `build`/`apply`):
//!
//! 1. `spec.path` with no kustomization file gets one generated: every `.yaml`/`.yml` file
//!    below it (walked in name order), except that a sub-directory holding a kustomization
//!    file is listed as one resource and not descended into.
//! 2. The kustomization is amended: `targetNamespace` replaces `namespace`; `namePrefix` /
//!    `nameSuffix` replace theirs; `patches`, `patchesStrategicMerge`, `patchesJson6902` and
//!    `components` are appended; an `images` entry replaces the one of the same name or is
//!    appended. kustomize then runs its transformers in its own fixed order.
//! 3. It is built with `LoadRestrictionsNone` inside the source.
//! 4. With `spec.postBuild`, every object is substituted (`substituteFrom` in order, then
//!    `substitute`, which wins).
//! 5. Before applying, the controller sets its owner labels
//!    (`kustomize.toolkit.fluxcd.io/name`, `/namespace`) and then `spec.commonMetadata`
//!    labels and annotations on every object's metadata (not on selectors or templates).

use std::collections::BTreeSet;

use base64::Engine as _;

use super::entry::{FluxKustomization, NAME_LABEL, NAMESPACE_LABEL};
use super::sourceignore::SourceIgnore;
use super::substitute::{Vars, substitute_changed};
use crate::kustomize::build::{Engine, Failed, Rendered, kustomization_file};
use crate::kustomize::diag::Diag;
use crate::kustomize::kustomization::{FILE_NAMES, Kustomization, Located};
use crate::rules::Rule;
use crate::schema::loc_at;
use crate::source::{Loc, Node, RelPath, Repo};

/// How substitution behaves for one run.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Flux 2.9's default: an unset `${VAR}` without a default fails the build.
    pub strict: bool,
    /// In-cluster variables the repository cannot know (config, then `--var`); the lowest
    /// layer, under `substituteFrom` and `substitute`.
    pub variables: Vec<(String, String)>,
    /// What decided `strict` (the Flux version the repository installs, or the config), named
    /// in substitution findings.
    pub strict_why: String,
    /// An admission webhook the repository installs that adds `substituteFrom` to every Flux
    /// Kustomization in the cluster (`file:line` of its HelmRelease): variables with no value
    /// here may come from it, so they are kept as written, with a warning.
    pub injecting_webhook: Option<String>,
    /// `validate --cluster`: the live cluster, asked for the keys of `substituteFrom` objects
    /// the repository cannot show (never their values).
    pub cluster: Option<std::sync::Arc<crate::cluster::lookup::Lookup>>,
}

/// A `substituteFrom` object as the tree finds it.
#[derive(Clone, Debug)]
pub enum Found {
    /// In this cluster's render (or a repository file that names the same namespace).
    Object(Node),
    /// Not in this cluster's Flux render but made for it: by an ExternalSecret, or a
    /// repository file applied outside Flux (a bootstrap Secret). `by` names the maker for the
    /// message; `node` is what the repository shows of the object, when it shows it.
    Generated { by: String, node: Option<Node> },
}

/// Looks up a ConfigMap or Secret by kind, namespace and name, as the cluster would have it.
pub type Lookup<'a> = dyn Fn(&str, &str, &str) -> Option<Found> + Sync + 'a;

/// The variables of one Flux Kustomization and what is known about them.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub vars: Vars,
    /// Findings about the sources (cluster-provided objects), not failures.
    pub notes: Vec<Diag>,
    /// Some source's keys are unknown here (made in the cluster, or missing): a `${VAR}` with
    /// no value is kept as written instead of failing, since the cluster may set it.
    pub open: bool,
}

/// Substitutes one object in place, as strictly as the installed Flux does: an unset variable
/// fails the build under strict substitution (an error naming the version that makes it
/// fail); under lenient substitution it becomes an empty string (a warning), and the object
/// is substituted the lenient way.
fn substitute_one(node: &mut Node, vars: &Vars, settings: &Settings, open: bool, notes: &mut Vec<Diag>) {
    const HELP: &str = "set it in postBuild.substitute / substituteFrom, give a default (`${VAR:=value}`), \
                        or pass --var NAME=VALUE for an in-cluster value";
    let errs = match substitute_changed(node, vars, true) {
        Ok(n) => {
            if let Some(n) = n {
                *node = n;
            }
            return;
        }
        Err(errs) => errs,
    };
    let unset_only = errs.iter().all(|e| e.rule == Rule::FluxSubstituteUnset);
    if let (Some(webhook), true) = (&settings.injecting_webhook, unset_only) {
        let mut more = vars.clone();
        for e in &errs {
            more.insert(e.var.clone(), format!("${{{}}}", e.var));
        }
        if let Ok(n) = substitute_changed(node, &more, true) {
            for e in &errs {
                notes.push(
                    Diag::note(
                        Rule::FluxSubstituteExternal,
                        loc_at(node, &e.path),
                        format!(
                            "{}: the mutating webhook installed by {webhook} adds substituteFrom to every Kustomization in the cluster, which may set it",
                            e.message
                        ),
                    )
                    .help(HELP),
                );
            }
            if let Some(n) = n {
                *node = n;
            }
            return;
        }
    }
    // Some variables live only in the cluster (a source the repository cannot show): a
    // `${VAR}` with no value here is kept as written instead of failing.
    if open && unset_only {
        let mut more = vars.clone();
        for e in &errs {
            more.insert(e.var.clone(), format!("${{{}}}", e.var));
        }
        if let Ok(n) = substitute_changed(node, &more, true) {
            if let Some(n) = n {
                *node = n;
            }
            return;
        }
    }
    if settings.strict || !unset_only {
        for e in errs {
            let msg = match e.rule {
                Rule::FluxSubstituteUnset => format!("{}: {} fails the build on it", e.message, settings.strict_why),
                _ => e.message,
            };
            notes.push(Diag::fatal(e.rule, loc_at(node, &e.path), msg).help(HELP));
        }
        return;
    }
    for e in errs {
        notes.push(
            Diag::note(
                Rule::FluxSubstituteEmpty,
                loc_at(node, &e.path),
                format!(
                    "{}: {} substitutes an empty string (from Flux 2.9 on, the build fails)",
                    e.message, settings.strict_why
                ),
            )
            .help(HELP),
        );
    }
    if let Ok(Some(n)) = substitute_changed(node, vars, false) {
        *node = n;
    }
}

/// The kustomization file the controller generates for a directory that has none.
/// Files the source artifact leaves out (`.sourceignore` and source-controller's defaults,
/// such as `.github/`) are not listed: they are not in the artifact.
pub fn generate(repo: &Repo, dir: &RelPath) -> Kustomization {
    let mut resources = Vec::new();
    let ignore = SourceIgnore::load(repo);
    walk(repo, &ignore, dir, dir, &mut resources);
    let file = dir.join("kustomization.yaml").unwrap_or_else(|| dir.clone());
    Kustomization { dir: dir.clone(), file, resources, ..Kustomization::default() }
}

fn walk(repo: &Repo, ignore: &SourceIgnore, base: &RelPath, dir: &RelPath, out: &mut Vec<Located>) {
    let Ok(entries) = repo.list_dir(dir) else { return };
    for (name, is_dir) in entries {
        let Some(p) = dir.join(&name) else { continue };
        if ignore.is_excluded(&p, is_dir) {
            continue;
        }
        let rel = || {
            let s = p.as_str().strip_prefix(base.as_str()).unwrap_or(p.as_str()).trim_start_matches('/');
            Located { value: format!("./{s}"), loc: Loc::NONE }
        };
        if is_dir {
            if FILE_NAMES.iter().any(|f| p.join(f).is_some_and(|k| repo.is_file(&k))) {
                out.push(rel());
            } else {
                walk(repo, ignore, base, &p, out);
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(rel());
        }
    }
}

/// The kustomization the controller builds for `fk` at `dir`: the directory's own (or a
/// generated one), amended with the Flux fields.
pub fn kustomization_for(engine: &Engine, dir: &RelPath, fk: &FluxKustomization) -> Result<Kustomization, Diag> {
    let mut k = match engine.load(dir)? {
        Some(k) => k,
        None => generate(engine.repo(), dir),
    };
    if let Some(ns) = &fk.target_namespace {
        k.namespace = Some(ns.clone());
    }
    if let Some(p) = &fk.name_prefix {
        k.name_prefix = Some(p.clone());
    }
    if let Some(s) = &fk.name_suffix {
        k.name_suffix = Some(s.clone());
    }
    k.patches.extend(fk.patches.iter().cloned());
    for img in &fk.images {
        match k.images.iter_mut().find(|i| i.name == img.name) {
            Some(existing) => *existing = img.clone(),
            None => k.images.push(img.clone()),
        }
    }
    k.components.extend(fk.components.iter().cloned());
    Ok(k)
}

/// The variables of `fk`: settings' variables, then `substituteFrom` in order, then
/// `substitute`. A source the cluster makes (or that is nowhere in the repository) is a note,
/// not a failure: the repository cannot show it, so its variables stay unchecked.
pub fn variables(fk: &FluxKustomization, lookup: &Lookup<'_>, settings: &Settings) -> Result<Resolved, Diag> {
    let mut out = Resolved::default();
    for (k, v) in &settings.variables {
        out.vars.insert(k.clone(), v);
    }
    let Some(pb) = &fk.post_build else { return Ok(out) };
    for src in &pb.substitute_from {
        let what = format!("substituteFrom {} '{}/{}'", src.kind, fk.key.namespace, src.name);
        match lookup(&src.kind, &fk.key.namespace, &src.name) {
            Some(Found::Object(obj)) => add_data(&mut out.vars, &src.kind, &src.name, &obj)?,
            Some(Found::Generated { by, node }) => {
                out.notes.push(
                    Diag::note(
                        Rule::FluxSubstituteGenerated,
                        src.loc,
                        format!("{what} is made in the cluster by {by}: its values are not known here"),
                    )
                    .help("variables it may set are not checked; a `${VAR}` it does not set fails in the cluster"),
                );
                match node {
                    Some(obj) => add_data(&mut out.vars, &src.kind, &src.name, &obj)?,
                    None => {
                        if cluster_keys(settings, &src.kind, &fk.key.namespace, &src.name, &mut out.vars) != Some(true)
                        {
                            out.open = true;
                        }
                    }
                }
            }
            None if src.optional => {}
            None => {
                match cluster_keys(settings, &src.kind, &fk.key.namespace, &src.name, &mut out.vars) {
                    Some(true) => continue,
                    Some(false) => {
                        let context =
                            settings.cluster.as_ref().map(|c| c.client().context().to_string()).unwrap_or_default();
                        return Err(Diag::fatal(
                            Rule::FluxSubstituteFromMissing,
                            src.loc,
                            format!("{what} is neither in the repository nor in the cluster (context {context}): the Kustomization fails"),
                        )
                        .help("create it, fix the name, or mark it `optional: true`"));
                    }
                    None => {}
                }
                out.open = true;
                out.notes.push(
                    Diag::note(
                        Rule::FluxSubstituteExternal,
                        src.loc,
                        format!(
                            "{what} is not in the repository: the cluster must provide it, or the Kustomization fails"
                        ),
                    )
                    .help(
                        "mark it `optional: true` if it may be absent; give its variables with `flux.variables` / \
                         `--var NAME=VALUE` to check what they substitute",
                    ),
                );
            }
        }
    }
    for (k, v) in &pb.substitute {
        out.vars.insert(k.clone(), v);
    }
    Ok(out)
}

/// Asks the live cluster (`validate --cluster`) for a `substituteFrom` object's keys and adds
/// each as a variable kept as written (`${KEY}`: the value stays in the cluster).
/// `Some(true)`: it exists; `Some(false)`: it does not; `None`: no cluster, or it could not say.
fn cluster_keys(settings: &Settings, kind: &str, namespace: &str, name: &str, vars: &mut Vars) -> Option<bool> {
    use crate::cluster::lookup::Fact;
    match settings.cluster.as_ref()?.data_keys(kind, namespace, name) {
        Fact::Unknown => None,
        Fact::Known(None) => Some(false),
        Fact::Known(Some(keys)) => {
            for k in keys {
                let kept = format!("${{{k}}}");
                vars.insert(k, kept);
            }
            Some(true)
        }
    }
}

/// Whether a Secret is SOPS-encrypted: a top-level `sops` block, or `ENC[...]` values. Its keys
/// are plaintext; its values are known only in the cluster.
pub fn is_sops(obj: &Node) -> bool {
    obj.get("sops").is_some_and(|n| n.as_map().is_some())
        || ["data", "stringData"].iter().any(|f| {
            obj.get(f)
                .and_then(Node::as_map)
                .is_some_and(|m| m.iter().any(|(_, v)| v.as_str().is_some_and(|t| t.starts_with("ENC["))))
        })
}

/// Adds the data of one ConfigMap/Secret. A SOPS-encrypted Secret contributes its keys with the
/// reference itself as the value (`${KEY}` stays as written): substitution never fails on it,
/// and checks treat the value as unknown, as for any unsubstituted reference.
fn add_data(vars: &mut Vars, kind: &str, name: &str, obj: &Node) -> Result<(), Diag> {
    let secret = kind == "Secret";
    let sops = secret && is_sops(obj);
    for field in ["data", "stringData"] {
        if field == "stringData" && !secret {
            continue;
        }
        for (k, v) in obj.get(field).and_then(Node::as_map).into_iter().flatten() {
            let Some(text) = v.text_or_empty() else { continue };
            if sops {
                vars.insert(k.clone(), format!("${{{k}}}"));
            } else if secret && field == "data" {
                let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()).map_err(|_| {
                    Diag::fatal(
                        Rule::FluxSubstituteInvalid,
                        v.loc,
                        format!("Secret '{name}' data '{k}' is not valid base64"),
                    )
                })?;
                vars.insert(k.clone(), String::from_utf8_lossy(&bytes));
            } else {
                vars.insert(k.clone(), text);
            }
        }
    }
    Ok(())
}

/// Renders one Flux Kustomization whose `spec.path` resolved to `dir`.
pub fn render(
    engine: &Engine,
    dir: &RelPath,
    fk: &FluxKustomization,
    lookup: &Lookup<'_>,
    settings: &Settings,
) -> Result<Rendered, Failed> {
    // A missing path is an input: adding files there changes the render.
    let fail = |error: Diag| Failed { error, notes: Vec::new(), files: BTreeSet::from([dir.clone()]) };
    if !engine.repo().is_dir(dir) {
        return Err(fail(
            Diag::fatal(
                Rule::FluxPathMissing,
                fk.path_loc,
                format!("spec.path '{}' of Kustomization {} does not exist in the source", fk.path, fk.key),
            )
            .help("paths are relative to the root of the source artifact (this repository)"),
        ));
    }
    let k = kustomization_for(engine, dir, fk).map_err(fail)?;
    let Resolved { vars, notes, open } = variables(fk, lookup, settings).map_err(fail)?;
    let rendered = engine.render_kustomization(k)?;
    // Substitution problems are notes of the render: the objects they concern are kept
    // unsubstituted, so the rest of the tree is still found and checked.
    let mut out = Rendered { resources: Vec::new(), notes: rendered.notes, files: rendered.files };
    out.notes.extend(notes);
    if let Some(f) = kustomization_file(engine.repo(), dir) {
        out.files.insert(f);
    }
    if let Some(pb) = &fk.post_build {
        let bad = vars.invalid_names();
        if !bad.is_empty() {
            out.notes.push(Diag::fatal(
                Rule::FluxSubstituteInvalid,
                pb.loc,
                format!("invalid variable names: {}", bad.join(", ")),
            ));
        }
    }
    // With no variables at all the controller skips substitution (strategy `WithVariables`,
    // the default), so nothing can fail on an unset one.
    let substitutes = fk.post_build.as_ref().is_some_and(|pb| pb.always || !vars.is_empty());
    for mut r in rendered.resources {
        if substitutes {
            substitute_one(&mut r.node, &vars, settings, open, &mut out.notes);
        }
        let name = fk.key.name.clone();
        let ns = fk.key.namespace.clone();
        set_meta(&mut r.node, "labels", &[(NAME_LABEL.to_string(), name), (NAMESPACE_LABEL.to_string(), ns)]);
        for (field, pairs) in [("labels", &fk.common_labels), ("annotations", &fk.common_annotations)] {
            let pairs: Vec<(String, String)> =
                pairs.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect();
            set_meta(&mut r.node, field, &pairs);
        }
        out.resources.push(r);
    }
    Ok(out)
}

fn set_meta(node: &mut Node, field: &str, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let loc = node.loc;
    if let Some(m) = node.ensure_map(&["metadata", field], loc) {
        for (k, v) in pairs {
            m.insert(k.clone(), Node::string(v.clone(), Loc::NONE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_kustomization_lists_files_in_walk_order_and_stops_at_kustomization_dirs() {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in [
            ("p/z.yaml", "a: 1"),
            ("p/a.yml", "a: 1"),
            ("p/sub/x.yaml", "a: 1"),
            ("p/sub/deeper/y.yaml", "a: 1"),
            ("p/base/kustomization.yaml", "resources: []"),
            ("p/base/ignored.yaml", "a: 1"),
            ("p/readme.md", "x"),
        ] {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        }
        let repo = Repo::open(dir.path()).unwrap();
        let k = generate(&repo, &RelPath::parse("p").unwrap());
        let res: Vec<&str> = k.resources.iter().map(|l| l.value.as_str()).collect();
        assert_eq!(res, ["./a.yml", "./base", "./sub/deeper/y.yaml", "./sub/x.yaml", "./z.yaml"]);
    }
}
