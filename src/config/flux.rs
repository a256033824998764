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
/// (`flux.sources`, or inferred): `kind`/`namespace`/`name` name the source object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMapping {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Root of that source's artifact, relative to the repository root.
    pub path: String,
}

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
                    fc.sources.push(SourceMapping {
                        kind: get("kind")?,
                        namespace: get("namespace")?,
                        name: get("name")?,
                        path: get("path")?,
                    });
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
