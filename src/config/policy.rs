//! The policy part of `.fluxgate.yaml`: per-rule `rules:` settings (severity, parameters,
//! per-environment overrides) and `suppressions:`, and the configurable surface of every
//! built-in rule (default level, production default, parameters). Parsed strictly: an unknown
//! rule id or parameter is a config error with its line, so a typo never silently disables a
//! rule.

use std::collections::BTreeMap;

use globset::{Glob, GlobMatcher};

use super::Level;
use crate::rules::{Rule, Severity};
use crate::source::{Node, Value};

/// Every kind with a pod template, which the pod rules (and `labels-required` by default) check.
pub const WORKLOAD_KINDS: &[&str] =
    &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"];

/// The type of a rule parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    List,
    Int,
}

/// A parameter: name, type and default.
pub type Param = (&'static str, ParamKind, fn() -> ParamValue);

/// How a built-in rule behaves without configuration.
pub struct Spec {
    /// The level outside any environment with its own default.
    pub default_level: Level,
    /// A level for one environment name (`production`), e.g. digests required there.
    pub env_default: Option<(&'static str, Level)>,
    pub params: &'static [Param],
}

fn empty() -> ParamValue {
    ParamValue::List(Vec::new())
}
fn cpu_memory() -> ParamValue {
    ParamValue::List(vec!["cpu".into(), "memory".into()])
}
fn name_label() -> ParamValue {
    ParamValue::List(vec!["app.kubernetes.io/name".into()])
}
fn workload_kinds() -> ParamValue {
    ParamValue::List(WORKLOAD_KINDS.iter().map(|k| (*k).to_string()).collect())
}
fn two() -> ParamValue {
    ParamValue::Int(2)
}

/// The built-in rules, in documentation order.
pub const RULES: &[Rule] = &[
    Rule::ImageRegistryAllowed,
    Rule::ImageTagLatest,
    Rule::ImageDigestRequired,
    Rule::ResourcesRequestsMissing,
    Rule::ResourcesLimitsMissing,
    Rule::ProbeLivenessMissing,
    Rule::ProbeReadinessMissing,
    Rule::PodRunAsNonRoot,
    Rule::PodPrivileged,
    Rule::PodPrivilegeEscalation,
    Rule::PodCapabilitiesDropAll,
    Rule::PodReadOnlyRootFs,
    Rule::PodHostNamespace,
    Rule::PodHostPath,
    Rule::LabelsRequired,
    Rule::IngressHostDomain,
    Rule::DanglingService,
    Rule::SelectorMismatch,
    Rule::EnvDuplicateName,
    Rule::SecretPlain,
    Rule::HelmChartVersionUnpinned,
    Rule::FluxKustomizationPrune,
    Rule::FluxKustomizationInterval,
    Rule::ImageAutomationNotAllowed,
    Rule::PdbMissing,
    Rule::ReplicasMinimum,
];

/// Whether `rules.<id>` may configure this rule (the built-in rules and `suppression-unused`).
pub fn is_configurable(rule: Rule) -> bool {
    RULES.contains(&rule) || rule == Rule::SuppressionUnused
}

fn sev(rule: Rule) -> Level {
    match rule.default_severity() {
        Severity::Error => Level::Error,
        _ => Level::Warning,
    }
}

/// The spec of a configurable rule (a rule that is not one gets its default severity, no params).
pub fn spec(rule: Rule) -> Spec {
    let on = sev(rule);
    let plain = Spec { default_level: on, env_default: None, params: &[] };
    let prod_only = Spec { default_level: Level::Off, env_default: Some(("production", on)), params: &[] };
    match rule {
        Rule::ImageRegistryAllowed => Spec { params: &[("registries", ParamKind::List, empty)], ..plain },
        Rule::ImageDigestRequired | Rule::ImageAutomationNotAllowed | Rule::PdbMissing => prod_only,
        Rule::ReplicasMinimum => Spec { params: &[("min", ParamKind::Int, two)], ..prod_only },
        Rule::ResourcesRequestsMissing | Rule::ResourcesLimitsMissing => {
            Spec { params: &[("resources", ParamKind::List, cpu_memory)], ..plain }
        }
        Rule::LabelsRequired => Spec {
            params: &[("labels", ParamKind::List, name_label), ("kinds", ParamKind::List, workload_kinds)],
            ..plain
        },
        Rule::IngressHostDomain => Spec { params: &[("domains", ParamKind::List, empty)], ..plain },
        Rule::HelmChartVersionUnpinned => Spec { env_default: Some(("production", Level::Error)), ..plain },
        _ => plain,
    }
}

/// A rule parameter's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    List(Vec<String>),
    Int(i64),
}

/// One layer of settings for a rule (the rule's own, or one environment's override).
#[derive(Clone, Debug, Default)]
pub struct RuleSettings {
    /// `severity:` (or `enabled: false`, which is `Off`); `None` keeps the layer below.
    pub level: Option<Level>,
    pub params: BTreeMap<String, ParamValue>,
}

/// Everything `rules.<id>` says.
#[derive(Clone, Debug, Default)]
pub struct RuleConfig {
    pub base: RuleSettings,
    /// Overrides per environment name, with the line naming the environment.
    pub environments: BTreeMap<String, (RuleSettings, u32)>,
}

/// A `suppressions:` entry: silences findings of `rule` whose file or entry point matches
/// `path` and whose object matches `object`.
#[derive(Clone, Debug)]
pub struct ConfigSuppression {
    pub rule: String,
    pub path: Option<GlobMatcher>,
    /// Matched against `Kind/namespace/name` (namespace `_` when unset).
    pub object: Option<GlobMatcher>,
    pub reason: String,
    /// The line and column of the entry in `.fluxgate.yaml` (where an unused one is reported).
    pub line: u32,
    pub column: u32,
}

/// The `rules:` and `suppressions:` sections.
#[derive(Clone, Debug, Default)]
pub struct PolicyConfig {
    pub rules: BTreeMap<Rule, RuleConfig>,
    pub suppressions: Vec<ConfigSuppression>,
}

/// A rule's settings for one environment, all layers applied.
#[derive(Clone, Debug)]
pub struct Effective {
    /// `None`: the rule is off.
    pub severity: Option<Severity>,
    pub params: BTreeMap<&'static str, ParamValue>,
}

impl Effective {
    /// A list parameter (empty when unset).
    pub fn list(&self, name: &str) -> &[String] {
        match self.params.get(name) {
            Some(ParamValue::List(l)) => l,
            _ => &[],
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        match self.params.get(name) {
            Some(ParamValue::Int(i)) => *i,
            _ => default,
        }
    }
}

/// The severity a level gives, `None` for off.
pub fn level_severity(l: Level) -> Option<Severity> {
    match l {
        Level::Error => Some(Severity::Error),
        Level::Warning => Some(Severity::Warning),
        Level::Off => None,
    }
}

/// The name of a level as the config spells it.
pub fn level_name(s: Option<Severity>) -> &'static str {
    s.map_or("off", Severity::as_str)
}

impl PolicyConfig {
    /// The settings of a built-in rule in an environment: the built-in default, then the
    /// built-in default for that environment (e.g. `production`), then `rules.<id>`, then
    /// `rules.<id>.environments.<env>`.
    pub fn effective(&self, rule: Rule, env: Option<&str>) -> Effective {
        let spec = spec(rule);
        let mut level = spec.default_level;
        let mut params: BTreeMap<&'static str, ParamValue> = BTreeMap::new();
        for (name, _, default) in spec.params {
            params.insert(name, default());
        }
        if let (Some(e), Some(l)) = (env, spec.env_default)
            && e == l.0
        {
            level = l.1;
        }
        let mut apply = |s: &RuleSettings| {
            if let Some(l) = s.level {
                level = l;
            }
            for (k, v) in &s.params {
                if let Some((name, _, _)) = spec.params.iter().find(|(n, _, _)| n == k) {
                    params.insert(name, v.clone());
                }
            }
        };
        if let Some(rc) = self.rules.get(&rule) {
            apply(&rc.base);
            if let Some((s, _)) = env.and_then(|e| rc.environments.get(e)) {
                apply(s);
            }
        }
        Effective { severity: level_severity(level), params }
    }

    /// The environment names `rules:` overrides (to print them in `fluxgate rules`).
    pub fn override_envs(&self, rule: Rule) -> Vec<&str> {
        let mut v: Vec<&str> =
            self.rules.get(&rule).map(|r| r.environments.keys().map(String::as_str).collect()).unwrap_or_default();
        if let Some((e, _)) = spec(rule).env_default
            && !v.contains(&e)
        {
            v.push(e);
        }
        v.sort_unstable();
        v
    }

    /// Every environment a rule override names must be defined under `environments:`.
    pub fn check_environments(&self, defined: &[&str]) -> Result<(), (u32, String)> {
        for (rule, rc) in &self.rules {
            for (env, (_, line)) in &rc.environments {
                if !defined.contains(&env.as_str()) {
                    return Err((
                        *line,
                        format!("'rules.{rule}.environments.{env}': no environment '{env}' under 'environments:'"),
                    ));
                }
            }
        }
        Ok(())
    }
}

type Err = (u32, String);

fn parse_level(v: &Node, what: &str) -> Result<Level, Err> {
    match v.as_str() {
        Some("error") => Ok(Level::Error),
        Some("warning") => Ok(Level::Warning),
        Some("off") => Ok(Level::Off),
        _ => match v.as_bool() {
            // YAML 1.1 readers turn a bare `off` into false; accept it as meant.
            Some(false) => Ok(Level::Off),
            _ => Err((v.loc.line, format!("'{what}' must be error, warning or off"))),
        },
    }
}

fn parse_param(v: &Node, kind: ParamKind, what: &str) -> Result<ParamValue, Err> {
    match kind {
        ParamKind::List => {
            let seq = v.as_seq().ok_or((v.loc.line, format!("'{what}' must be a list of strings")))?;
            let mut out = Vec::new();
            for item in seq {
                out.push(
                    item.as_str().ok_or((item.loc.line, format!("'{what}' entries must be strings")))?.to_string(),
                );
            }
            Ok(ParamValue::List(out))
        }
        ParamKind::Int => match v.as_i64() {
            Some(i) if i >= 0 => Ok(ParamValue::Int(i)),
            _ => Err((v.loc.line, format!("'{what}' must be a non-negative integer"))),
        },
    }
}

/// Parses one layer (`severity`, `enabled`, parameters; `environments` only at the top).
fn parse_layer(rule: Rule, v: &Node, prefix: &str, rc: Option<&mut RuleConfig>) -> Result<RuleSettings, Err> {
    let m = v.as_map().ok_or((v.loc.line, format!("'{prefix}' must be a map")))?;
    let spec = spec(rule);
    let mut s = RuleSettings::default();
    let mut envs = BTreeMap::new();
    for (k, sv) in m {
        let what = format!("{prefix}.{k}");
        match k.as_str() {
            "severity" => s.level = Some(parse_level(sv, &what)?),
            "enabled" => match sv.as_bool() {
                Some(true) => {
                    if s.level.is_none() || s.level == Some(Level::Off) {
                        s.level = Some(if spec.default_level == Level::Off {
                            level_of(rule.default_severity())
                        } else {
                            spec.default_level
                        });
                    }
                }
                Some(false) => s.level = Some(Level::Off),
                None => return Err((sv.loc.line, format!("'{what}' must be true or false"))),
            },
            "environments" if rc.is_some() => {
                let em =
                    sv.as_map().ok_or((sv.loc.line, format!("'{what}' must be a map of environment: settings")))?;
                for (env, ev) in em {
                    let layer = parse_layer(rule, ev, &format!("{what}.{env}"), None)?;
                    envs.insert(env.clone(), (layer, ev.loc.line));
                }
            }
            _ => match spec.params.iter().find(|(n, _, _)| n == k) {
                Some((_, kind, _)) => {
                    s.params.insert(k.clone(), parse_param(sv, *kind, &what)?);
                }
                None => {
                    let known: Vec<&str> = spec.params.iter().map(|(n, _, _)| *n).collect();
                    let hint = if known.is_empty() {
                        "it takes severity, enabled and environments".to_string()
                    } else {
                        format!("it takes severity, enabled, environments and {}", known.join(", "))
                    };
                    return Err((sv.loc.line, format!("unknown setting '{what}': {hint}")));
                }
            },
        }
    }
    if let Some(rc) = rc {
        rc.environments = envs;
    }
    Ok(s)
}

fn level_of(s: Severity) -> Level {
    match s {
        Severity::Error => Level::Error,
        _ => Level::Warning,
    }
}

/// Parses `rules:`: a map of built-in rule id to settings.
pub fn parse_rules(v: &Node, into: &mut PolicyConfig) -> Result<(), Err> {
    let m = v.as_map().ok_or((v.loc.line, "'rules' must be a map of rule id: settings".to_string()))?;
    for (id, rv) in m {
        let rule = Rule::from_id(id).filter(|r| is_configurable(*r)).ok_or_else(|| {
            let why = if Rule::from_id(id).is_some() {
                "is not a configurable policy rule (use suppressions:)"
            } else {
                "is not a rule id (see `fluxgate rules`)"
            };
            (rv.loc.line.max(1), format!("'rules.{id}' {why}"))
        })?;
        let mut rc = RuleConfig::default();
        rc.base = parse_layer(rule, rv, &format!("rules.{id}"), Some(&mut rc))?;
        into.rules.insert(rule, rc);
    }
    Ok(())
}

fn glob(pattern: &str, line: u32) -> Result<GlobMatcher, Err> {
    let g = pattern.trim_end_matches('/');
    let g = g.strip_prefix("./").unwrap_or(g);
    Glob::new(g).map(|g| g.compile_matcher()).map_err(|e| (line, format!("bad glob '{pattern}': {e}")))
}

/// Parses `suppressions:`: a list of `{rule, path?, object?, reason}`.
pub fn parse_suppressions(v: &Node, into: &mut PolicyConfig) -> Result<(), Err> {
    let seq = v.as_seq().ok_or((v.loc.line, "'suppressions' must be a list".to_string()))?;
    for item in seq {
        let line = item.loc.line;
        let m = item
            .as_map()
            .ok_or((line, "each suppression must be a map with rule, path, object, reason".to_string()))?;
        let (mut rule, mut path, mut object, mut reason) = (None, None, None, None);
        for (k, sv) in m {
            let s = || match &sv.value {
                Value::Str(s) => Ok(s.clone()),
                _ => Err((sv.loc.line, format!("'suppressions[].{k}' must be a string"))),
            };
            match k.as_str() {
                "rule" => rule = Some(s()?),
                "path" => path = Some(glob(&s()?, sv.loc.line)?),
                "object" => object = Some(glob(&s()?, sv.loc.line)?),
                "reason" => reason = Some(s()?),
                other => {
                    return Err((
                        sv.loc.line,
                        format!("unknown setting 'suppressions[].{other}' (rule, path, object, reason)"),
                    ));
                }
            }
        }
        let rule = rule.ok_or((line, "a suppression needs 'rule'".to_string()))?;
        let reason =
            reason.filter(|r| !r.trim().is_empty()).ok_or((line, "a suppression needs a 'reason'".to_string()))?;
        into.suppressions.push(ConfigSuppression { rule, path, object, reason, line, column: item.loc.col.max(1) });
    }
    Ok(())
}
