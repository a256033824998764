//! The audit as one self-contained HTML page: inline CSS, a small inline script (sorting and
//! filtering the findings table, opening every section before printing) and server-side SVG
//! bar charts, so it opens offline and reads without JavaScript too.
//!
//! Every string from the repository goes through maud's escaping (`&`, `<`, `>`, `"`) after
//! [`clean`] has replaced control characters with visible symbols; nothing from the repository
//! is ever placed in the script or the style. Severity is never shown by colour alone: each
//! badge carries its word and a symbol, each chart segment a hatch pattern and the counts as
//! text. The numbers the summary, charts and table show carry stable ids and `data-*`
//! attributes so tests (and scripts) can read them back.

use std::io::{self, Write};

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::audit::compare::{Comparison, Delta};
use crate::audit::{Audit, AuditFinding, Counts, GroupCount, NONE};

/// Replaces control characters (other than tab and newline) with visible stand-ins: C0 controls
/// with their Unicode "control picture" (U+2400 block), DEL with ␡, C1 controls with U+FFFD.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' => c,
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

/// The page's style sheet (inlined).
const STYLE: &str = include_str!("html/style.css");

/// The page's script (inlined): filtering, sorting, linkable views, opening sections to print.
/// It reads the page only through the DOM (`textContent`, `dataset`), never as HTML.
const SCRIPT: &str = include_str!("html/script.js");

/// The symbol shown next to each severity word.
fn sev_symbol(sev: &str) -> &'static str {
    match sev {
        "error" => "\u{2716}",
        "warning" => "\u{25B2}",
        _ => "\u{2139}",
    }
}

fn sev_rank(sev: &str) -> u8 {
    match sev {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    }
}

fn badge(sev: &str) -> Markup {
    html! { span class={ "sev sev-" (sev_class(sev)) } { (sev_symbol(sev)) " " (clean(sev)) } }
}

fn sev_class(sev: &str) -> &'static str {
    match sev {
        "error" => "error",
        "warning" => "warning",
        _ => "info",
    }
}

/// Hatch patterns for the three severities, ids prefixed so several charts can share a page.
fn patterns(prefix: &str) -> Markup {
    html! {
        defs {
            pattern id={ (prefix) "-error" } width="6" height="6" patternUnits="userSpaceOnUse" {
                rect width="6" height="6" fill="#b3261e" {}
            }
            pattern id={ (prefix) "-warning" } width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                rect width="6" height="6" fill="#8a5300" {}
                rect width="2" height="6" fill="#ffffff" {}
            }
            pattern id={ (prefix) "-info" } width="6" height="6" patternUnits="userSpaceOnUse" {
                rect width="6" height="6" fill="#1d5fa8" {}
                circle cx="3" cy="3" r="1.3" fill="#ffffff" {}
            }
            pattern id={ (prefix) "-suppressed" } width="6" height="6" patternUnits="userSpaceOnUse" {
                rect width="6" height="6" fill="#ffffff" {}
                path d="M0 6L6 0" stroke="#4d4d4d" stroke-width="1" {}
            }
        }
    }
}

fn legend() -> Markup {
    let items = [("error", "#b3261e", "errors"), ("warning", "#8a5300", "warnings"), ("info", "#1d5fa8", "infos")];
    html! {
        div.legend aria-hidden="true" {
            @for (key, _, label) in items {
                span {
                    svg width="28" height="14" {
                        (patterns(&format!("lg-{key}")))
                        rect width="28" height="14" fill={ "url(#lg-" (key) "-" (key) ")" } stroke="#1b1b1b" stroke-width="0.5" {}
                    }
                    " " (sev_symbol(key)) " " (label)
                }
            }
            span {
                svg width="28" height="14" {
                    (patterns("lg-s"))
                    rect width="28" height="14" fill="url(#lg-s-suppressed)" stroke="#1b1b1b" stroke-width="0.5" {}
                }
                " suppressed"
            }
        }
    }
}

/// Shortens a label for the chart (the full text is in the row's `<title>` and the table).
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).chain(std::iter::once('…')).collect() }
}

/// One chart row: a name and its counts.
struct Bar<'a> {
    name: &'a str,
    counts: &'a Counts,
}

/// The stacked segments of one bar (pattern key, x, width; at least 2 px so a 1 is visible)
/// and where the bar ends.
fn segments(c: &Counts, start: f64, scale: &dyn Fn(usize) -> f64) -> (Vec<(&'static str, f64, f64)>, f64) {
    let mut x = start;
    let mut out = Vec::new();
    for (key, n) in [("error", c.errors), ("warning", c.warnings), ("info", c.infos), ("suppressed", c.suppressed)] {
        if n > 0 {
            let w = scale(n).max(2.0);
            out.push((key, x, w));
            x += w;
        }
    }
    (out, x)
}

/// A horizontal stacked bar chart (errors, warnings, infos, then suppressed), drawn server-side.
fn chart(id: &str, title: &str, bars: &[Bar], limit: usize) -> Markup {
    let shown = &bars[..bars.len().min(limit)];
    let max = shown.iter().map(|b| b.counts.findings + b.counts.suppressed).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (230.0_f64, 430.0_f64, 24.0_f64);
    let height = (shown.len().max(1) as f64) * row_h + 8.0;
    let width = label_w + bar_w + 230.0;
    let scale = |n: usize| n as f64 * bar_w / max as f64;
    let desc: Vec<String> = shown
        .iter()
        .map(|b| {
            format!(
                "{}: {} errors, {} warnings, {} infos, {} suppressed",
                clean(b.name),
                b.counts.errors,
                b.counts.warnings,
                b.counts.infos,
                b.counts.suppressed
            )
        })
        .collect();
    html! {
        figure id=(id) {
            figcaption { strong { (title) } }
            (legend())
            svg.chart role="img" aria-label={ (title) ". " (desc.join("; ")) } viewBox={ "0 0 " (width) " " (height) }
                width=(width) height=(height) {
                (patterns(id))
                @if shown.is_empty() {
                    text x="4" y="18" { "No findings." }
                }
                @for (i, b) in shown.iter().enumerate() {
                    @let y = i as f64 * row_h + 4.0;
                    g.bar data-name=(clean(b.name)) data-findings=(b.counts.findings) data-errors=(b.counts.errors)
                        data-warnings=(b.counts.warnings) data-infos=(b.counts.infos) data-suppressed=(b.counts.suppressed) {
                        title { (desc[i]) }
                        text x=(label_w - 6.0) y=(y + 15.0) text-anchor="end" { (short(&clean(b.name), 30)) }
                        @let (segments, end) = segments(b.counts, label_w, &scale);
                        @for (key, x, w) in segments {
                            rect x=(x) y=(y + 2.0) width=(w) height=(row_h - 6.0)
                                fill={ "url(#" (id) "-" (key) ")" } stroke="#1b1b1b" stroke-width="0.5" {}
                        }
                        text x=(end + 6.0) y=(y + 15.0) {
                            (b.counts.errors) " E · " (b.counts.warnings) " W · " (b.counts.infos) " I"
                            @if b.counts.suppressed > 0 { " · " (b.counts.suppressed) " S" }
                        }
                    }
                }
            }
            @if bars.len() > shown.len() {
                p.muted { "Showing the " (shown.len()) " with the most findings of " (bars.len()) "; the table lists all." }
            }
        }
    }
}

fn counts_cells(c: &Counts) -> Markup {
    html! {
        td.num data-key="findings" { (c.findings) }
        td.num data-key="errors" { (c.errors) }
        td.num data-key="warnings" { (c.warnings) }
        td.num data-key="infos" { (c.infos) }
        td.num data-key="suppressed" { (c.suppressed) }
    }
}

fn counts_head() -> Markup {
    html! {
        th.num scope="col" { "findings" }
        th.num scope="col" { "✖ errors" }
        th.num scope="col" { "▲ warnings" }
        th.num scope="col" { "ℹ infos" }
        th.num scope="col" { "suppressed" }
    }
}

fn group_table(id: &str, what: &str, groups: &[GroupCount]) -> Markup {
    html! {
        table id=(id) {
            caption.muted { (what) " in numbers" }
            thead { tr { th scope="col" { (what) } th.num scope="col" { "entry points" } th.num scope="col" { "objects" } (counts_head()) } }
            tbody {
                @for g in groups {
                    tr data-name=(clean(&g.name)) {
                        th scope="row" class="wrap" { (clean(&g.name)) }
                        td.num { (g.entry_points) }
                        td.num { (g.objects) }
                        (counts_cells(&g.counts))
                    }
                }
            }
        }
    }
}

fn snippet(f: &AuditFinding) -> Markup {
    let line = f.location.as_ref().map_or(0, |l| l.line);
    let width = f.snippet.iter().map(|s| s.line.to_string().len()).max().unwrap_or(1);
    html! {
        @if !f.snippet.is_empty() {
            pre aria-label="source" {
                @for s in &f.snippet {
                    @if s.line == line {
                        span.hl { (format!("{:>width$} ▶ ", s.line)) (clean(&s.text)) }
                    } @else {
                        (format!("{:>width$} │ ", s.line)) (clean(&s.text)) "\n"
                    }
                }
            }
        }
    }
}

fn object_text(f: &AuditFinding) -> String {
    f.object.as_ref().map(|o| clean(&o.display())).unwrap_or_default()
}

fn extra_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => clean(s),
        other => clean(&other.to_string()),
    }
}

fn finding_row(i: usize, f: &AuditFinding) -> Markup {
    let file_line = clean(&f.file_line());
    let sort_loc = f.location.as_ref().map(|l| format!("{}:{:>10}", clean(&l.file), l.line)).unwrap_or_default();
    html! {
        tr.finding.suppressed[f.suppressed.is_some()] id={ "f-" (i) } data-index=(i) data-severity=(sev_class(&f.severity))
            data-rule=(clean(&f.rule)) data-environment=(clean(&f.environment)) data-team=(clean(&f.team))
            data-suppressed=(if f.suppressed.is_some() { "1" } else { "0" }) {
            td data-sort=(sev_rank(&f.severity)) {
                (badge(&f.severity))
                @if f.suppressed.is_some() { " " span.supp { "suppressed" } }
            }
            td { code { (clean(&f.rule)) } }
            td.wrap { (clean(f.entry_point.as_deref().unwrap_or(""))) }
            td.wrap { (clean(&f.environment)) }
            td.wrap { (clean(&f.team)) }
            td.wrap { (object_text(f)) }
            td.wrap data-sort=(sort_loc) { code { (file_line) } }
            td.wrap {
                div { (clean(&f.message)) }
                @if let Some(h) = &f.help { div.help { "help: " (clean(h)) } }
                @if let Some(r) = &f.suppressed { div.help { "suppressed: " (clean(r)) } }
                @for (k, v) in &f.extra { div.help { (clean(k)) ": " (extra_text(v)) } }
                (snippet(f))
            }
        }
    }
}

fn options(id: &str, label: &str, values: &[String]) -> Markup {
    html! {
        label for=(id) { (label)
            select id=(id) {
                option value="" { "all" }
                @for v in values { option value=(clean(v)) { (clean(v)) } }
            }
        }
    }
}

fn findings_section(a: &Audit) -> Markup {
    let mut rules: Vec<String> = a.findings.iter().map(|f| f.rule.clone()).collect();
    rules.sort();
    rules.dedup();
    let envs: Vec<String> = a.by_environment.iter().map(|g| g.name.clone()).collect();
    let teams: Vec<String> = a.by_team.iter().map(|g| g.name.clone()).collect();
    let cols = ["Severity", "Rule", "Entry point", "Environment", "Team", "Object", "Location", "Message"];
    html! {
        section id="findings" {
            h2 { "Findings (" span id="findings-total" data-value=(a.findings.len()) { (a.findings.len()) } ")" }
            div.filters id="filters" hidden {
                label for="f-text" { "Search" input id="f-text" type="search" placeholder="text in any column"; }
                label for="f-severity" { "Severity"
                    select id="f-severity" {
                        option value="" { "all" }
                        option value="error" { "✖ error" }
                        option value="warning" { "▲ warning" }
                        option value="info" { "ℹ info" }
                    }
                }
                (options("f-rule", "Rule", &rules))
                (options("f-environment", "Environment", &envs))
                (options("f-team", "Team", &teams))
                label for="f-suppressed" { "Show suppressed" input id="f-suppressed" type="checkbox" checked; }
                span aria-live="polite" { "Showing " span id="findings-shown" { (a.findings.len()) } " of " (a.findings.len()) }
            }
            @if a.findings.is_empty() {
                p { "No findings." }
            } @else {
                table id="findings-table" {
                    thead { tr { @for c in cols { th scope="col" { button type="button" { (c) } } } } }
                    tbody { @for (i, f) in a.findings.iter().enumerate() { (finding_row(i, f)) } }
                }
            }
        }
    }
}

fn summary_section(a: &Audit) -> Markup {
    let s = &a.summary;
    let cards: [(&str, &str, usize, &str); 8] = [
        ("sum-entry-points", "entry points", s.entry_points, ""),
        ("sum-entry-points-failed", "entry points failed to render", s.entry_points_failed, ""),
        ("sum-objects", "objects", s.objects, ""),
        ("sum-findings", "findings (unsuppressed)", s.counts.findings, ""),
        ("sum-errors", "✖ errors", s.counts.errors, "err"),
        ("sum-warnings", "▲ warnings", s.counts.warnings, "warn"),
        ("sum-infos", "ℹ infos", s.counts.infos, "info"),
        ("sum-suppressed", "suppressed", s.counts.suppressed, ""),
    ];
    html! {
        section id="summary" {
            h2 { "Summary" }
            div.cards {
                @for (id, label, n, class) in cards {
                    div class={ "card " (class) } { span.n id=(id) data-value=(n) { (n) } span.l { (label) } }
                }
            }
            p {
                (s.rules) " rules with findings, " (s.environments) " environments, " (s.teams) " teams."
                @if let Some(c) = &a.schema_coverage {
                    " Schema coverage: "
                    span id="sum-coverage" data-checked=(c.checked) data-total=(c.total) {
                        (c.checked) " of " (c.total) " objects checked against a schema"
                        @if c.total > 0 { " (" (format!("{:.1}", c.checked as f64 * 100.0 / c.total as f64)) "%)" }
                    }
                    "."
                }
            }
            @if let Some(c) = a.schema_coverage.as_ref().filter(|c| !c.unchecked.is_empty()) {
                details {
                    summary { "Kinds without a schema (" (c.unchecked.len()) ")" }
                    table {
                        thead { tr { th scope="col" { "apiVersion" } th scope="col" { "kind" } th.num scope="col" { "objects" } } }
                        tbody { @for u in &c.unchecked { tr { td { (clean(&u.api_version)) } td { (clean(&u.kind)) } td.num { (u.count) } } } }
                    }
                }
            }
        }
    }
}

fn charts_section(a: &Audit) -> Markup {
    let rules: Vec<Bar> = a.by_rule.iter().map(|r| Bar { name: &r.rule, counts: &r.counts }).collect();
    let envs: Vec<Bar> = a.by_environment.iter().map(|g| Bar { name: &g.name, counts: &g.counts }).collect();
    let teams: Vec<Bar> = a.by_team.iter().map(|g| Bar { name: &g.name, counts: &g.counts }).collect();
    html! {
        section id="charts" {
            h2 { "Findings by rule, environment and team" }
            (chart("chart-rule", "Findings by rule", &rules, 40))
            details {
                summary { "Rules in numbers" }
                table id="table-rule" {
                    thead { tr { th scope="col" { "rule" } th scope="col" { "what it catches" } th scope="col" { "default" } (counts_head()) } }
                    tbody {
                        @for r in &a.by_rule {
                            tr data-name=(clean(&r.rule)) {
                                th scope="row" { code { (clean(&r.rule)) } }
                                td { (clean(r.summary.as_deref().unwrap_or(""))) }
                                td { (clean(r.default_severity.as_deref().unwrap_or(""))) }
                                (counts_cells(&r.counts))
                            }
                        }
                    }
                }
            }
            (chart("chart-environment", "Findings by environment", &envs, 40))
            details { summary { "Environments in numbers" } (group_table("table-environment", "environment", &a.by_environment)) }
            (chart("chart-team", "Findings by team (owner label)", &teams, 25))
            details { summary { "Teams in numbers" } (group_table("table-team", "team", &a.by_team)) }
        }
    }
}

fn delta_cell(d: &Delta) -> Markup {
    html! {
        td.num data-delta=(d.delta) {
            @if d.delta > 0 { span.worse { "▲ +" (d.delta) " worse" } }
            @else if d.delta < 0 { span.better { "▼ " (d.delta) " better" } }
            @else { "= 0" }
        }
    }
}

fn delta_table(id: &str, what: &str, rows: &[Delta], skip_zero: bool) -> Markup {
    let rows: Vec<&Delta> = rows.iter().filter(|d| !skip_zero || d.delta != 0).collect();
    html! {
        @if rows.is_empty() { p.muted { "No change by " (what) "." } } @else {
            table id=(id) {
                thead { tr { th scope="col" { (what) } th.num scope="col" { "before" } th.num scope="col" { "now" } th.num scope="col" { "change" } } }
                tbody {
                    @for d in rows {
                        tr data-name=(clean(&d.name)) { th scope="row" class="wrap" { (clean(&d.name)) } td.num { (d.before) } td.num { (d.after) } (delta_cell(d)) }
                    }
                }
            }
        }
    }
}

fn finding_list(fs: &[AuditFinding]) -> Markup {
    html! {
        ul {
            @for f in fs {
                li.wrap { (badge(&f.severity)) " " code { (clean(&f.rule)) } " " (clean(&f.message))
                    @let at = f.file_line();
                    @if !at.is_empty() { " — " code { (clean(&at)) } }
                    @let o = object_text(f);
                    @if !o.is_empty() { " (" (o) ")" }
                }
            }
        }
    }
}

fn compare_section(c: &Comparison) -> Markup {
    html! {
        section id="trends" {
            h2 { "Trends since the previous audit" }
            @if let Some(g) = &c.previous_generated_at { p.muted { "Previous audit: " (clean(g)) } }
            p.muted { "Counts are unsuppressed findings; a negative change is better." }
            (delta_table("trend-summary", "total", &c.summary, false))
            h3 { "By rule" } (delta_table("trend-rule", "rule", &c.by_rule, true))
            h3 { "By environment" } (delta_table("trend-environment", "environment", &c.by_environment, true))
            h3 { "By team" } (delta_table("trend-team", "team", &c.by_team, true))
            h3 { "New findings (" span id="trend-new" data-value=(c.new_findings.len()) { (c.new_findings.len()) } ")" }
            (finding_list(&c.new_findings))
            h3 { "Fixed findings (" span id="trend-fixed" data-value=(c.fixed_findings.len()) { (c.fixed_findings.len()) } ")" }
            (finding_list(&c.fixed_findings))
        }
    }
}

fn suppressions_section(a: &Audit) -> Markup {
    let suppressed: Vec<(usize, &AuditFinding)> =
        a.findings.iter().enumerate().filter(|(_, f)| f.suppressed.is_some()).collect();
    html! {
        section id="suppressions" {
            h2 { "Suppressions (" span id="suppressions-total" data-value=(suppressed.len()) { (suppressed.len()) } ")" }
            @if suppressed.is_empty() { p { "Nothing is suppressed." } } @else {
                table id="suppression-groups" {
                    thead { tr { th scope="col" { "reason" } th scope="col" { "rule" } th.num scope="col" { "findings" } } }
                    tbody { @for g in &a.suppressions { tr { td.wrap { (clean(&g.reason)) } td { code { (clean(&g.rule)) } } td.num { (g.count) } } } }
                }
                table id="suppression-list" {
                    thead { tr { th scope="col" { "rule" } th scope="col" { "object" } th scope="col" { "location" } th scope="col" { "reason" } } }
                    tbody {
                        @for (i, f) in &suppressed {
                            tr {
                                td { a href={ "#f-" (i) } { code { (clean(&f.rule)) } } }
                                td.wrap { (object_text(f)) }
                                td.wrap { code { (clean(&f.file_line())) } }
                                td.wrap { (clean(f.suppressed.as_deref().unwrap_or(""))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn entry_points_section(a: &Audit) -> Markup {
    let mut by_ep: std::collections::BTreeMap<&str, Vec<(usize, &AuditFinding)>> = std::collections::BTreeMap::new();
    for (i, f) in a.findings.iter().enumerate() {
        if let Some(ep) = &f.entry_point {
            by_ep.entry(ep.as_str()).or_default().push((i, f));
        }
    }
    html! {
        section id="entry-points" {
            h2 { "Entry points (" (a.entry_points.len()) ")" }
            @for (i, e) in a.entry_points.iter().enumerate() {
                details.ep id={ "ep-" (i) } data-name=(clean(&e.name)) data-objects=(e.objects.len()) data-findings=(e.counts.findings) {
                    summary.wrap {
                        strong { (clean(&e.name)) } " — " (clean(&e.kind)) ", " (clean(&e.environment)) ", "
                        (e.objects.len()) " objects, "
                        @if !e.rendered { span.sev.sev-error { "✖ render failed" } ", " }
                        (e.counts.errors) " ✖ errors, " (e.counts.warnings) " ▲ warnings, " (e.counts.infos) " ℹ infos"
                        @if e.counts.suppressed > 0 { ", " (e.counts.suppressed) " suppressed" }
                    }
                    p { "Path: " code { (clean(&e.path)) } }
                    @if let Some(fs) = by_ep.get(e.name.as_str()) {
                        h3 { "Findings" }
                        (finding_links(fs))
                    }
                    @if !e.objects.is_empty() {
                        table {
                            thead { tr { th scope="col" { "kind" } th scope="col" { "namespace" } th scope="col" { "name" } th scope="col" { "apiVersion" } th scope="col" { "team" } } }
                            tbody {
                                @for o in &e.objects {
                                    tr {
                                        td { (clean(&o.object.kind)) }
                                        td { (clean(o.object.namespace.as_deref().unwrap_or(""))) }
                                        td.wrap { (clean(&o.object.name)) }
                                        td { (clean(&o.object.api_version)) }
                                        td { (clean(&o.team)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn finding_links(fs: &[(usize, &AuditFinding)]) -> Markup {
    html! {
        ul {
            @for (i, f) in fs {
                li.wrap { (badge(&f.severity)) @if f.suppressed.is_some() { " " span.supp { "suppressed" } } " "
                    a href={ "#f-" (i) } { code { (clean(&f.rule)) } } " " (clean(&f.message))
                    @let at = f.file_line();
                    @if !at.is_empty() { " — " code { (clean(&at)) } }
                }
            }
        }
    }
}

fn config_section(a: &Audit) -> Markup {
    let c = &a.config;
    html! {
        section id="config" {
            h2 { "Kubernetes version and configuration" }
            dl {
                dt { "Kubernetes version" } dd id="kubernetes-version" { (clean(a.kubernetes_version.as_deref().unwrap_or("default"))) }
                dt { "fluxgate" } dd { (clean(&a.tool.version)) }
                dt { "Team labels (first present wins)" } dd { @for (i, l) in c.team_labels.iter().enumerate() { @if i > 0 { ", " } code { (clean(l)) } } }
                dt { "Environments" }
                dd {
                    @if c.environments.is_empty() { "none configured: every entry point is in " (NONE) } @else {
                        ul { @for e in &c.environments { li { strong { (clean(&e.name)) } ": " @for (i, g) in e.globs.iter().enumerate() { @if i > 0 { ", " } code { (clean(g)) } } } } }
                    }
                }
                @if !c.ignore.is_empty() {
                    dt { "Ignored paths" } dd { @for (i, g) in c.ignore.iter().enumerate() { @if i > 0 { ", " } code { (clean(g)) } } }
                }
            }
            @match (&c.file, &c.text) {
                (Some(f), Some(t)) => { h3 { code { (clean(f)) } } pre { (clean(t)) } }
                _ => { p { "The repository has no " code { ".fluxgate.yaml" } ": every setting has its default." } }
            }
        }
    }
}

/// The whole page.
pub fn render(a: &Audit) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";
                title { "fluxgate audit" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "fluxgate audit" }
                    p.muted {
                        "Kubernetes " (clean(a.kubernetes_version.as_deref().unwrap_or("default"))) " · fluxgate " (clean(&a.tool.version))
                        @if let Some(g) = &a.generated_at { " · generated " (clean(g)) }
                        " · schema version " (a.schema_version)
                    }
                }
                nav aria-label="sections" {
                    ul {
                        li { a href="#summary" { "Summary" } }
                        @if a.compare.is_some() { li { a href="#trends" { "Trends" } } }
                        li { a href="#charts" { "Charts" } }
                        li { a href="#findings" { "Findings" } }
                        li { a href="#suppressions" { "Suppressions" } }
                        li { a href="#entry-points" { "Entry points" } }
                        li { a href="#config" { "Configuration" } }
                    }
                }
                main {
                    (summary_section(a))
                    @if let Some(c) = &a.compare { (compare_section(c)) }
                    (charts_section(a))
                    (findings_section(a))
                    (suppressions_section(a))
                    (entry_points_section(a))
                    (config_section(a))
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// Writes the audit as one HTML page.
pub fn write_html(audit: &Audit, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(audit).into_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditInput, build};
    use crate::config::Config;
    use crate::report::fixture;

    fn page() -> String {
        let config = Config::default();
        let input = AuditInput { config: &config, config_text: None, generated_at: None };
        let audit = build(&fixture::report(), &fixture::source(), &input);
        let mut out = Vec::new();
        write_html(&audit, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn inlined_assets_cannot_close_their_element() {
        assert!(!SCRIPT.contains("</"), "the script must not contain `</`");
        assert!(!STYLE.contains("</"), "the style must not contain `</`");
    }

    #[test]
    fn clean_replaces_controls() {
        assert_eq!(clean("a\u{1}b\u{7f}\u{85}\n\t"), "a\u{2401}b\u{2421}\u{fffd}\n\t");
    }

    #[test]
    fn hostile_text_is_escaped() {
        let html = page();
        // The fixture's hostile object name is `<script>]]>\u{1}`: never raw in the page.
        assert!(!html.contains(fixture::HOSTILE));
        assert!(!html.contains("<script>]]>"));
        assert!(html.contains("&lt;script&gt;]]&gt;\u{2401}"));
        assert_eq!(html.matches("<script").count(), 1, "only our own script element");
        assert!(!html.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t'), "no raw control characters");
    }

    #[test]
    fn numbers_and_determinism() {
        let html = page();
        assert_eq!(html, page());
        assert!(html.contains(r#"id="sum-errors" data-value="6""#), "{html}");
        assert!(html.contains(r#"id="sum-suppressed" data-value="2""#));
        assert_eq!(html.matches("<tr class=\"finding").count(), 10);
    }
}
