//! `fluxgate explain RULE`: what a rule catches, why, the fix, and how to configure or
//! suppress it: the rule's text from docs/rules.md (both come from `policy::settings`).

use std::process::ExitCode;

use fluxgate::rules::Rule;

use super::common::write_stdout;

pub(crate) fn explain(id: &str) -> Result<ExitCode, String> {
    let Some(rule) = Rule::from_id(id.trim()) else {
        let near: Vec<&str> = Rule::ALL
            .iter()
            .map(|r| r.id())
            .filter(|r| id.split('-').filter(|w| w.len() > 2).any(|w| r.contains(w)))
            .collect();
        let hint = if near.is_empty() {
            "`fluxgate rules` lists every rule".to_string()
        } else {
            format!("did you mean {}?", near.join(", "))
        };
        return Err(format!("no rule '{id}': {hint}"));
    };
    write_stdout(&fluxgate::policy::settings::explain(rule))?;
    Ok(ExitCode::SUCCESS)
}
