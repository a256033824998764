//! `fluxgate completions SHELL` and `fluxgate man`: what users expect from an installed CLI,
//! generated from the same clap definition the parser uses, so they never drift from it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use super::Cli;
use super::common::write_stdout;

/// The shells `fluxgate completions` writes scripts for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Prints the completion script of `shell` for `fluxgate`.
pub(crate) fn completions(shell: Shell) -> Result<ExitCode, String> {
    let mut buf = Vec::new();
    let mut cmd = Cli::command();
    match shell {
        Shell::Bash => clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "fluxgate", &mut buf),
        Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "fluxgate", &mut buf),
        Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "fluxgate", &mut buf),
    }
    write_stdout(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the `fluxgate(1)` man page, or with `out_dir` writes it and one page per
/// subcommand (`fluxgate-validate.1`, ...) there.
pub(crate) fn man(out_dir: Option<&Path>) -> Result<ExitCode, String> {
    let cmd = Cli::command();
    match out_dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf).map_err(|e| e.to_string())?;
            write_stdout(&String::from_utf8_lossy(&buf))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| format!("cannot write into {}: {e}", dir.display()))?;
            let _ = writeln!(std::io::stderr(), "fluxgate: man pages written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
