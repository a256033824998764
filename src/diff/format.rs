//! The formats of `fluxgate diff`: text for a terminal or build log, Markdown for a PR comment
//! (one collapsible `<details>` per entry point), and JSON. Text and Markdown list only the
//! entry points whose objects (or render errors) change, grouped by environment or cluster
//! (`EntryDiff::group`), and say in one line how many affected entry points are unchanged;
//! JSON lists every affected entry point:
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
//!                    "masked_values_changed": false } ],
//!     "group": "production" | "clusters/production" | "" } ],
//!   "truncated": 0, "max_bytes": 65536
//! }
//! ```
//!
//! Secret values and SOPS ciphertexts are `***` everywhere. Keys are only ever added.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::diff::{Change, DiffReport, EntryDiff, ObjectDiff};

/// Writes the report as one pretty-printed JSON document with a trailing newline.
pub fn write_json(report: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

fn counts(e: &EntryDiff, live: bool) -> String {
    let n = |c: Change| e.objects.iter().filter(|o| o.change == c).count();
    let (added, removed) = if live { ("to create", "to prune") } else { ("added", "removed") };
    format!("{} changed, {} {added}, {} {removed}", n(Change::Changed), n(Change::Added), n(Change::Removed))
}

/// An object's change as a reader says it: against a live cluster, objects are created and
/// pruned rather than added and removed.
fn change_word(c: Change, live: bool) -> &'static str {
    match (c, live) {
        (Change::Added, true) => "create",
        (Change::Removed, true) => "prune",
        _ => c.as_str(),
    }
}

/// The first line of a report: what the working tree is compared with.
fn against(report: &DiffReport, code: bool) -> String {
    let q = |s: &str| if code { format!("`{}`", html(s)) } else { s.to_string() };
    match &report.cluster {
        Some(c) => {
            let tree = c.tree.as_ref().map(|t| format!(", which syncs {}", q(t))).unwrap_or_default();
            format!("the live cluster {} ({}){tree}", q(&c.context), q(&c.server))
        }
        None => format!("{} (merge base {})", q(&report.base), q(short(&report.merge_base))),
    }
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

/// The entry points that change, by group (groups sorted, `""` last), and how many are
/// unchanged.
fn grouped(report: &DiffReport) -> (Vec<(&str, Vec<&EntryDiff>)>, usize) {
    let mut groups: BTreeMap<(bool, &str), Vec<&EntryDiff>> = BTreeMap::new();
    for e in report.entry_points.iter().filter(|e| e.status != Change::Unchanged) {
        groups.entry((e.group.is_empty(), e.group.as_str())).or_default().push(e);
    }
    let unchanged = report.entry_points.iter().filter(|e| e.status == Change::Unchanged).count();
    (groups.into_iter().map(|((_, g), es)| (g, es)).collect(), unchanged)
}

/// The heading of a group, or `None` when there is one group and it has no name.
fn group_title<'a>(groups: &[(&'a str, Vec<&EntryDiff>)], g: &'a str) -> Option<&'a str> {
    match (groups.len(), g) {
        (1, "") => None,
        (_, "") => Some("other entry points"),
        _ => Some(g),
    }
}

fn unchanged_line(unchanged: usize) -> Option<String> {
    (unchanged > 0)
        .then(|| format!("{unchanged} affected entry point{} unchanged", if unchanged == 1 { "" } else { "s" }))
}

/// Writes the plain-text diff.
pub fn write_text(report: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "fluxgate diff against {}", against(report, false))?;
    if let Some(why) = &report.everything {
        writeln!(out, "every entry point compared: {why}")?;
    }
    if report.entry_points.is_empty() {
        writeln!(
            out,
            "{}",
            if report.cluster.is_some() {
                "no entry point compared"
            } else {
                "no entry point is affected by the change"
            }
        )?;
    }
    let (groups, unchanged) = grouped(report);
    for (g, entries) in &groups {
        if let Some(title) = group_title(&groups, g) {
            writeln!(out, "\n## {title}")?;
        }
        for e in entries {
            write_text_entry(e, report.cluster.is_some(), out)?;
        }
    }
    if let Some(line) = unchanged_line(unchanged) {
        writeln!(out, "\n{line}")?;
    }
    if let Some(note) = truncation_note(report) {
        writeln!(out, "\nnote: {note}")?;
    }
    Ok(())
}

fn write_text_entry(e: &EntryDiff, live: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\n=== {} ({}): {} — {}", e.name, kind(e), e.status.as_str(), counts(e, live))?;
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
        writeln!(out, "  {sign} {} {}", change_word(o.change, live), o.id)?;
        if let Some(note) = object_note(o) {
            writeln!(out, "    ({note})")?;
        }
        if let Some(d) = &o.diff {
            for line in d.lines() {
                writeln!(out, "    {line}")?;
            }
        }
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
    writeln!(out, "### fluxgate diff against {}\n", against(report, true))?;
    if let Some(why) = &report.everything {
        writeln!(out, "Every entry point compared: {}.\n", html(why))?;
    }
    writeln!(
        out,
        "{} entry point(s) {}: {} changed, {} added, {} removed, {} unchanged.\n",
        report.entry_points.len(),
        if report.cluster.is_some() { "compared" } else { "affected" },
        n(Change::Changed),
        n(Change::Added),
        n(Change::Removed),
        n(Change::Unchanged)
    )?;
    let (groups, unchanged) = grouped(report);
    for (g, entries) in &groups {
        if let Some(title) = group_title(&groups, g) {
            writeln!(out, "#### {}\n", html(title))?;
        }
        for e in entries {
            write_markdown_entry(e, report.cluster.is_some(), out)?;
        }
    }
    if let Some(line) = unchanged_line(unchanged) {
        writeln!(out, "_{line}._\n")?;
    }
    if let Some(note) = truncation_note(report) {
        writeln!(out, "> **Note:** {note}.")?;
    }
    Ok(())
}

fn write_markdown_entry(e: &EntryDiff, live: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<details><summary><code>{}</code> ({}): <b>{}</b> — {}</summary>\n",
        html(&e.name),
        kind(e),
        e.status.as_str(),
        counts(e, live)
    )?;
    for (side, err) in [("base", &e.base_error), ("head", &e.head_error)] {
        if let Some(err) = err {
            writeln!(out, "- {side} render failed: {}", html(err))?;
        }
    }
    for o in &e.objects {
        let note = object_note(o).map(|n| format!(" ({n})")).unwrap_or_default();
        writeln!(out, "- {} `{}`{}", change_word(o.change, live), html(&o.id.to_string()), note)?;
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
    writeln!(out, "\n</details>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diff::ObjectId;
    use crate::finding::EntryPointKind;

    fn entry(name: &str, group: &str, status: Change) -> EntryDiff {
        let objects = if status == Change::Unchanged {
            vec![]
        } else {
            vec![ObjectDiff {
                id: ObjectId {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: "web".into(),
                    name: "web".into(),
                },
                change: Change::Changed,
                diff: Some("--- base\n+++ head\n@@ -1 +1 @@\n-replicas: 1\n+replicas: 2\n".into()),
                masked_values_changed: false,
            }]
        };
        EntryDiff {
            name: name.into(),
            kind: EntryPointKind::Flux,
            status,
            base_error: None,
            head_error: None,
            objects,
            group: group.into(),
        }
    }

    fn report(entries: Vec<EntryDiff>) -> DiffReport {
        DiffReport {
            version: 1,
            base: "origin/main".into(),
            merge_base: "0123456789abcdef".into(),
            everything: None,
            entry_points: entries,
            truncated: 0,
            cluster: None,
            max_bytes: 1000,
        }
    }

    fn text(r: &DiffReport, markdown: bool) -> String {
        let mut out = Vec::new();
        if markdown { write_markdown(r, &mut out) } else { write_text(r, &mut out) }.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn only_changing_entry_points_are_listed_grouped_with_one_line_for_the_rest() {
        let mut entries = vec![
            entry("clusters/staging/flux-system/apps", "staging", Change::Changed),
            entry("clusters/production/flux-system/apps", "production", Change::Changed),
            entry("apps/base", "", Change::Added),
        ];
        for i in 0..7 {
            entries.push(entry(&format!("clusters/production/flux-system/quiet-{i}"), "production", Change::Unchanged));
        }
        let r = report(entries);
        let md = text(&r, true);
        assert_eq!(md.matches("<details>").count(), 3, "{md}");
        assert!(!md.contains("quiet-"), "unchanged entry points are not listed: {md}");
        assert!(md.contains("_7 affected entry points unchanged._"), "{md}");
        let (p, s, o) = (
            md.find("#### production").unwrap(),
            md.find("#### staging").unwrap(),
            md.find("#### other entry points").unwrap(),
        );
        assert!(p < s && s < o, "groups sorted, the unnamed one last: {md}");
        assert!(md.find("clusters/production/flux-system/apps").unwrap() > p);
        let t = text(&r, false);
        assert!(t.contains("\n## production\n") && t.contains("\n7 affected entry points unchanged\n"), "{t}");
        assert_eq!(t.matches("=== ").count(), 3);
    }

    #[test]
    fn one_unnamed_group_has_no_heading_and_one_unchanged_is_singular() {
        let r = report(vec![entry("apps/web", "", Change::Changed), entry("apps/api", "", Change::Unchanged)]);
        let md = text(&r, true);
        assert!(!md.contains("####"), "{md}");
        assert!(md.contains("_1 affected entry point unchanged._"));
        let t = text(&r, false);
        assert!(!t.contains("## ") && t.contains("1 affected entry point unchanged"));
    }

    #[test]
    fn fences_outgrow_backticks() {
        assert_eq!(fence("a"), "```");
        assert_eq!(fence("x ```` y"), "`````");
    }
}
