//! The audit as Markdown (a wiki page, a PR comment, a build summary): the summary, the
//! trends, the counts by rule, environment and team, the suppressions, and the findings with
//! errors first. Text from the repository is escaped so it cannot break the tables or inject
//! markup (`|`, backticks, `<`, `>`, `[`, `]`, `*`, `_`, control characters).

use std::io::{self, Write};

use crate::audit::compare::{Comparison, Delta};
use crate::audit::{Audit, AuditFinding, Counts, GroupCount};

/// Findings listed in full; the rest are counted (the JSON and HTML reports have them all).
const MAX_FINDINGS: usize = 200;

/// Escapes repository text for a Markdown table cell or line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::audit::html::clean(s).chars() {
        match c {
            '\n' | '\t' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

fn counts_row(name: &str, extra: &str, c: &Counts) -> String {
    format!("| {name} |{extra} {} | {} | {} | {} | {} |\n", c.findings, c.errors, c.warnings, c.infos, c.suppressed)
}

fn groups(out: &mut String, what: &str, gs: &[GroupCount]) {
    out.push_str(&format!(
        "| {what} | entry points | objects | findings | errors | warnings | infos | suppressed |\n|---|--:|--:|--:|--:|--:|--:|--:|\n"
    ));
    for g in gs {
        out.push_str(&counts_row(&escape(&g.name), &format!(" {} | {} |", g.entry_points, g.objects), &g.counts));
    }
}

fn delta(d: &Delta) -> String {
    match d.delta {
        n if n > 0 => format!("+{n} (worse)"),
        n if n < 0 => format!("{n} (better)"),
        _ => "0".into(),
    }
}

fn deltas(out: &mut String, what: &str, ds: &[Delta], skip_zero: bool) {
    let rows: Vec<&Delta> = ds.iter().filter(|d| !skip_zero || d.delta != 0).collect();
    if rows.is_empty() {
        out.push_str(&format!("No change by {what}.\n\n"));
        return;
    }
    out.push_str(&format!("| {what} | before | now | change |\n|---|--:|--:|--:|\n"));
    for d in rows {
        out.push_str(&format!("| {} | {} | {} | {} |\n", escape(&d.name), d.before, d.after, delta(d)));
    }
    out.push('\n');
}

fn finding_line(f: &AuditFinding) -> String {
    let mut s = format!("- **{}** `{}`", f.severity, escape(&f.rule).replace('\\', ""));
    let at = f.file_line();
    if !at.is_empty() {
        s.push_str(&format!(" {}", escape(&at)));
    }
    if let Some(o) = &f.object {
        s.push_str(&format!(" ({})", escape(&o.display())));
    }
    s.push_str(&format!(": {}", escape(&f.message)));
    if let Some(r) = &f.suppressed {
        s.push_str(&format!(" — suppressed: {}", escape(r)));
    }
    s.push('\n');
    s
}

fn compare(out: &mut String, c: &Comparison) {
    out.push_str("## Trends since the previous audit\n\n");
    if let Some(g) = &c.previous_generated_at {
        out.push_str(&format!("Previous audit: {}\n\n", escape(g)));
    }
    deltas(out, "total", &c.summary, false);
    deltas(out, "rule", &c.by_rule, true);
    deltas(out, "environment", &c.by_environment, true);
    deltas(out, "team", &c.by_team, true);
    for (title, fs) in [("New findings", &c.new_findings), ("Fixed findings", &c.fixed_findings)] {
        out.push_str(&format!("### {title} ({})\n\n", fs.len()));
        for f in fs.iter().take(MAX_FINDINGS) {
            out.push_str(&finding_line(f));
        }
        if fs.len() > MAX_FINDINGS {
            out.push_str(&format!("- … and {} more\n", fs.len() - MAX_FINDINGS));
        }
        out.push('\n');
    }
}

/// Renders the audit as Markdown.
pub fn render(a: &Audit) -> String {
    let s = &a.summary;
    let mut out = String::from("# fluxgate audit\n\n");
    out.push_str(&format!(
        "Kubernetes {} · fluxgate {}{}\n\n",
        escape(a.kubernetes_version.as_deref().unwrap_or("default")),
        escape(&a.tool.version),
        a.generated_at.as_ref().map(|g| format!(" · generated {}", escape(g))).unwrap_or_default()
    ));
    out.push_str("## Summary\n\n| | |\n|---|--:|\n");
    for (label, n) in [
        ("entry points", s.entry_points),
        ("entry points failed to render", s.entry_points_failed),
        ("objects", s.objects),
        ("findings (unsuppressed)", s.counts.findings),
        ("errors", s.counts.errors),
        ("warnings", s.counts.warnings),
        ("infos", s.counts.infos),
        ("suppressed", s.counts.suppressed),
    ] {
        out.push_str(&format!("| {label} | {n} |\n"));
    }
    if let Some(c) = &a.schema_coverage {
        out.push_str(&format!("| objects checked against a schema | {} of {} |\n", c.checked, c.total));
    }
    out.push('\n');
    if let Some(c) = &a.compare {
        compare(&mut out, c);
    }
    out.push_str("## Findings by rule\n\n| rule | what it catches | findings | errors | warnings | infos | suppressed |\n|---|---|--:|--:|--:|--:|--:|\n");
    for r in &a.by_rule {
        out.push_str(&counts_row(
            &format!("`{}`", r.rule.replace('`', "")),
            &format!(" {} |", escape(r.summary.as_deref().unwrap_or(""))),
            &r.counts,
        ));
    }
    out.push_str("\n## Findings by environment\n\n");
    groups(&mut out, "environment", &a.by_environment);
    out.push_str("\n## Findings by team\n\n");
    groups(&mut out, "team", &a.by_team);
    out.push_str("\n## Suppressions\n\n");
    if a.suppressions.is_empty() {
        out.push_str("Nothing is suppressed.\n");
    } else {
        out.push_str("| reason | rule | findings |\n|---|---|--:|\n");
        for g in &a.suppressions {
            out.push_str(&format!("| {} | `{}` | {} |\n", escape(&g.reason), g.rule.replace('`', ""), g.count));
        }
    }
    out.push_str("\n## Findings\n\n");
    let mut fs: Vec<&AuditFinding> = a.findings.iter().filter(|f| f.suppressed.is_none()).collect();
    fs.sort_by_key(|f| match f.severity.as_str() {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    });
    if fs.is_empty() {
        out.push_str("No unsuppressed findings.\n");
    }
    for f in fs.iter().take(MAX_FINDINGS) {
        out.push_str(&finding_line(f));
    }
    if fs.len() > MAX_FINDINGS {
        out.push_str(&format!("- … and {} more (see the HTML or JSON report)\n", fs.len() - MAX_FINDINGS));
    }
    out
}

/// Writes the audit as Markdown.
pub fn write_markdown(audit: &Audit, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(audit).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_table_breakers() {
        assert_eq!(escape("a|b`c<d>\n[x](y)\u{1}"), "a\\|b\\`c&lt;d&gt; \\[x\\](y)\u{2401}");
    }
}
