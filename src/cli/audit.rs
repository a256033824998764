//! `fluxgate audit`: check every entry point and write the HTML, JSON and Markdown audit.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use fluxgate::config::{self};

use super::common::*;

#[derive(clap::Args)]
pub(crate) struct AuditArgs {
    /// Repository root (default: the current directory).
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Write the self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the audit JSON document (schemaVersion 1, docs/audit.schema.json) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a Markdown summary to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// A previous audit's JSON: show what got better or worse since then.
    #[arg(long, value_name = "PREVIOUS.json")]
    compare: Option<PathBuf>,
    /// Text shown as the report's generation time (no clock is read, so output is reproducible).
    #[arg(long, value_name = "TEXT")]
    generated_at: Option<String>,
    /// Exit 1 when findings of this severity (or worse) remain; without it the audit exits 0
    /// whenever it wrote its reports.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    run: RunArgs,
}

/// Shows a progress bar on stderr (only when it is a terminal) while `progress` moves; stops
/// when `done` is set.
pub(crate) fn progress_bar(
    progress: std::sync::Arc<fluxgate::pipeline::Progress>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(std::thread::spawn(move || {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("rendering entry points");
        let style = indicatif::ProgressStyle::with_template("{spinner} checking {bar:40} {pos}/{len} entry points")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let mut styled = false;
        while !done.load(Ordering::Relaxed) {
            let total = progress.total.load(Ordering::Relaxed);
            if total > 0 {
                if !styled {
                    bar.set_style(style.clone());
                    bar.set_length(total as u64);
                    styled = true;
                }
                bar.set_position(progress.done.load(Ordering::Relaxed) as u64);
            } else {
                bar.tick();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }))
}

/// `audit [ROOT]`: checks every entry point and writes the HTML/JSON/Markdown audit.
pub(crate) fn audit(a: AuditArgs) -> Result<ExitCode, String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    if a.html.is_none() && a.json.is_none() && a.markdown.is_none() {
        return Err("audit needs at least one of --html FILE, --json FILE, --markdown FILE".into());
    }
    let previous = match &a.compare {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            Some(fluxgate::audit::read_json(&text).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let (config, repo) = a.run.setup(&a.root)?;
    let config_text = std::fs::read_to_string(a.root.join(config::FILE_NAME)).ok();
    let progress = Arc::new(fluxgate::pipeline::Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let bar = progress_bar(progress.clone(), done.clone());
    let options = fluxgate::pipeline::RunOptions {
        progress: Some(progress),
        teams: true,
        exit_after: true,
        ..Default::default()
    };
    let result = fluxgate::pipeline::validate_with(&repo, &config, &options);
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    let report = result?;
    let input = fluxgate::audit::AuditInput {
        config: &config,
        config_text: config_text.as_deref(),
        generated_at: a.generated_at,
    };
    let mut doc = fluxgate::audit::build(&report, &repo, &input);
    if let Some(prev) = &previous {
        doc.compare = Some(fluxgate::audit::compare::compare(prev, &doc));
    }
    if let Some(p) = &a.json {
        write_file(p, |w| fluxgate::audit::write_json(&doc, w))?;
    }
    if let Some(p) = &a.html {
        write_file(p, |w| fluxgate::audit::html::write_html(&doc, w))?;
    }
    if let Some(p) = &a.markdown {
        write_file(p, |w| fluxgate::audit::markdown::write_markdown(&doc, w))?;
    }
    let failing = match a.fail_on {
        None => false,
        Some(FailOn::Error) => doc.summary.counts.errors > 0,
        Some(FailOn::Warning) => doc.summary.counts.errors + doc.summary.counts.warnings > 0,
    };
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
