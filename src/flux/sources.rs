//! Where a Flux source's artifact lies in this repository, when it is not simply the repository
//! root: the cluster's own source published as an OCI artifact of a sub-directory
//! (`flux push artifact --path=./kubernetes`), and Flux 2.7's `ArtifactGenerator`, which copies
//! parts of a source (`@monorepo/apps/**` -> `@artifact/`) into an `ExternalArtifact`.
//!
//! A mapping is inferred only when the repository shows it unambiguously; otherwise the source
//! stays out of scope and `flux.sources` in `.fluxgate.yaml` says where it lies. Each inferred
//! mapping is reported (info) with the directory used, so a wrong guess is visible.

use super::entry::{FluxKustomization, SourceRef};
use crate::kustomize::resource::Resource;
use crate::source::{Node, RelPath, Repo};

/// API group of Flux 2.7's ArtifactGenerator.
pub const EXTENSIONS_GROUP: &str = "source.extensions.fluxcd.io";

/// The directory a root Kustomization's own source is rooted at: the repository root when its
/// `spec.path` exists there; otherwise the one ancestor directory of the file defining it
/// under which the path exists (an artifact of a sub-directory). `None` when no directory, or
/// more than one, fits (an artifact's `path: ./` fits everywhere, so it is never inferred).
/// Only OCIRepository and Bucket sources are artifacts of a directory; an ExternalArtifact is
/// resolved through its generator, and a GitRepository is a whole repository.
pub fn infer_own_root(repo: &Repo, fk: &FluxKustomization, file: &RelPath) -> Option<RelPath> {
    let artifact = matches!(fk.source.kind.as_str(), "OCIRepository" | "Bucket");
    // `path: ./` of an artifact exists under every directory: it shows nothing about which
    // directory (if any) the artifact was pushed from.
    if artifact && fk.dir_in(&RelPath::root()).is_some_and(|d| d.is_root()) {
        return None;
    }
    if fk.dir_in(&RelPath::root()).is_some_and(|d| repo.is_dir(&d)) {
        return Some(RelPath::root());
    }
    if !artifact {
        return None;
    }
    let mut fits = Vec::new();
    let mut dir = file.parent();
    while !dir.as_str().is_empty() {
        if fk.dir_in(&dir).is_some_and(|d| repo.is_dir(&d)) {
            fits.push(dir.clone());
        }
        dir = dir.parent();
    }
    if fits.len() == 1 { fits.pop() } else { None }
}

/// An `ExternalArtifact` source resolved through the ArtifactGenerator that produces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedRoot {
    /// The directory of this repository that the artifact's root corresponds to.
    pub root: RelPath,
    /// `namespace/name` of the generator, for the message.
    pub generator: String,
}

/// Resolves `ExternalArtifact` `source` through the ArtifactGenerators among `objects`.
/// `base` maps a generator's input source to the directory it is rooted at in this repository
/// (`None`: not this repository). Every copy rule of the artifact must copy a directory of
/// this repository (`@alias/dir/**`, `@alias/dir/`) to the same relative place in the
/// artifact (`@artifact/sub/`), so that the artifact is the tree below one directory:
/// `Err` says why not.
pub fn external_artifact(
    objects: &[Resource],
    source: &SourceRef,
    base: &dyn Fn(&SourceRef) -> Option<RelPath>,
) -> Option<Result<GeneratedRoot, String>> {
    let generators = objects.iter().filter(|r| {
        r.kind() == "ArtifactGenerator" && r.group() == EXTENSIONS_GROUP && r.namespace() == source.namespace
    });
    for g in generators {
        let mut artifacts = g.node.path(&["spec", "artifacts"]).and_then(Node::as_seq).into_iter().flatten();
        if let Some(a) = artifacts.find(|a| a.str_at(&["name"]) == Some(source.name.as_str())) {
            let generator = format!("{}/{}", g.namespace(), g.name());
            return Some(artifact_root(&g.node, a, base).map(|root| GeneratedRoot { root, generator }));
        }
    }
    None
}

fn artifact_root(
    generator: &Node,
    artifact: &Node,
    base: &dyn Fn(&SourceRef) -> Option<RelPath>,
) -> Result<RelPath, String> {
    let ns = generator.str_at(&["metadata", "namespace"]).unwrap_or("default");
    let mut root: Option<RelPath> = None;
    let copies = artifact.get("copy").and_then(Node::as_seq).map(Vec::as_slice).unwrap_or_default();
    if copies.is_empty() {
        return Err("the artifact copies nothing".into());
    }
    for c in copies {
        let from = c.str_at(&["from"]).unwrap_or("");
        let to = c.str_at(&["to"]).unwrap_or("");
        let (alias, rest) =
            from.strip_prefix('@').and_then(|f| f.split_once('/')).ok_or(format!("copy from '{from}'"))?;
        let src = generator
            .path(&["spec", "sources"])
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .find(|s| s.str_at(&["alias"]) == Some(alias))
            .ok_or(format!("copy from '{from}' names no source alias '{alias}'"))?;
        let sref = SourceRef {
            kind: src.str_at(&["kind"]).unwrap_or("").to_string(),
            namespace: src.str_at(&["namespace"]).unwrap_or(ns).to_string(),
            name: src.str_at(&["name"]).unwrap_or("").to_string(),
        };
        let Some(base_dir) = base(&sref) else {
            return Err(format!(
                "source @{alias} ({} '{}/{}') is not this repository",
                sref.kind, sref.namespace, sref.name
            ));
        };
        // `dir/**`, `dir/*`, `dir/*.yaml` and `dir/` all copy what is in `dir`.
        let dir = ["/**", "/*", "/*.yaml", "/"].iter().find_map(|suffix| rest.strip_suffix(suffix));
        let Some(dir) = dir.filter(|d| !d.contains('*')) else {
            return Err(format!("copy from '{from}' is not a whole directory (`@alias/dir/**`)"));
        };
        let dest = to.strip_prefix("@artifact").unwrap_or(to).trim_matches('/');
        let dir = dir.trim_matches('/');
        let prefix = if dest.is_empty() {
            Some(dir)
        } else if dir == dest {
            Some("")
        } else {
            dir.strip_suffix(dest).and_then(|p| p.strip_suffix('/'))
        };
        let Some(prefix) = prefix else {
            return Err(format!("copy '{from}' -> '{to}' moves the directory to another place"));
        };
        let here = if prefix.is_empty() { Some(base_dir.clone()) } else { base_dir.join(prefix) }
            .ok_or(format!("copy from '{from}' leaves the source"))?;
        match &root {
            Some(r) if *r != here => {
                return Err(format!("copies are rooted at different directories ('{r}' and '{here}')"));
            }
            _ => root = Some(here),
        }
    }
    root.ok_or_else(|| "the artifact copies nothing".into())
}

/// The message of a mapping inferred for `fk`.
pub fn mapped_message(fk: &FluxKustomization, root: &RelPath, how: &str) -> String {
    format!(
        "{} '{}/{}' of Kustomization {} is taken to be directory '{root}' of this repository ({how})",
        fk.source.kind, fk.source.namespace, fk.source.name, fk.key
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn objects(text: &str) -> Vec<Resource> {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect()
    }

    const GEN: &str = "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: gen, namespace: flux-system}\nspec:\n  sources:\n  - {alias: mono, kind: GitRepository, name: flux-system}\n  artifacts:\n  - name: infra\n    copy:\n    - {from: '@mono/infra/**', to: '@artifact/'}\n  - name: same\n    copy:\n    - {from: '@mono/apps/web/app/', to: '@artifact/apps/web/app/'}\n  - name: apps\n    copy:\n    - {from: '@mono/apps/base/**', to: '@artifact/base/'}\n    - {from: '@mono/apps/prod/**', to: '@artifact/prod/'}\n  - name: odd\n    copy:\n    - {from: '@mono/apps/base/**', to: '@artifact/x/'}\n  - name: other\n    copy:\n    - {from: '@ext/deploy/**', to: '@artifact/'}\n";

    fn resolve(name: &str) -> Option<Result<GeneratedRoot, String>> {
        let objs = objects(GEN);
        let src = SourceRef { kind: "ExternalArtifact".into(), namespace: "flux-system".into(), name: name.into() };
        let base = |s: &SourceRef| (s.name == "flux-system").then(|| RelPath::parse("repo").unwrap());
        external_artifact(&objs, &src, &base)
    }

    #[test]
    fn generator_copies_map_to_one_directory_or_say_why_not() {
        assert_eq!(resolve("infra").unwrap().unwrap().root.as_str(), "repo/infra");
        assert_eq!(resolve("apps").unwrap().unwrap().root.as_str(), "repo/apps");
        assert_eq!(resolve("same").unwrap().unwrap().root.as_str(), "repo");
        assert!(resolve("odd").unwrap().unwrap_err().contains("another place"));
        assert!(resolve("other").unwrap().unwrap_err().contains("no source alias"));
        assert!(resolve("missing").is_none());
    }
}
