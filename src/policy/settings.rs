//! How the policy settings read to people: the severity column of `fluxgate rules` and the
//! commented starter config of `fluxgate config init`. The settings themselves are data in
//! [`crate::config::policy`].

use crate::config::policy::{ParamValue, level_name, level_severity};
use crate::policy::builtin;
use crate::rules::Rule;

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
         # Docs: docs/configuration.md; `fluxgate rules` shows the effective severities.\n\
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

/// The rules page (`docs/rules.md`): every rule with its id, default severity (with the
/// `production` default where one applies), an example of what it catches and the fix, in
/// registry order, then how to configure and suppress any of them. `tests/docs.rs` keeps the
/// committed page equal to this; `fluxgate explain RULE` prints the same text for one rule.
pub fn rules_page() -> String {
    let mut s = String::from("# Rules\n\n");
    s.push_str(
        "<!-- Generated from src/rules.rs and src/rules/docs.rs: `FLUXGATE_BLESS=1 cargo test --test docs`. -->\n\n",
    );
    s.push_str("Every finding names one of these rule ids. Ids are stable: suppressions and CI configs name\n");
    s.push_str("them. `fluxgate rules [ROOT]` prints them with the severities a `.fluxgate.yaml` gives them;\n");
    s.push_str("`fluxgate explain RULE` prints one rule's row with how to configure and suppress it;\n");
    s.push_str("[configuration](configuration.md) says how to change a severity or a parameter.\n\n");
    s.push_str("| id | default | what it catches | fix |\n| --- | --- | --- | --- |\n");
    for r in Rule::ALL {
        let (example, fix) = crate::rules::docs::example_and_fix(*r);
        s.push_str(&format!("| `{}` | {} | {example} | {fix} |\n", r.id(), default_column(*r)));
    }
    s.push_str("\nRules that are not built-in policy rules (render, schema and Flux checks) have a fixed\n");
    s.push_str("severity; suppress their findings instead.\n\n## Reference\n");
    for r in Rule::ALL {
        s.push('\n');
        s.push_str(&explain(*r));
    }
    s
}

/// A rule's default severity as the rules page shows it.
fn default_column(r: Rule) -> String {
    let mut default = if builtin::is_configurable(r) {
        let spec = builtin::spec(r);
        let mut d = level_name(level_severity(spec.default_level)).to_string();
        if let Some((env, l)) = spec.env_default {
            d.push_str(&format!("; {env}: {}", level_name(level_severity(l))));
        }
        d
    } else {
        r.default_severity().as_str().to_string()
    };
    default.push_str(crate::rules::docs::default_note(r));
    default
}

const SEVERITY_FIXED: &str = "its severity is fixed (not a built-in policy rule); suppress its findings instead.";

/// How a policy rule's severity and parameters are set.
fn configure_text(r: Rule) -> String {
    let id = r.id();
    let mut t = format!(
        "in `.fluxgate.yaml` under `rules:`: `{id}: {{ severity: error | warning | off }}`, per environment under `environments: {{ production: {{ severity: error }} }}`"
    );
    let params: Vec<String> = builtin::spec(r)
        .params
        .iter()
        .map(|(name, _, default)| match default() {
            ParamValue::List(l) => format!("`{name}: [{}]`", l.join(", ")),
            ParamValue::Int(i) => format!("`{name}: {i}`"),
        })
        .collect();
    if !params.is_empty() {
        t.push_str(&format!("; parameters (defaults): {}", params.join(", ")));
    }
    t.push('.');
    t
}

/// How findings of a rule are silenced.
fn suppress_text(r: Rule) -> String {
    let id = r.id();
    format!(
        "on the object with the annotations `fluxgate.io/ignore: \"{id}\"` and `fluxgate.io/ignore-reason: \"why\"`, or in `.fluxgate.yaml` with `suppressions: [{{ rule: {id}, path: \"apps/legacy/**\", reason: \"why\" }}]` (findings about no object, such as the Flux graph's, only there). Suppressed findings stay in every report as skipped."
    )
}

/// `fluxgate explain RULE`, and the rule's section of the rules page: what it catches, why,
/// the fix, and how to configure or suppress it, as Markdown.
pub fn explain(r: Rule) -> String {
    let (example, fix) = crate::rules::docs::example_and_fix(r);
    let configure = if builtin::is_configurable(r) { configure_text(r) } else { SEVERITY_FIXED.to_string() };
    let why = r.why();
    let why = if why.is_empty() { String::new() } else { format!("- **why**: {why}\n") };
    format!(
        "### {id}\n\n{summary}.\n\n- **default severity**: {default}\n- **what it catches**: {example}\n{why}- **fix**: {fix}\n- **configure**: {configure}\n- **suppress**: {suppress}\n",
        id = r.id(),
        summary = r.summary(),
        default = default_column(r),
        suppress = suppress_text(r),
    )
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
