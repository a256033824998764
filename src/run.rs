//! One `validate` run: discover, render every entry point in parallel, check, and collect
//! findings into a [`RunReport`]. Library code: it never prints and never exits.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::check::crds::CrdIndex;
use crate::check::kinds;
use crate::config::Config;
use crate::discover::{Discovery, discover};
use crate::finding::{Finding, Location};
use crate::kustomize::build::{Engine, LoadRestrictor};
use crate::kustomize::diag::Diag;
use crate::report::{EntryPointKind, EntryPointReport, RunReport, SourceText};
use crate::rules::Rule;
use crate::source::{Loc, RelPath, Repo};

/// Turns a [`Loc`] into a report location (root-relative path, 1-based line and column).
pub fn location(repo: &Repo, loc: Loc) -> Option<Location> {
    let f = repo.file_of(loc)?;
    Some(Location { file: f.path.to_string(), line: loc.line.max(1), column: loc.col.max(1) })
}

/// Turns a render diagnostic into a finding of an entry point.
pub fn diag_finding(repo: &Repo, d: &Diag, entry_point: &str) -> Finding {
    let mut f = Finding::new(d.rule, d.message.clone()).at(location(repo, d.loc)).entry_point(entry_point);
    f.help = d.help.clone();
    f
}

impl SourceText for Repo {
    fn line(&self, file: &str, line: u32) -> Option<String> {
        let p = RelPath::parse(file)?;
        self.read(&p).ok()?.line_text(line).map(str::to_string)
    }
}

/// Collects the CRDs defined anywhere in the repository's YAML files.
pub fn collect_crds(repo: &Repo, d: &Discovery) -> CrdIndex {
    let mut idx = CrdIndex::default();
    for p in &d.yaml_files {
        let Ok(f) = repo.read(p) else { continue };
        if !f.text.contains("CustomResourceDefinition") {
            continue;
        }
        if let Ok(parsed) = repo.load_yaml(p) {
            parsed.docs.iter().for_each(|doc| idx.add(doc));
        }
    }
    idx
}

/// Renders and checks one kustomize directory as an entry point.
fn check_entry_point(engine: &Engine, dir: &RelPath, crds: &CrdIndex) -> (EntryPointReport, Vec<Finding>) {
    let repo = engine.repo();
    let name = dir.to_string();
    let mut findings = Vec::new();
    let mut report = EntryPointReport {
        name: name.clone(),
        kind: EntryPointKind::Kustomize,
        path: name.clone(),
        rendered: false,
        objects: Vec::new(),
    };
    match engine.render(dir) {
        Err(failed) => {
            findings.extend(failed.notes.iter().map(|d| diag_finding(repo, d, &name)));
            findings.push(diag_finding(repo, &failed.error, &name));
        }
        Ok(rendered) => {
            report.rendered = true;
            findings.extend(rendered.notes.iter().map(|d| diag_finding(repo, d, &name)));
            for r in &rendered.resources {
                let obj = r.object_ref();
                if let Some(of) = kinds::check(r, crds) {
                    let mut f = of.finding.at(location(repo, of.loc)).entry_point(&name);
                    f.object = Some(obj.clone());
                    findings.push(f);
                }
                report.objects.push(obj);
            }
        }
    }
    (report, findings)
}

/// Validates a whole repository.
pub fn validate(repo: &Repo, config: &Config) -> RunReport {
    let discovery = discover(repo, config);
    let crds = collect_crds(repo, &discovery);
    let engine = Engine::new(repo, LoadRestrictor::None);
    let results: Vec<(EntryPointReport, Vec<Finding>)> = discovery
        .kustomize_dirs
        .par_iter()
        .map(|dir| {
            catch_unwind(AssertUnwindSafe(|| check_entry_point(&engine, dir, &crds))).unwrap_or_else(|_| {
                let name = dir.to_string();
                (
                    EntryPointReport {
                        name: name.clone(),
                        kind: EntryPointKind::Kustomize,
                        path: name.clone(),
                        rendered: false,
                        objects: Vec::new(),
                    },
                    vec![
                        Finding::new(
                            Rule::InternalError,
                            "fluxgate crashed while checking this entry point; the rest of the run went on",
                        )
                        .entry_point(name)
                        .help("please report this with the repository layout that triggers it"),
                    ],
                )
            })
        })
        .collect();
    let mut eps = Vec::new();
    let mut findings = Vec::new();
    for (e, f) in results {
        eps.push(e);
        findings.extend(f);
    }
    RunReport::new(eps, findings)
}
