//! `.fluxgate.yaml` at the repository root. Every setting has a working default, so a
//! repository without the file still gets a useful run.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::source::yaml::{self, Dialect};
use crate::source::{Limits, RelPath};

/// The config file's name at the repository root.
pub const FILE_NAME: &str = ".fluxgate.yaml";

/// Severity setting for a rule: a severity, or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Off,
}

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
    pub sources: Vec<crate::flux::tree::SourceMapping>,
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

/// Settings for one run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Globs (relative to the root) of paths that are neither discovered nor scanned.
    pub ignore: Vec<String>,
    ignore_set: GlobSet,
    /// Target Kubernetes minor version (`"1.37"`); `None` = the newest bundled.
    pub kubernetes_version: Option<String>,
    /// Repo-local schema catalog directory (CRD YAML files or JSON schemas).
    pub schema_catalog: String,
    /// Extra CRD files or directories (relative to the root) whose CRDs provide schemas.
    pub crds: Vec<String>,
    /// What a custom resource without any schema is.
    pub schema_missing: Level,
    /// Flux entry points and substitution.
    pub flux: FluxConfig,
    /// Named environments (`environments: {production: [globs]}`), in config order: a path
    /// belongs to the first environment one of whose globs matches it.
    pub environments: Vec<Environment>,
    /// Safety bounds on input (`limits:`): file size, alias expansion, nesting depth, documents
    /// per file, object size after patches. Crossing one is a located finding.
    pub limits: Limits,
    /// `admissionPolicies:`: ValidatingAdmissionPolicy files to evaluate against every object.
    pub admission: crate::policy::admission::AdmissionConfig,
    /// Built-in rule settings (`rules:`) and suppressions (`suppressions:`).
    pub policy: crate::policy::settings::PolicyConfig,
    /// HelmRelease rendering: the helm binary, chart cache, timeout, offline mode.
    pub helm: crate::helm::HelmConfig,
    /// The `audit:` section: how `fluxgate audit` groups findings.
    pub audit: AuditConfig,
}

/// Default labels naming an object's owning team, first present wins (`audit.teamLabels`).
pub const DEFAULT_TEAM_LABELS: &[&str] = &["team", "app.kubernetes.io/team", "owner", "app.kubernetes.io/part-of"];

/// The `audit:` section (`audit: {teamLabels: [team, owner]}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Label keys naming an object's team or owner; the first one the object carries wins.
    pub team_labels: Vec<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { team_labels: DEFAULT_TEAM_LABELS.iter().map(|s| s.to_string()).collect() }
    }
}

/// One named environment and the path globs that select it.
#[derive(Clone, Debug)]
pub struct Environment {
    pub name: String,
    pub globs: Vec<String>,
    set: GlobSet,
}

impl Environment {
    /// An environment from globs relative to the root; `dir/**` also matches `dir` itself.
    pub fn new(name: &str, globs: Vec<String>) -> Result<Environment, String> {
        let mut b = GlobSetBuilder::new();
        for g in &globs {
            let g = g.trim_end_matches('/');
            b.add(Glob::new(g).map_err(|e| format!("bad glob '{g}' in environment '{name}': {e}"))?);
            if let Some(dir) = g.strip_suffix("/**") {
                b.add(Glob::new(dir).map_err(|e| format!("bad glob '{g}' in environment '{name}': {e}"))?);
            }
        }
        let set = b.build().map_err(|e| e.to_string())?;
        Ok(Environment { name: name.to_string(), globs, set })
    }

    /// Whether a root-relative path (an entry point's directory or a file) is in this environment.
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ignore: Vec::new(),
            ignore_set: GlobSet::empty(),
            kubernetes_version: None,
            schema_catalog: ".fluxgate/schemas".into(),
            crds: Vec::new(),
            schema_missing: Level::Warning,
            flux: FluxConfig::default(),
            environments: Vec::new(),
            admission: Default::default(),
            policy: Default::default(),
            helm: crate::helm::HelmConfig::default(),
            audit: AuditConfig::default(),
            limits: Limits::default(),
        }
    }
}

/// Why the config could not be used (exit code 2: fluxgate cannot run as configured).
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl Config {
    /// Parses the config text; unknown keys are errors so typos do not silently do nothing.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let err = |line: u32, message: String| ConfigError { file: FILE_NAME.into(), line, message };
        let parsed = yaml::parse(text, crate::source::FileId(0), Dialect::Yaml12, &Limits::default());
        if let Some(e) = parsed.error {
            return Err(err(e.loc.line, e.message));
        }
        let mut cfg = Config::default();
        let Some(doc) = parsed.docs.first() else { return Ok(cfg) };
        let m = doc.as_map().ok_or_else(|| err(doc.loc.line, "the config must be a map".into()))?;
        for (k, v) in m {
            match k.as_str() {
                "ignore" => {
                    let seq = v.as_seq().ok_or_else(|| err(v.loc.line, "'ignore' must be a list of globs".into()))?;
                    for g in seq {
                        let s = g.as_str().ok_or_else(|| err(g.loc.line, "'ignore' entries must be strings".into()))?;
                        cfg.ignore.push(s.to_string());
                    }
                }
                "kubernetesVersion" => {
                    let s = match &v.value {
                        crate::source::Value::Str(s) => s.clone(),
                        crate::source::Value::Float(f) => format!("{f}"),
                        _ => return Err(err(v.loc.line, "'kubernetesVersion' must be a string like \"1.37\"".into())),
                    };
                    cfg.kubernetes_version = Some(s);
                }
                "schemas" => {
                    let sm = v.as_map().ok_or_else(|| err(v.loc.line, "'schemas' must be a map".into()))?;
                    for (sk, sv) in sm {
                        match sk.as_str() {
                            "catalog" => {
                                cfg.schema_catalog = sv
                                    .as_str()
                                    .ok_or_else(|| err(sv.loc.line, "'schemas.catalog' must be a path".into()))?
                                    .to_string();
                            }
                            "crds" => {
                                let seq = sv
                                    .as_seq()
                                    .ok_or_else(|| err(sv.loc.line, "'schemas.crds' must be a list of paths".into()))?;
                                for c in seq {
                                    let s = c.as_str().ok_or_else(|| {
                                        err(c.loc.line, "'schemas.crds' entries must be paths".into())
                                    })?;
                                    cfg.crds.push(s.to_string());
                                }
                            }
                            "missing" => {
                                cfg.schema_missing = match sv.as_str() {
                                    Some("error") => Level::Error,
                                    Some("warning") => Level::Warning,
                                    Some("off") => Level::Off,
                                    _ => {
                                        return Err(err(
                                            sv.loc.line,
                                            "'schemas.missing' must be error, warning or off".into(),
                                        ));
                                    }
                                };
                            }
                            other => return Err(err(sv.loc.line, format!("unknown setting 'schemas.{other}'"))),
                        }
                    }
                }
                "flux" => cfg.flux = parse_flux(v).map_err(|(line, m)| err(line, m))?,
                "environments" => cfg.environments = parse_environments(v).map_err(|(line, m)| err(line, m))?,
                "admissionPolicies" => {
                    cfg.admission =
                        crate::policy::admission::AdmissionConfig::parse(v).map_err(|(line, m)| err(line, m))?
                }
                "rules" => {
                    crate::policy::settings::parse_rules(v, &mut cfg.policy).map_err(|(line, m)| err(line, m))?
                }
                "suppressions" => {
                    crate::policy::settings::parse_suppressions(v, &mut cfg.policy).map_err(|(line, m)| err(line, m))?
                }
                "helm" => cfg.helm = crate::helm::HelmConfig::parse(v).map_err(|(line, m)| err(line, m))?,
                "audit" => cfg.audit = parse_audit(v).map_err(|(line, m)| err(line, m))?,
                "limits" => cfg.limits = parse_limits(v).map_err(|(line, m)| err(line, m))?,
                other => return Err(err(v.loc.line, format!("unknown setting '{other}'"))),
            }
        }
        cfg.compile().map_err(|m| err(doc.loc.line, m))?;
        let envs: Vec<&str> = cfg.environments.iter().map(|e| e.name.as_str()).collect();
        cfg.policy.check_environments(&envs).map_err(|(line, m)| err(line, m))?;
        Ok(cfg)
    }

    /// Adds ignore globs (e.g. from the command line).
    pub fn add_ignores(&mut self, globs: &[String]) -> Result<(), String> {
        self.ignore.extend(globs.iter().cloned());
        self.compile()
    }

    fn compile(&mut self) -> Result<(), String> {
        let mut b = GlobSetBuilder::new();
        for g in &self.ignore {
            let g = g.trim_end_matches('/');
            b.add(Glob::new(g).map_err(|e| format!("bad ignore glob '{g}': {e}"))?);
            b.add(Glob::new(&format!("{g}/**")).map_err(|e| format!("bad ignore glob '{g}': {e}"))?);
        }
        self.ignore_set = b.build().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The environment a root-relative path belongs to (first match in config order), if any.
    pub fn environment_of(&self, path: &str) -> Option<&str> {
        self.environments.iter().find(|e| e.matches(path)).map(|e| e.name.as_str())
    }

    /// Whether a path is excluded by the ignore globs.
    pub fn is_ignored(&self, p: &RelPath) -> bool {
        !p.is_root() && self.ignore_set.is_match(p.as_str())
    }
}

/// Parses the `flux:` section.
fn parse_flux(v: &crate::source::Node) -> Result<FluxConfig, (u32, String)> {
    use crate::flux::entry::scalar_text;
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
                    let text = scalar_text(val)
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
                    fc.sources.push(crate::flux::tree::SourceMapping {
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

/// Parses the `environments:` section: a map of environment name to a list of path globs.
fn parse_environments(v: &crate::source::Node) -> Result<Vec<Environment>, (u32, String)> {
    let m = v.as_map().ok_or((v.loc.line, "'environments' must be a map of name: [path globs]".to_string()))?;
    let mut out = Vec::new();
    for (name, globs) in m {
        let line = globs.loc.line;
        let seq = globs.as_seq().ok_or((line, format!("'environments.{name}' must be a list of path globs")))?;
        let mut list = Vec::new();
        for g in seq {
            let s = g.as_str().ok_or((g.loc.line, format!("'environments.{name}' entries must be strings")))?;
            list.push(s.to_string());
        }
        out.push(Environment::new(name, list).map_err(|m| (line, m))?);
    }
    Ok(out)
}

/// Parses the `audit:` section: `teamLabels`, a non-empty list of label keys.
fn parse_audit(v: &crate::source::Node) -> Result<AuditConfig, (u32, String)> {
    let m = v.as_map().ok_or((v.loc.line, "'audit' must be a map".to_string()))?;
    let mut ac = AuditConfig::default();
    for (k, sv) in m {
        match k.as_str() {
            "teamLabels" => {
                let seq = sv.as_seq().ok_or((sv.loc.line, "'audit.teamLabels' must be a list of label keys".into()))?;
                let mut keys = Vec::new();
                for item in seq {
                    let s =
                        item.as_str().ok_or((item.loc.line, "'audit.teamLabels' entries must be strings".into()))?;
                    keys.push(s.to_string());
                }
                if keys.is_empty() {
                    return Err((sv.loc.line, "'audit.teamLabels' must name at least one label".into()));
                }
                ac.team_labels = keys;
            }
            other => return Err((sv.loc.line, format!("unknown setting 'audit.{other}'"))),
        }
    }
    Ok(ac)
}

/// Parses the `limits:` section: positive integers overriding the safe defaults of
/// [`Limits`] (keys `maxFileBytes`, `maxAliasExpansion`, `maxDepth`, `maxDocuments`,
/// `maxObjectNodes`).
fn parse_limits(v: &crate::source::Node) -> Result<Limits, (u32, String)> {
    let m = v.as_map().ok_or((v.loc.line, "'limits' must be a map".to_string()))?;
    let mut l = Limits::default();
    for (k, sv) in m {
        let line = sv.loc.line;
        let n =
            sv.as_i64().filter(|n| *n > 0).ok_or((line, format!("'limits.{k}' must be a positive integer")))? as u64;
        let as_usize = usize::try_from(n).map_err(|_| (line, format!("'limits.{k}' is too large")))?;
        match k.as_str() {
            "maxFileBytes" => l.max_file_bytes = n,
            "maxAliasExpansion" => l.max_alias_expansion = as_usize,
            "maxDepth" => l.max_depth = as_usize.min(MAX_DEPTH_CEILING),
            "maxDocuments" => l.max_documents = as_usize,
            "maxObjectNodes" => l.max_object_nodes = as_usize,
            other => return Err((line, format!("unknown setting 'limits.{other}'"))),
        }
    }
    Ok(l)
}

/// `limits.maxDepth` is capped here: deeper trees would overflow the stack of the recursive
/// passes over a document (a crash no finding could report).
const MAX_DEPTH_CEILING: usize = 1000;

/// Parses a `--var NAME=VALUE` command-line value.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if crate::flux::substitute::valid_name(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("--var '{s}' must be NAME=VALUE with NAME a valid variable name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_globs_match_dirs_and_below() {
        let c = Config::parse("ignore:\n- 'legacy/**'\n- vendor\n").unwrap();
        assert!(c.is_ignored(&RelPath::parse("legacy/app").unwrap()));
        assert!(c.is_ignored(&RelPath::parse("vendor/x/y").unwrap()));
        assert!(!c.is_ignored(&RelPath::parse("apps/web").unwrap()));
    }

    #[test]
    fn flux_section_parses() {
        let c = Config::parse(
            "flux:\n  entryPoints: flux\n  substitution: lenient\n  variables: {A: x, B: 3}\n  sources:\n  - {kind: GitRepository, namespace: flux-system, name: other, path: vendor/other}\n",
        )
        .unwrap();
        assert_eq!(c.flux.entry_points, EntryPoints::Flux);
        assert!(!c.flux.strict);
        assert_eq!(c.flux.variables, vec![("A".into(), "x".into()), ("B".into(), "3".into())]);
        assert_eq!(c.flux.sources[0].path, "vendor/other");
        assert_eq!(Config::parse("flux: {typo: 1}\n").unwrap_err().line, 1);
    }

    #[test]
    fn environments_match_in_config_order() {
        let c = Config::parse(
            "environments:\n  production: ['clusters/production/**', 'apps/*/production/**']\n  staging: ['**/staging/**']\n",
        )
        .unwrap();
        assert_eq!(c.environment_of("clusters/production"), Some("production"));
        assert_eq!(c.environment_of("apps/web/production/kustomization.yaml"), Some("production"));
        assert_eq!(c.environment_of("apps/web/staging"), Some("staging"));
        assert_eq!(c.environment_of("apps/web/base"), None);
        assert_eq!(Config::parse("environments:\n  prod: 'x'\n").unwrap_err().line, 2);
    }

    #[test]
    fn audit_team_labels() {
        assert_eq!(Config::default().audit.team_labels[0], "team");
        let c = Config::parse("audit:\n  teamLabels: [squad, team]\n").unwrap();
        assert_eq!(c.audit.team_labels, ["squad", "team"]);
        assert_eq!(Config::parse("audit:\n  teamLabels: []\n").unwrap_err().line, 2);
        assert_eq!(Config::parse("audit:\n  typo: 1\n").unwrap_err().line, 2);
    }

    #[test]
    fn limits_override_defaults_and_reject_bad_values() {
        let c = Config::parse("limits:\n  maxFileBytes: 1000\n  maxDocuments: 10\n").unwrap();
        assert_eq!(c.limits.max_file_bytes, 1000);
        assert_eq!(c.limits.max_documents, 10);
        assert_eq!(c.limits.max_depth, Limits::default().max_depth);
        assert_eq!(Config::parse("limits:\n  maxDepth: 100000\n").unwrap().limits.max_depth, MAX_DEPTH_CEILING);
        assert_eq!(Config::parse("limits:\n  maxDepth: 0\n").unwrap_err().line, 2);
        assert_eq!(Config::parse("limits:\n  maxDepht: 5\n").unwrap_err().line, 2);
        assert_eq!(Config::parse("limits: 5\n").unwrap_err().line, 1);
    }

    #[test]
    fn unknown_setting_is_an_error_with_line() {
        let e = Config::parse("ignore: []\nignores: [x]\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
