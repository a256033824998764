//! `.fluxgate.yaml` at the repository root. Every setting has a working default, so a
//! repository without the file still gets a useful run.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::source::yaml::{self, Dialect};
use crate::source::{Limits, RelPath};

pub mod admission;
pub mod audit;
pub mod flux;
pub mod helm;
mod limits;
pub mod policy;

pub use audit::{AuditConfig, DEFAULT_TEAM_LABELS};
pub use flux::{EntryPoints, FluxConfig, SourceMapping, parse_var};

/// The config file's name at the repository root.
pub const FILE_NAME: &str = ".fluxgate.yaml";

/// Severity setting for a rule: a severity, or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Off,
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
    /// `schemas.projects`: project of the bundled CRD catalog → the release to use (when the
    /// catalog holds several) or `off`. Projects not named use their default release.
    pub schema_projects: std::collections::BTreeMap<String, String>,
    /// Flux entry points and substitution.
    pub flux: FluxConfig,
    /// Named environments (`environments: {production: [globs]}`), in config order: a path
    /// belongs to the first environment one of whose globs matches it.
    pub environments: Vec<Environment>,
    /// Safety bounds on input (`limits:`): file size, alias expansion, nesting depth, documents
    /// per file, object size after patches. Crossing one is a located finding.
    pub limits: Limits,
    /// `admissionPolicies:`: ValidatingAdmissionPolicy files to evaluate against every object.
    pub admission: admission::AdmissionConfig,
    /// Built-in rule settings (`rules:`) and suppressions (`suppressions:`).
    pub policy: policy::PolicyConfig,
    /// HelmRelease rendering: the helm binary, chart cache, timeout, offline mode.
    pub helm: helm::HelmConfig,
    /// The `audit:` section: how `fluxgate audit` groups findings.
    pub audit: AuditConfig,
    /// `--cluster`: the live cluster a run may ask (read-only) for what only it knows. Set by
    /// the command line, never by the file.
    pub cluster: Option<std::sync::Arc<crate::cluster::lookup::Lookup>>,
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
            schema_projects: Default::default(),
            flux: FluxConfig::default(),
            environments: Vec::new(),
            admission: Default::default(),
            policy: Default::default(),
            helm: helm::HelmConfig::default(),
            audit: AuditConfig::default(),
            limits: Limits::default(),
            cluster: None,
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
                            "projects" => {
                                let pm = sv.as_map().ok_or_else(|| {
                                    err(sv.loc.line, "'schemas.projects' must map a project to a release or off".into())
                                })?;
                                for (name, rel) in pm {
                                    let r = match &rel.value {
                                        crate::source::Value::Str(r) => r.clone(),
                                        crate::source::Value::Bool(false) => "off".to_string(),
                                        _ => {
                                            return Err(err(
                                                rel.loc.line,
                                                format!("'schemas.projects.{name}' must be a release or off"),
                                            ));
                                        }
                                    };
                                    cfg.schema_projects.insert(name.clone(), r);
                                }
                            }
                            other => return Err(err(sv.loc.line, format!("unknown setting 'schemas.{other}'"))),
                        }
                    }
                }
                "flux" => cfg.flux = flux::parse_flux(v).map_err(|(line, m)| err(line, m))?,
                "environments" => cfg.environments = parse_environments(v).map_err(|(line, m)| err(line, m))?,
                "admissionPolicies" => {
                    cfg.admission = admission::AdmissionConfig::parse(v).map_err(|(line, m)| err(line, m))?
                }
                "rules" => policy::parse_rules(v, &mut cfg.policy).map_err(|(line, m)| err(line, m))?,
                "suppressions" => policy::parse_suppressions(v, &mut cfg.policy).map_err(|(line, m)| err(line, m))?,
                "helm" => cfg.helm = helm::HelmConfig::parse(v).map_err(|(line, m)| err(line, m))?,
                "audit" => cfg.audit = audit::parse_audit(v).map_err(|(line, m)| err(line, m))?,
                "limits" => cfg.limits = limits::parse_limits(v).map_err(|(line, m)| err(line, m))?,
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
        assert_eq!(Config::parse("limits:\n  maxDepth: 100000\n").unwrap().limits.max_depth, limits::MAX_DEPTH_CEILING);
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
