//! The formats of `fluxgate diff`: text for a terminal or build log, Markdown for a PR comment
//! (one collapsible `<details>` per entry point), and JSON:
//!
//! ```json
//! {
//!   "version": 1,
//!   "base": "origin/main", "merge_base": "<commit id>",
//!   "everything": ".fluxgate.yaml changed" | null,
//!   "entry_points": [ {
//!     "name": "apps/production/web", "kind": "kustomize" | "flux",
//!     "status": "added" | "removed" | "changed" | "unchanged",
//!     "base_error": "rule: message" | null, "head_error": "rule: message" | null,
//!     "objects": [ { "group": "apps", "kind": "Deployment", "namespace": "prod", "name": "web",
//!                    "change": "added" | "removed" | "changed",
//!                    "diff": "--- base\n+++ head\n@@ ..." | null,
//!                    "masked_values_changed": false } ] } ],
//!   "truncated": 0, "max_bytes": 65536
//! }
//! ```
//!
//! Secret values and SOPS ciphertexts are `***` everywhere. Keys are only ever added.

use std::io::{self, Write};

use crate::diff::{Change, DiffReport, EntryDiff, ObjectDiff};

/// Writes the report as one pretty-printed JSON document with a trailing newline.
pub fn write_json(report: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

fn counts(e: &EntryDiff) -> String {
    let n = |c: Change| e.objects.iter().filter(|o| o.change == c).count();
    format!("{} changed, {} added, {} removed", n(Change::Changed), n(Change::Added), n(Change::Removed))
}

fn kind(e: &EntryDiff) -> &'static str {
    match e.kind {
        crate::finding::EntryPointKind::Kustomize => "kustomize",
        crate::finding::EntryPointKind::Flux => "flux",
        crate::finding::EntryPointKind::HelmRelease => "helmrelease",
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn truncation_note(report: &DiffReport) -> Option<String> {
    (report.truncated > 0).then(|| {
        format!(
            "{} object diff(s) omitted: the report reached its size limit of {} bytes (raise it with --max-bytes)",
            report.truncated, report.max_bytes
        )
    })
}

fn object_note(o: &ObjectDiff) -> Option<&'static str> {
    match (o.change, &o.diff, o.masked_values_changed) {
        (Change::Changed, None, true) => Some("only masked (secret) values changed"),
        (Change::Changed, None, false) => Some("diff omitted (size limit)"),
        (Change::Changed, Some(_), true) => Some("masked (secret) values changed too"),
        _ => None,
    }
}

/// Writes the plain-text diff.
pub fn write_text(report: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "fluxgate diff against {} (merge base {})", report.base, short(&report.merge_base))?;
    if let Some(why) = &report.everything {
        writeln!(out, "every entry point compared: {why}")?;
    }
    if report.entry_points.is_empty() {
        writeln!(out, "no entry point is affected by the change")?;
    }
    for e in &report.entry_points {
        writeln!(out, "\n=== {} ({}): {} — {}", e.name, kind(e), e.status.as_str(), counts(e))?;
        for (side, err) in [("base", &e.base_error), ("head", &e.head_error)] {
            if let Some(err) = err {
                writeln!(out, "  {side} render failed: {err}")?;
            }
        }
        for o in &e.objects {
            let sign = match o.change {
                Change::Added => '+',
                Change::Removed => '-',
                _ => '~',
            };
            writeln!(out, "  {sign} {} {}", o.change.as_str(), o.id)?;
            if let Some(note) = object_note(o) {
                writeln!(out, "    ({note})")?;
            }
            if let Some(d) = &o.diff {
                for line in d.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
        }
    }
    if let Some(note) = truncation_note(report) {
        writeln!(out, "\nnote: {note}")?;
    }
    Ok(())
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A code fence longer than any backtick run inside `text`, so the text cannot close it.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// Writes the Markdown diff for a pull request comment.
pub fn write_markdown(report: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    let n = |c: Change| report.entry_points.iter().filter(|e| e.status == c).count();
    writeln!(out, "### fluxgate diff against `{}` (merge base `{}`)\n", html(&report.base), short(&report.merge_base))?;
    if let Some(why) = &report.everything {
        writeln!(out, "Every entry point compared: {}.\n", html(why))?;
    }
    writeln!(
        out,
        "{} entry point(s) affected: {} changed, {} added, {} removed, {} unchanged.\n",
        report.entry_points.len(),
        n(Change::Changed),
        n(Change::Added),
        n(Change::Removed),
        n(Change::Unchanged)
    )?;
    for e in &report.entry_points {
        writeln!(
            out,
            "<details><summary><code>{}</code> ({}): <b>{}</b> — {}</summary>\n",
            html(&e.name),
            kind(e),
            e.status.as_str(),
            counts(e)
        )?;
        for (side, err) in [("base", &e.base_error), ("head", &e.head_error)] {
            if let Some(err) = err {
                writeln!(out, "- {side} render failed: {}", html(err))?;
            }
        }
        for o in &e.objects {
            let note = object_note(o).map(|n| format!(" ({n})")).unwrap_or_default();
            writeln!(out, "- {} `{}`{}", o.change.as_str(), html(&o.id.to_string()), note)?;
        }
        for o in e.objects.iter().filter(|o| o.diff.is_some()) {
            let d = o.diff.as_deref().unwrap_or_default();
            let f = fence(d);
            writeln!(
                out,
                "\n`{}`\n\n{f}diff\n{}{}{f}",
                html(&o.id.to_string()),
                d,
                if d.ends_with('\n') { "" } else { "\n" }
            )?;
        }
        writeln!(out, "\n</details>\n")?;
    }
    if let Some(note) = truncation_note(report) {
        writeln!(out, "> **Note:** {note}.")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks() {
        assert_eq!(fence("a"), "```");
        assert_eq!(fence("x ```` y"), "`````");
    }
}
