//! `fluxgate schemas import`: copies the CRDs found in YAML files (a chart's `crds/`, an
//! operator's release manifest) into the repository's schema catalog, one file per
//! group/kind/version, so custom resources whose CRDs are not committed still get checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::source::emit::emit_node;
use crate::source::yaml::{Dialect, parse};
use crate::source::{FileId, Limits, Mapping, Node, Value};

/// What an import did to one catalog file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Added,
    Updated,
    Unchanged,
}

/// The result of an import.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// Catalog path (relative to the catalog dir) → what happened.
    pub files: BTreeMap<String, Outcome>,
    /// Input files that could not be read or parsed, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

fn yaml_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            yaml_files(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        out.push(p.to_path_buf());
    }
}

fn s(v: &str) -> Node {
    Node::synthetic(Value::Str(v.to_string()))
}

/// A CRD holding only one version: what the catalog stores per group/kind/version.
fn single_version_crd(crd: &Node, version: &Node) -> Option<(String, Node)> {
    let group = crd.str_at(&["spec", "group"])?;
    let kind = crd.str_at(&["spec", "names", "kind"])?;
    let vname = version.str_at(&["name"])?;
    let mut spec = crd.get("spec")?.clone();
    let sm = spec.as_map_mut()?;
    sm.insert("versions".into(), Node::synthetic(Value::Seq(vec![version.clone()])));
    sm.shift_remove("conversion");
    let mut meta = Mapping::default();
    meta.insert("name".into(), s(crd.str_at(&["metadata", "name"]).unwrap_or(kind)));
    let mut obj = Mapping::default();
    obj.insert("apiVersion".into(), s("apiextensions.k8s.io/v1"));
    obj.insert("kind".into(), s("CustomResourceDefinition"));
    obj.insert("metadata".into(), Node::synthetic(Value::Map(Box::new(meta))));
    obj.insert("spec".into(), spec);
    Some((format!("{group}/{kind}_{vname}.yaml"), Node::synthetic(Value::Map(Box::new(obj)))))
}

/// Imports every CRD version found in `inputs` (files or directories) into `catalog`.
pub fn import(inputs: &[PathBuf], catalog: &Path) -> std::io::Result<Imported> {
    let mut files = Vec::new();
    for i in inputs {
        if !i.exists() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} does not exist", i.display())));
        }
        yaml_files(i, &mut files);
    }
    let mut out = Imported::default();
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                out.errors.push((f, e.to_string()));
                continue;
            }
        };
        if !text.contains("CustomResourceDefinition") {
            continue;
        }
        let parsed = parse(&text, FileId(0), Dialect::Yaml12, &Limits::default());
        if let Some(e) = parsed.error {
            out.errors.push((f.clone(), format!("line {}: {}", e.loc.line, e.message)));
        }
        for doc in &parsed.docs {
            collect(doc, &mut found, false);
        }
    }
    write(found, catalog, out)
}

/// Adds every version of `doc`, when it is a CRD, as catalog path → file text; with
/// `served_only`, the versions marked `served: false` are left out.
fn collect(doc: &Node, found: &mut BTreeMap<String, String>, served_only: bool) {
    if doc.str_at(&["kind"]) != Some("CustomResourceDefinition") {
        return;
    }
    for v in doc.path(&["spec", "versions"]).and_then(Node::as_seq).into_iter().flatten() {
        if served_only && v.get("served").and_then(Node::as_bool) == Some(false) {
            continue;
        }
        if let Some((path, crd)) = single_version_crd(doc, v) {
            found.insert(path, emit_node(&crd));
        }
    }
}

/// Imports CRD objects already parsed (the CRDs a cluster lists) into `catalog`, in the
/// layout [`import`] writes; versions the cluster does not serve are left out.
pub fn import_objects(crds: &[Node], catalog: &Path) -> std::io::Result<Imported> {
    let mut found = BTreeMap::new();
    for doc in crds {
        collect(doc, &mut found, true);
    }
    write(found, catalog, Imported::default())
}

/// Writes each catalog file whose text differs, recording what happened to each.
fn write(found: BTreeMap<String, String>, catalog: &Path, mut out: Imported) -> std::io::Result<Imported> {
    for (rel, text) in found {
        let dest = catalog.join(&rel);
        let outcome = match std::fs::read_to_string(&dest) {
            Ok(old) if old == text => Outcome::Unchanged,
            Ok(_) => Outcome::Updated,
            Err(_) => Outcome::Added,
        };
        if outcome != Outcome::Unchanged {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&dest, text)?;
        }
        out.files.insert(rel, outcome);
    }
    Ok(out)
}

/// The file in the catalog that records the Kubernetes minor version of the cluster the
/// catalog was pulled from (`schemas pull --cluster`): `validate` defaults to it.
pub const VERSION_FILE: &str = "kubernetes-version";

/// Records the cluster's minor version (`1.31`) in the catalog; whether the file changed.
pub fn record_version(catalog: &Path, minor: &str) -> std::io::Result<Outcome> {
    let dest = catalog.join(VERSION_FILE);
    let text = format!("{minor}\n");
    let outcome = match std::fs::read_to_string(&dest) {
        Ok(old) if old == text => return Ok(Outcome::Unchanged),
        Ok(_) => Outcome::Updated,
        Err(_) => Outcome::Added,
    };
    std::fs::create_dir_all(catalog)?;
    std::fs::write(&dest, text)?;
    Ok(outcome)
}

/// The Kubernetes version a catalog records, as the bundled version to check against: the
/// recorded one when bundled, else the nearest bundled one (with a note saying so).
pub fn recorded_version(catalog: &Path) -> Option<(String, Option<String>)> {
    let text = std::fs::read_to_string(catalog.join(VERSION_FILE)).ok()?;
    let v = text.lines().next()?.trim().trim_start_matches('v').to_string();
    let minor = |s: &str| s.split('.').nth(1).and_then(|m| m.parse::<u32>().ok());
    let want = minor(&v)?;
    let bundled = super::bundled::KUBERNETES_VERSIONS;
    if bundled.contains(&v.as_str()) {
        return Some((v, None));
    }
    let nearest = bundled.iter().min_by_key(|b| minor(b).map_or(u32::MAX, |m| m.abs_diff(want)))?;
    Some((
        nearest.to_string(),
        Some(format!("the cluster runs Kubernetes {v}, which is not bundled: checking against {nearest}")),
    ))
}
