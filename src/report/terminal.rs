//! Compiler-style terminal output: one block per finding, then a summary line.
//!
//! ```text
//! error[duplicate-object]: Deployment default/web is defined twice
//!  --> apps/base/deploy.yaml:1:1
//!   |
//! 1 | apiVersion: apps/v1
//!   | ^^^^^^^^^^^^^^^^^^^
//!   |
//!   = help: remove one of the definitions
//!   = note: entry point apps/base, object Deployment/default/web
//! ```
//!
//! Suppressed findings are only counted. Everything taken from the repository is made printable
//! first (C0 controls shown as symbols like `␛`, C1 controls and bidi overrides replaced), so
//! escape sequences in a file cannot drive the terminal.

use std::io::{self, Write};
use std::ops::Range;

use annotate_snippets::renderer::{AnsiColor, Effects, Style};
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet, normalize_untrusted_str};

use super::{RunReport, SourceText};
use crate::finding::{Finding, Severity};

/// Writes every unsuppressed finding of `report` in compiler style, a count of suppressed
/// findings, and a summary line. ANSI colour only when `color` is true (the caller decides from
/// TTY and `NO_COLOR`).
pub fn write_terminal(report: &RunReport, src: &dyn SourceText, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    for f in report.findings.iter().filter(|f| f.suppressed.is_none()) {
        writeln!(out, "{}\n", render_finding(&renderer, f, src))?;
    }
    let s = &report.summary;
    if s.suppressed > 0 {
        let line = format!("{} suppressed (not shown; see the JSON or JUnit report)", plural(s.suppressed, "finding"));
        writeln!(out, "{}", paint(color, Style::new().effects(Effects::DIMMED), &line))?;
    }
    if let Some(c) = &report.schema_coverage {
        let mut line = format!(
            "schema coverage: {:.1}% ({} of {}) checked against Kubernetes {} and CRD schemas",
            c.percent(),
            c.checked,
            plural(c.total, "object"),
            c.kubernetes_version
        );
        if c.cel_rules_skipped > 0 {
            line.push_str(&format!(
                "; {} CEL rule checks skipped (oldSelf or unsupported functions)",
                c.cel_rules_skipped
            ));
        }
        if !c.unchecked.is_empty() {
            let kinds: Vec<String> =
                c.unchecked.iter().map(|u| format!("{} {} ({})", u.kind, u.api_version, u.count)).collect();
            line.push_str(&format!("; no schema: {}", kinds.join(", ")));
        }
        writeln!(out, "{line}")?;
    }
    let mut entry_points = plural(s.entry_points, "entry point");
    if s.entry_points_failed > 0 {
        entry_points.push_str(&format!(" ({} failed to render)", s.entry_points_failed));
    }
    if s.entry_points_skipped > 0 {
        entry_points.push_str(&format!(" ({} HelmReleases skipped: no helm)", s.entry_points_skipped));
    }
    let bold = Style::new().effects(Effects::BOLD);
    let errors = plural(s.errors, "error");
    let warnings = plural(s.warnings, "warning");
    let mut counts = format!(
        "{}, {}",
        if s.errors > 0 { paint(color, bold.fg_color(Some(AnsiColor::BrightRed.into())), &errors,) } else { errors },
        if s.warnings > 0 { paint(color, bold.fg_color(Some(AnsiColor::Yellow.into())), &warnings,) } else { warnings },
    );
    if s.infos > 0 {
        counts.push_str(&format!(", {} info", s.infos));
    }
    writeln!(out, "{}: {entry_points}, {}: {counts}", paint(color, bold, "fluxgate"), plural(s.objects, "object"))
}

/// Renders one finding as a compiler-style block (no trailing newline). Shared with the JUnit
/// reporter, which uses the plain renderer for failure bodies.
pub(crate) fn render_finding(renderer: &Renderer, f: &Finding, src: &dyn SourceText) -> String {
    let level = match f.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    };
    let label = f.rule_label();
    let mut group = Group::with_title(level.primary_title(clean(&f.message)).id(&label));
    if let Some(loc) = &f.location {
        // The snippet normalises its own text and keeps the span right; only C1 is ours to do.
        let line_text = src.line(&loc.file, loc.line).map(|t| replace_c1(&t));
        let file = clean(&loc.file);
        match line_text.as_deref().and_then(|t| underline(t, loc.column).map(|r| (t, r))) {
            Some((text, span)) => {
                group = group.element(
                    Snippet::source(text.to_owned())
                        .line_start(loc.line as usize)
                        .path(file)
                        .annotation(AnnotationKind::Primary.span(span)),
                );
            }
            // No text for that line (file gone, or it changed): still say where.
            None => {
                group = group.element(Origin::path(file).line(loc.line as usize).char_column(loc.column as usize));
            }
        }
    }
    if let Some(help) = &f.help {
        group = group.element(Level::HELP.message(clean(help)));
    }
    let context = match (&f.entry_point, &f.object) {
        (Some(ep), Some(obj)) => Some(format!("entry point {ep}, object {}", obj.display())),
        (Some(ep), None) => Some(format!("entry point {ep}")),
        (None, Some(obj)) => Some(format!("object {}", obj.display())),
        (None, None) => None,
    };
    if let Some(context) = context {
        group = group.element(Level::NOTE.message(clean(&context)));
    }
    if let Some(reason) = &f.suppressed {
        let text = format!("suppressed: {reason}");
        group = group.element(Level::NOTE.message(clean(&text)));
    }
    renderer.render(&[group])
}

/// The byte range to mark on `line` for 1-based character `column`: from the column to the end of
/// the line's text (at least one character, or the end of the line). `None` when the column lies
/// past the end of the line (the text no longer matches the finding).
fn underline(line: &str, column: u32) -> Option<Range<usize>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let col0 = column.max(1) as usize - 1;
    let start = match line.char_indices().nth(col0) {
        Some((i, _)) => i,
        None if line.chars().count() == col0 => line.len(),
        None => return None,
    };
    let end = line.trim_end().len().max(start);
    if start == end {
        let width = line[start..].chars().next().map_or(0, char::len_utf8);
        return Some(start..start + width);
    }
    Some(start..end)
}

/// Makes repository text safe to print: annotate-snippets' normalisation (C0 controls shown as
/// `␛`-style symbols, bidi overrides replaced) plus C1 controls (`U+0080`–`U+009F`, which some
/// terminals obey as escape sequences) replaced by `�`. One character stays one character, so
/// columns still match.
fn clean(s: &str) -> String {
    replace_c1(&normalize_untrusted_str(s))
}

fn replace_c1(s: &str) -> String {
    s.replace(|c: char| ('\u{80}'..='\u{9f}').contains(&c), "\u{fffd}")
}

/// `1 error`, `2 errors`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color { format!("{style}{text}{style:#}") } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn plain(report: &RunReport) -> String {
        let mut out = Vec::new();
        write_terminal(report, &fixture::source(), false, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    const EXPECTED: &str = r#"warning[internal-error]: --kube-version 1.99 is not known; using 1.37

error[path-outside-root]: path '../secrets' leaves the repository root
--> stray/kustomization.yaml:2:5

error[duplicate-object]: Deployment default/web is defined twice
 --> apps/base/deploy.yaml:1:1
  |
1 | apiVersion: apps/v1
  | ^^^^^^^^^^^^^^^^^^^
  |
  = help: remove one of the definitions
  = note: entry point apps/base, object Deployment/default/web

error[patch-failed]: cannot apply patch: containers must be a list
 --> apps/base/patch.yaml:4:19
  |
4 |       containers: oops
  |                   ^^^^
  |
  = help: write `containers:` as a list of maps
  = note: entry point apps/base, object Deployment/default/web

warning[schema-missing]: no schema for ConfigMap settings.v2
 --> apps/base/settings.yaml:2:7
  |
2 | kind: ConfigMap
  |       ^^^^^^^^^
  |
  = note: entry point apps/base, object ConfigMap/default/settings.v2

error[internal-error]: render aborted
 |
 = help: report this as a bug
 = note: entry point apps/broken

error[yaml-syntax]: unterminated flow sequence
 --> apps/broken/kustomization.yaml:3:5
  |
3 |   - [b.yaml
  |     ^^^^^^^
  |
  = note: entry point apps/broken

error[unknown-kind]: unknown kind Evil for object <script>]]>␁
 --> clusters/prod/evil.yaml:3:9
  |
3 |   name: "<script>]]>\u0001"
  |         ^^^^^^^^^^^^^^^^^^^
  |
  = help: check the apiVersion of <script>]]>␁
  = note: entry point clusters/prod/podinfo.v2, object Evil/_/<script>]]>␁

2 findings suppressed (not shown; see the JSON or JUnit report)
fluxgate: 3 entry points (1 failed to render), 4 objects: 6 errors, 2 warnings
"#;

    #[test]
    fn fixture_output() {
        assert_eq!(plain(&fixture::report()), EXPECTED);
    }

    #[test]
    fn colour_only_when_asked() {
        let report = fixture::report();
        assert!(!plain(&report).contains('\u{1b}'));
        let mut out = Vec::new();
        write_terminal(&report, &fixture::source(), true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\u{1b}["));
        // Escapes come only from us: the hostile \u{1} never reaches the terminal raw.
        assert!(!text.contains('\u{1}'));
    }

    #[test]
    fn summary_singular_and_empty() {
        let ep = crate::report::EntryPointReport {
            name: "a".into(),
            kind: crate::report::EntryPointKind::Kustomize,
            path: "a".into(),
            rendered: true,
            objects: vec![fixture::web()],
        };
        let warn = Finding::new(crate::rules::Rule::SchemaMissing, "w").entry_point("a");
        let err = Finding::new(crate::rules::Rule::ObjectInvalid, "e").entry_point("a");
        let one = RunReport::new(vec![ep.clone()], vec![warn, err]);
        assert!(plain(&one).ends_with("\nfluxgate: 1 entry point, 1 object: 1 error, 1 warning\n"));
        let empty = RunReport::new(vec![], vec![]);
        assert_eq!(plain(&empty), "fluxgate: 0 entry points, 0 objects: 0 errors, 0 warnings\n");
    }

    #[test]
    fn underline_spans() {
        assert_eq!(underline("  image: x  ", 3), Some(2..10));
        assert_eq!(underline("abc", 4), Some(3..3));
        assert_eq!(underline("abc", 5), None);
        assert_eq!(underline("a   ", 2), Some(1..2));
        assert_eq!(underline("é: ü", 4), Some(4..6));
        assert_eq!(underline("abc", 0), Some(0..3));
    }

    #[test]
    fn hostile_text_is_printable() {
        let nasty = "a\u{1b}[31mb\u{9b}2Jc\u{202e}d\u{7}";
        let f = Finding::new(crate::rules::Rule::ObjectInvalid, nasty)
            .help(nasty)
            .entry_point(nasty)
            .at(Some(crate::finding::Location { file: "x.yaml".into(), line: 1, column: 1 }));
        let src = fixture::FakeSource([("x.yaml", "a\u{9b}2Jc: \u{1b}[0m")].into());
        let text = render_finding(&Renderer::plain(), &f, &src);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert!(!text.contains('\u{202e}'));
        assert!(text.starts_with("error[object-invalid]: a␛[31mb\u{fffd}2Jc\u{fffd}d␇\n"), "{text}");
        assert!(text.contains("1 | a\u{fffd}2Jc: ␛[0m\n  | ^^^^^^^^^^^\n"), "{text}");
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "error"), "0 errors");
        assert_eq!(plural(1, "entry point"), "1 entry point");
        assert_eq!(plural(2, "warning"), "2 warnings");
    }
}
