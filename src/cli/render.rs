//! `fluxgate render`: the rendered YAML of one kustomize directory (like `kustomize build`)
//! or of one Flux entry point (`--flux`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;

use fluxgate::config::{self};
use fluxgate::kustomize::build::{Engine, LoadRestrictor};
use fluxgate::source::{Repo, emit};

use super::common::*;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Restrictor {
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    #[value(name = "LoadRestrictionsNone")]
    None,
}

#[derive(clap::Args)]
pub(crate) struct RenderArgs {
    /// The kustomization directory (with --flux: the repository root, default `.`).
    #[arg(required_unless_present = "flux")]
    dir: Option<PathBuf>,
    /// Print what Flux applies for this Flux entry point (`clusters/production/flux-system/apps`,
    /// as `validate` lists it) instead of a plain kustomize build.
    #[arg(long, value_name = "ENTRY_POINT")]
    flux: Option<String>,
    /// With --flux: a post-build variable that lives only in the cluster; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = config::parse_var, requires = "flux")]
    vars: Vec<(String, String)>,
    /// Which files a kustomization may read (kustomize's flag and default). Nothing outside
    /// the repository root is read either way.
    #[arg(long, value_enum, default_value = "LoadRestrictionsRootOnly")]
    load_restrictor: Restrictor,
    /// The repository root, which bounds what may be read (default: the enclosing git
    /// repository, else the directory itself).
    #[arg(long)]
    root: Option<PathBuf>,
}

/// The repository root for `render`: `--root`, else the enclosing git work tree, else DIR.
pub(crate) fn render_root(a: &RenderArgs, dir: &Path) -> Result<PathBuf, String> {
    if let Some(r) = &a.root {
        return Ok(r.clone());
    }
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cur = Some(dir.as_path());
    while let Some(c) = cur {
        if c.join(".git").exists() {
            return Ok(c.to_path_buf());
        }
        cur = c.parent();
    }
    Ok(dir)
}

pub(crate) fn print_diag(repo: &Repo, d: &fluxgate::kustomize::diag::Diag) {
    let sev = fluxgate::finding::Finding::new(d.rule, "").severity;
    eprintln!("{}[{}]: {}{}", sev.as_str(), d.rule, d.message, at(repo, d.loc));
    if let Some(h) = &d.help {
        eprintln!("  = help: {h}");
    }
}

/// `render --flux NAME [ROOT]`: the objects Flux applies for one Flux entry point.
pub(crate) fn render_flux(a: &RenderArgs, name: &str) -> Result<ExitCode, String> {
    let root = a.root.clone().or_else(|| a.dir.clone()).unwrap_or_else(|| PathBuf::from("."));
    let mut config = load_config(&root)?;
    config.flux.variables.extend(a.vars.iter().cloned());
    let repo = open_repo(&root, &config)?;
    let entries = fluxgate::pipeline::render_flux(&repo, &config);
    let Some(e) = entries.iter().find(|e| e.name == name) else {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        return Err(format!("no Flux entry point '{name}'; found: {}", names.join(", ")));
    };
    match &e.result {
        Ok(rendered) => {
            let docs: Vec<&fluxgate::source::Node> = rendered.resources.iter().map(|r| &r.node).collect();
            write_stdout(&emit::emit_documents(&docs))?;
            let mut failed = false;
            for n in &rendered.notes {
                print_diag(&repo, n);
                failed |= n.fatal;
            }
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Err(failed) => {
            for n in failed.notes.iter().chain(std::iter::once(&failed.error)) {
                print_diag(&repo, n);
            }
            Ok(ExitCode::from(1))
        }
    }
}

pub(crate) fn render(a: RenderArgs) -> Result<ExitCode, String> {
    if let Some(name) = a.flux.clone() {
        return render_flux(&a, &name);
    }
    let Some(arg_dir) = a.dir.clone() else { return Err("a kustomization directory is required".into()) };
    let root = render_root(&a, &arg_dir)?;
    let repo = Repo::open(&root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    let Some(dir) = repo.rel_of(&arg_dir) else {
        return Err(format!("{} is not inside the repository root {}", arg_dir.display(), root.display()));
    };
    let restrictor = match a.load_restrictor {
        Restrictor::RootOnly => LoadRestrictor::RootOnly,
        Restrictor::None => LoadRestrictor::None,
    };
    let engine = Engine::new(&repo, restrictor);
    match engine.render(&dir) {
        Ok(rendered) => {
            let docs: Vec<&fluxgate::source::Node> = rendered.resources.iter().map(|r| &r.node).collect();
            let text = emit::emit_documents(&docs);
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.to_string());
            }
            for n in &rendered.notes {
                eprintln!("warning[{}]: {}{}", n.rule, n.message, at(&repo, n.loc));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failed) => {
            let e = &failed.error;
            eprintln!("error[{}]: {}{}", e.rule, e.message, at(&repo, e.loc));
            if let Some(h) = &e.help {
                eprintln!("  = help: {h}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

pub(crate) fn at(repo: &Repo, loc: fluxgate::source::Loc) -> String {
    fluxgate::finding::location(repo, loc)
        .map(|l| format!("\n  --> {}:{}:{}", l.file, l.line, l.column))
        .unwrap_or_default()
}
