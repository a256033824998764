//! `fluxgate publish bitbucket-insights FILE`: sends the Code Insights report that
//! `validate --bitbucket-insights FILE` wrote to Bitbucket Server / Data Center.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use fluxgate::publish::bitbucket::{self, Target};
use fluxgate::report::bitbucket::Insights;

#[derive(Subcommand)]
pub(crate) enum PublishCommand {
    /// Publish a Code Insights report to Bitbucket Server / Data Center: replace the commit's
    /// `fluxgate` report and its annotations. The token is a Bitbucket HTTP access token read
    /// from the environment (BITBUCKET_TOKEN, or the variable --token-env names), never a flag.
    /// Exit 2 when the server refuses it.
    BitbucketInsights(BitbucketArgs),
}

#[derive(clap::Args)]
pub(crate) struct BitbucketArgs {
    /// The file `fluxgate validate --bitbucket-insights FILE` wrote.
    file: PathBuf,
    /// Base URL of Bitbucket (https://bitbucket.example.com).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The project key (PLAT).
    #[arg(long, value_name = "KEY")]
    project: String,
    /// The repository slug (flux-gsf).
    #[arg(long = "repo", value_name = "SLUG")]
    repo: String,
    /// The full commit id the report is about (the pull request's source commit).
    #[arg(long, value_name = "SHA")]
    commit: String,
    /// The environment variable that holds the token.
    #[arg(long, value_name = "NAME", default_value = "BITBUCKET_TOKEN")]
    token_env: String,
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
}

pub(crate) fn publish(c: PublishCommand) -> Result<ExitCode, String> {
    let PublishCommand::BitbucketInsights(a) = c;
    let token = std::env::var(&a.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| format!("the environment variable {} holds no Bitbucket token", a.token_env))?;
    let text = std::fs::read(&a.file).map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    let insights: Insights = serde_json::from_slice(&text).map_err(|e| {
        format!("{}: not a Code Insights report written by `validate --bitbucket-insights`: {e}", a.file.display())
    })?;
    let target = Target { server: a.server, project: a.project, repo: a.repo, commit: a.commit };
    let opts = bitbucket::Options { timeout: Duration::from_secs(a.timeout.max(1)), ..Default::default() };
    let done = bitbucket::publish(&insights, &target, token.trim(), &opts).map_err(|e| e.to_string())?;
    eprintln!(
        "fluxgate: published Code Insights report '{}' ({}) with {} annotations to {}/{} at {} ({} requests, {} retried)",
        insights.key,
        insights.report.result,
        done.annotations,
        target.project,
        target.repo,
        target.commit,
        done.requests,
        done.retries
    );
    Ok(ExitCode::SUCCESS)
}
