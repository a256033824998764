//! `fluxgate hook install|uninstall`: the git pre-push hook that runs `validate --base`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum HookCommand {
    /// Write `pre-push` into the repository's hooks directory. It validates each pushed ref
    /// (with `--base` against what the remote has, when this fluxgate supports it) and blocks
    /// the push on error findings. The binary is this executable's absolute path; the
    /// environment variable FLUXGATE overrides it when the hook runs.
    Install {
        /// Replace an existing pre-push hook that fluxgate did not write.
        #[arg(long)]
        force: bool,
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
    /// Remove the pre-push hook if (and only if) fluxgate wrote it.
    Uninstall {
        /// Repository root (default: the current directory).
        #[arg(default_value = ".")]
        root: PathBuf,
    },
}

pub(crate) fn hook(c: HookCommand) -> Result<ExitCode, String> {
    use fluxgate::hook::{self, Installed};
    match c {
        HookCommand::Install { force, root } => {
            let exe = std::env::current_exe().map_err(|e| format!("cannot find the fluxgate executable: {e}"))?;
            // An absolute, symlink-free path keeps working whatever directory git runs the hook in.
            let exe = exe.canonicalize().unwrap_or(exe);
            match hook::install(&root, &exe, force)? {
                Installed::Created(p) => println!("installed {}", p.display()),
                Installed::Replaced(p) => println!("replaced {}", p.display()),
            }
        }
        HookCommand::Uninstall { root } => match hook::uninstall(&root)? {
            Some(p) => println!("removed {}", p.display()),
            None => println!("no pre-push hook installed"),
        },
    }
    Ok(ExitCode::SUCCESS)
}
