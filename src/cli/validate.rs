//! `fluxgate validate`: render and check every entry point, write the reports, exit 1 on
//! error findings (or warnings with `--fail-on warning`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use fluxgate::finding::Severity;
use fluxgate::report::{json, junit, terminal};

use super::common::*;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// Compiler-style report for people.
    Text,
    /// One JSON document (fields in docs/reports.md).
    Json,
    /// SARIF 2.1.0 (code scanning, IDEs).
    Sarif,
    /// TeamCity service messages: test suites and tests streamed into the build log.
    Teamcity,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
pub(crate) struct ValidateArgs {
    /// Repository root (default: the current directory).
    #[arg(default_value = ".")]
    root: PathBuf,
    /// Format of the report on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write a JUnit XML report to this file (TeamCity's XML Report Processing reads it).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write a SARIF 2.1.0 report to this file.
    #[arg(long, value_name = "FILE")]
    sarif: Option<PathBuf>,
    /// Also write a Bitbucket Server/Data Center Code Insights report (the report card and its
    /// line annotations) to this file, for `fluxgate publish bitbucket-insights`.
    #[arg(long, value_name = "FILE")]
    bitbucket_insights: Option<PathBuf>,
    /// With --bitbucket-insights: the report card's link (e.g. the CI build's URL).
    #[arg(long, value_name = "URL", requires = "bitbucket_insights", value_parser = http_url)]
    insights_link: Option<String>,
    /// With --bitbucket-insights: where the rules are documented; each annotation links to
    /// URL#<rule-id>.
    #[arg(long, value_name = "URL", requires = "bitbucket_insights", value_parser = http_url)]
    insights_rules_url: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    /// Lowest severity that fails the run (exit code 1).
    #[arg(long, value_enum, default_value = "error")]
    fail_on: FailOn,
    /// When to colour the terminal report.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Check and report only shard I of N (e.g. `2/4`), to fan a large repository out across CI
    /// agents. The split is deterministic (by entry point name and rendered size), so the N
    /// shards' reports together equal one unsharded report; findings outside every entry point
    /// go to shard 1.
    #[arg(long, value_name = "I/N")]
    shard: Option<fluxgate::gate::shard::Shard>,
    /// Check only the entry points whose inputs differ between `git merge-base REF HEAD` and
    /// the working tree (committed, staged, unstaged and untracked files).
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// With --base: also write the Markdown object diff of the affected entry points to FILE
    /// (to publish as a build artifact or PR comment).
    #[arg(long, value_name = "FILE", requires = "base")]
    diff_markdown: Option<PathBuf>,
    /// Ask the live cluster (read-only) what only it knows: the keys of substituteFrom
    /// ConfigMaps/Secrets, whether referenced Flux objects exist, which CRD versions it serves.
    /// An unreachable cluster is a warning and the offline result.
    #[arg(long)]
    cluster: bool,
    #[command(flatten)]
    kube: ClusterArgs,
}

pub(crate) fn validate(a: ValidateArgs) -> Result<ExitCode, String> {
    let (mut config, repo) = a.run.setup(&a.root)?;
    if a.cluster {
        config.cluster = cluster_lookup(&a.kube);
    }
    let options =
        fluxgate::pipeline::RunOptions { base: a.base.clone(), shard: a.shard, exit_after: true, ..Default::default() };
    let report = fluxgate::pipeline::validate_with(&repo, &config, &options)?;
    for problem in config.cluster.as_ref().map(|l| l.problems()).unwrap_or_default() {
        eprintln!("fluxgate: warning: --cluster: {problem}; the answers that needed it are the offline ones");
    }
    if let (Some(p), Some(base)) = (&a.diff_markdown, &a.base) {
        let d = fluxgate::diff::pr_diff(&repo, &config, base, fluxgate::diff::DEFAULT_MAX_BYTES)?;
        write_file(p, |w| fluxgate::diff::format::write_markdown(&d, w))?;
    }
    if let Some(p) = &a.junit {
        write_file(p, |w| junit::write_junit(&report, &repo, w))?;
    }
    if let Some(p) = &a.json {
        write_file(p, |w| json::write_json(&report, w))?;
    }
    if let Some(p) = &a.bitbucket_insights {
        let opts = fluxgate::report::bitbucket::InsightsOptions {
            prefix: fluxgate::gate::changes::prefix(&a.root).unwrap_or_default(),
            report_link: a.insights_link.clone(),
            rules_url: a.insights_rules_url.clone(),
            fail_on_warning: matches!(a.fail_on, FailOn::Warning),
        };
        write_file(p, |w| fluxgate::report::bitbucket::write_insights(&report, &opts, w))?;
    }
    if let Some(p) = &a.sarif {
        write_file(p, |w| fluxgate::report::sarif::write_sarif(&report, w))?;
    }
    // Buffered: the locked stdout is line-buffered, one write per line of a large report.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let res = match a.format {
        Format::Json => json::write_json(&report, &mut out),
        Format::Sarif => fluxgate::report::sarif::write_sarif(&report, &mut out),
        Format::Teamcity => fluxgate::report::teamcity::write_teamcity(&report, &repo, &mut out),
        Format::Text => {
            let color = match a.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            terminal::write_terminal(&report, &repo, color, &mut out)
        }
    };
    if let Err(e) = res.and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.to_string());
    }
    let failing = report.findings.iter().filter(|f| f.suppressed.is_none()).any(|f| match a.fail_on {
        FailOn::Error => f.severity == Severity::Error,
        FailOn::Warning => f.severity <= Severity::Warning,
    });
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Connects to the cluster and checks it answers (`GET /version`); when it does not, one
/// warning line and `None`: the run goes on offline.
fn cluster_lookup(kube: &ClusterArgs) -> Option<std::sync::Arc<fluxgate::cluster::lookup::Lookup>> {
    let connected = kube.connect().and_then(|c| c.version().map(|v| (c, v)));
    match connected {
        Ok((client, version)) => {
            eprintln!(
                "fluxgate: reading the cluster of context {} ({}, Kubernetes {})",
                client.context(),
                client.server(),
                version.git_version
            );
            Some(std::sync::Arc::new(fluxgate::cluster::lookup::Lookup::new(client)))
        }
        Err(e) => {
            eprintln!("fluxgate: warning: --cluster: {e}; checking offline");
            None
        }
    }
}

/// Accepts an absolute http(s) URL: Bitbucket rejects other links.
fn http_url(s: &str) -> Result<String, String> {
    if (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace) {
        Ok(s.to_string())
    } else {
        Err("expected an http:// or https:// URL".to_string())
    }
}
