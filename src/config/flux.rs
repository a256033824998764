//! The `flux:` section: which entry points a run renders, strict or lenient post-build
//! substitution, in-cluster variables, and sources mapped to directories of this repository.

use crate::source::Node;

/// Which entry points a run renders and reports (`flux.entryPoints`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryPoints {
    /// Plain kustomize directories and Flux Kustomizations (the default).
    Both,
    /// Only Flux Kustomizations.
    Flux,
    /// Only plain kustomize directories.
    Kustomize,
}

/// The `flux:` section: how Flux entry points are found and rendered.
#[derive(Clone, Debug)]
pub struct FluxConfig {
    pub entry_points: EntryPoints,
    /// Strict post-build substitution (Flux 2.9's default): an unset `${VAR}` is an error.
    pub strict: bool,
    /// Whether `flux.substitution` set `strict`; when not, the Flux version the repository
    /// installs decides (see `flux::version`).
    pub strict_configured: bool,
    /// In-cluster variables (`flux.variables`, then `--var`), under every Kustomization's own.
    pub variables: Vec<(String, String)>,
    /// Other sources mapped to directories of this repository.
    pub sources: Vec<SourceMapping>,
}

impl Default for FluxConfig {
    fn default() -> Self {
        FluxConfig {
            entry_points: EntryPoints::Both,
            strict: true,
            strict_configured: false,
            variables: Vec::new(),
            sources: Vec::new(),
        }
    }
}

/// A Flux source that is not this repository's root but whose artifact is a directory of it
/// (`flux.sources`, or inferred): `kind`/`namespace`/`name` name the source object: an
/// OCIRepository pushed from a sub-directory (`flux push artifact --path=./kubernetes`), a
/// Bucket synced from one, an ExternalArtifact whose generator the repository does not show,
/// another team's GitRepository vendored here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMapping {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Root of that source's artifact, relative to the repository root.
    pub path: String,
}

/// The kinds a Flux Kustomization's `sourceRef` may name, which `flux.sources` can map.
pub const SOURCE_KINDS: &[&str] = &["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"];

/// Parses the `flux:` section.
pub(super) fn parse_flux(v: &Node) -> Result<FluxConfig, (u32, String)> {
    let mut fc = FluxConfig::default();
    let m = v.as_map().ok_or((v.loc.line, "'flux' must be a map".to_string()))?;
    for (k, sv) in m {
        let line = sv.loc.line;
        match k.as_str() {
            "entryPoints" => {
                fc.entry_points = match sv.as_str() {
                    Some("both") => EntryPoints::Both,
                    Some("flux") => EntryPoints::Flux,
                    Some("kustomize") => EntryPoints::Kustomize,
                    _ => return Err((line, "'flux.entryPoints' must be both, flux or kustomize".into())),
                }
            }
            "substitution" => {
                fc.strict = match sv.as_str() {
                    Some("strict") => true,
                    Some("lenient") => false,
                    _ => return Err((line, "'flux.substitution' must be strict or lenient".into())),
                };
                fc.strict_configured = true;
            }
            "variables" => {
                let vm = sv.as_map().ok_or((line, "'flux.variables' must be a map of NAME: value".to_string()))?;
                for (name, val) in vm {
                    let text = val
                        .text_or_empty()
                        .ok_or((val.loc.line, format!("'flux.variables.{name}' must be a scalar value")))?;
                    fc.variables.push((name.clone(), text));
                }
            }
            "sources" => {
                let seq = sv.as_seq().ok_or((line, "'flux.sources' must be a list".to_string()))?;
                for item in seq {
                    let get = |f: &str| -> Result<String, (u32, String)> {
                        item.str_at(&[f])
                            .map(str::to_string)
                            .ok_or((item.loc.line, format!("each 'flux.sources' entry needs '{f}'")))
                    };
                    let kind = get("kind")?;
                    if !SOURCE_KINDS.contains(&kind.as_str()) {
                        return Err((
                            item.loc.line,
                            format!("'flux.sources' kind '{kind}' is not one of {}", SOURCE_KINDS.join(", ")),
                        ));
                    }
                    let path = get("path")?;
                    if path.starts_with('/') || crate::source::RelPath::parse(path.trim_start_matches("./")).is_none() {
                        return Err((item.loc.line, format!("'flux.sources' path '{path}' leaves the repository")));
                    }
                    // The namespace defaults to flux-system, where Flux keeps its sources.
                    let namespace = item.str_at(&["namespace"]).unwrap_or("flux-system").to_string();
                    fc.sources.push(SourceMapping { kind, namespace, name: get("name")?, path });
                }
            }
            other => return Err((line, format!("unknown setting 'flux.{other}'"))),
        }
    }
    Ok(fc)
}

/// Parses a `--var NAME=VALUE` command-line value.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if crate::source::vars::valid_name(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("--var '{s}' must be NAME=VALUE with NAME a valid variable name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn flux(text: &str) -> Result<FluxConfig, (u32, String)> {
        let doc = parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().next().unwrap();
        parse_flux(&doc)
    }

    #[test]
    fn sources_default_their_namespace_and_check_kind_and_path() {
        let fc = flux("sources:\n- {kind: OCIRepository, name: flux-system, path: ./kubernetes}\n").unwrap();
        assert_eq!(
            fc.sources,
            [SourceMapping {
                kind: "OCIRepository".into(),
                namespace: "flux-system".into(),
                name: "flux-system".into(),
                path: "./kubernetes".into()
            }]
        );
        let e = flux("sources:\n- {kind: HelmRepository, name: x, path: a}\n").unwrap_err();
        assert!(e.1.contains("is not one of"), "{e:?}");
        let e = flux("sources:\n- {kind: Bucket, name: x, path: ../elsewhere}\n").unwrap_err();
        assert!(e.1.contains("leaves the repository"), "{e:?}");
    }
}
