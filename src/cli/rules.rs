//! `fluxgate rules`: every rule id with its severity under the repository's config.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use fluxgate::rules::Rule;

use super::common::*;

pub(crate) fn rules(root: &Path) -> Result<ExitCode, String> {
    let config = load_config(root)?;
    let mut out = std::io::stdout().lock();
    for r in Rule::ALL {
        let (sev, envs) = fluxgate::policy::settings::severity_column(&config, *r);
        let _ = writeln!(out, "{:<28} {:<8} {}{envs}", r.id(), sev, r.summary());
    }
    Ok(ExitCode::SUCCESS)
}
