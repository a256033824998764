//! The policy part of `.fluxgate.yaml`: per-rule `rules:` settings (severity, parameters,
//! per-environment overrides) and `suppressions:`. Parsed strictly: an unknown rule id or
//! parameter is a config error with its line, so a typo never silently disables a rule.

use std::collections::BTreeMap;

use globset::{Glob, GlobMatcher};

use crate::config::Level;
use crate::finding::Severity;
use crate::policy::builtin::{self, ParamKind};
use crate::rules::Rule;
use crate::source::{Node, Value};

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

fn level_severity(l: Level) -> Option<Severity> {
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
        let spec = builtin::spec(rule);
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
        if let Some((e, _)) = builtin::spec(rule).env_default
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
    let spec = builtin::spec(rule);
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
        let rule = Rule::from_id(id).filter(|r| builtin::is_configurable(*r)).ok_or_else(|| {
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

/// The severity column of `fluxgate rules` under a config: the rule's level outside any
/// environment, and ` [env: level, ...]` for the environments where it differs.
pub fn severity_column(config: &crate::config::Config, rule: Rule) -> (&'static str, String) {
    if !builtin::is_configurable(rule) {
        return (rule.default_severity().as_str(), String::new());
    }
    let base = config.policy.effective(rule, None).severity;
    let mut envs: Vec<&str> = config.environments.iter().map(|e| e.name.as_str()).collect();
    for e in config.policy.override_envs(rule) {
        if !envs.contains(&e) {
            envs.push(e);
        }
    }
    let differing: Vec<String> = envs
        .iter()
        .filter_map(|e| {
            let s = config.policy.effective(rule, Some(e)).severity;
            (s != base).then(|| format!("{e}: {}", level_name(s)))
        })
        .collect();
    let tail = if differing.is_empty() { String::new() } else { format!(" [{}]", differing.join(", ")) };
    (level_name(base), tail)
}

/// A commented starter `.fluxgate.yaml` (`fluxgate config init`): environments, the org-data
/// rules to fill in, and every built-in rule with its default, commented out.
pub fn starter_config() -> String {
    let mut s = String::from(
        "# fluxgate configuration. Unknown settings are errors, so a typo never silently does nothing.\n\
         # Docs: the README's \"Configuration\" section; `fluxgate rules` shows the effective severities.\n\
         \n\
         # Paths (globs relative to the root) that are neither rendered nor scanned.\n\
         ignore: []\n\
         \n\
         # Which paths are which environment (first match wins). A plain overlay belongs to the\n\
         # environment of its directory, a Flux entry point to the one of its cluster directory.\n\
         environments:\n  \
           production: [\"clusters/production/**\", \"apps/production/**\", \"apps/*/production/**\"]\n  \
           staging: [\"clusters/staging/**\", \"apps/staging/**\", \"apps/*/staging/**\"]\n\
         \n\
         # Built-in rules: severity (error | warning | off) or enabled: false, the rule's\n\
         # parameters, and per-environment overrides of any of them.\n\
         rules:\n  \
           # Inactive until you list your registries (prefixes, whole path components).\n  \
           image-registry-allowed:\n    \
             registries: []  # e.g. [\"europe-docker.pkg.dev/acme-platform/\", \"registry.k8s.io/\"]\n  \
           # Inactive until you list each environment's Ingress domains.\n  \
           ingress-host-domain:\n    \
             environments:\n      \
               production: { domains: [] }  # e.g. [\"*.acme.com\"]\n  \
           image-digest-required:\n    \
             severity: off\n    \
             environments:\n      \
               production: { severity: error }\n\
         \n\
         # Every built-in rule with its default (uncomment to change):\n",
    );
    for r in builtin::RULES.iter().copied().chain(std::iter::once(Rule::SuppressionUnused)) {
        let spec = builtin::spec(r);
        let mut line = format!("  # {}: {{ severity: {}", r.id(), level_name(level_severity(spec.default_level)));
        for (name, _, default) in spec.params {
            let v = match default() {
                ParamValue::List(l) => format!("[{}]", l.join(", ")),
                ParamValue::Int(i) => i.to_string(),
            };
            line.push_str(&format!(", {name}: {v}"));
        }
        if let Some((env, l)) = spec.env_default {
            line.push_str(&format!(", environments: {{ {env}: {{ severity: {} }} }}", level_name(level_severity(l))));
        }
        line.push_str(&format!(" }}  # {}\n", r.summary()));
        s.push_str(&line);
    }
    s.push_str(
        "\n# Silence findings with a reason. They still appear in every report, as skipped; a\n\
         # suppression that matches nothing is reported as suppression-unused.\n\
         # On one object instead: annotations fluxgate.io/ignore: \"rule-a,rule-b\" and\n\
         # fluxgate.io/ignore-reason: \"why\".\n\
         suppressions: []\n\
         #  - rule: image-tag-latest\n\
         #    path: \"apps/legacy/**\"        # the finding's file or entry point\n\
         #    object: \"Deployment/legacy/*\"  # optional Kind/namespace/name\n\
         #    reason: \"legacy app, replaced in Q3\"\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::finding::Severity;
    use crate::rules::Rule;

    #[test]
    fn starter_config_parses_and_every_commented_rule_line_parses_too() {
        let text = super::starter_config();
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.policy.effective(Rule::ImageDigestRequired, Some("production")).severity, Some(Severity::Error));
        // The commented defaults are valid settings as well.
        let mut rules = String::from("environments:\n  production: [x]\nrules:\n");
        for l in text.lines().filter(|l| l.starts_with("  # ") && l.contains("{ severity")) {
            let body = l.trim_start_matches("  # ");
            let body = body.rsplit_once("  #").map_or(body, |(b, _)| b);
            rules.push_str(&format!("  {body}\n"));
        }
        Config::parse(&rules).unwrap_or_else(|e| panic!("{e}\n{rules}"));
    }

    #[test]
    fn layers_apply_in_order() {
        let c = Config::parse(
            "environments:\n  production: ['p/**']\n  staging: ['s/**']\nrules:\n  probe-liveness-missing: {severity: error, environments: {staging: {severity: off}}}\n  replicas-minimum: {min: 3}\n",
        )
        .unwrap();
        assert_eq!(c.policy.effective(Rule::ProbeLivenessMissing, None).severity, Some(Severity::Error));
        assert_eq!(c.policy.effective(Rule::ProbeLivenessMissing, Some("staging")).severity, None);
        // Built-in production default survives a parameter change.
        let e = c.policy.effective(Rule::ReplicasMinimum, Some("production"));
        assert_eq!((e.severity, e.int("min", 0)), (Some(Severity::Error), 3));
        assert_eq!(c.policy.effective(Rule::ReplicasMinimum, Some("staging")).severity, None);
    }

    #[test]
    fn unknown_ids_params_and_environments_are_errors_with_lines() {
        let e = Config::parse("rules:\n  image-tag-latst: {severity: off}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("not a rule id"), "{}", e.message);
        let e = Config::parse("rules:\n  yaml-syntax: {severity: off}\n").unwrap_err();
        assert!(e.message.contains("not a configurable"), "{}", e.message);
        let e = Config::parse("rules:\n  image-tag-latest:\n    severity: off\n    registries: [x]\n").unwrap_err();
        assert_eq!(e.line, 4);
        let e = Config::parse("rules:\n  image-tag-latest:\n    severity: fatal\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e =
            Config::parse("rules:\n  image-tag-latest:\n    environments:\n      prod: {severity: off}\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("no environment 'prod'"), "{}", e.message);
        let e = Config::parse("suppressions:\n  - rule: image-tag-latest\n    path: a\n").unwrap_err();
        assert!(e.message.contains("reason"), "{}", e.message);
        let e = Config::parse("suppressions:\n  - rule: x\n    reason: y\n    objekt: z\n").unwrap_err();
        assert_eq!(e.line, 4);
    }
}
