//! Rendering benchmark: fluxgate against `kubectl kustomize` on the same generated repository,
//! in one run, printed as a ratio. Run with `cargo bench --bench render` (set
//! `FLUXGATE_BENCH_APPS`, default 100 apps × 3 environments = 300 overlays + 100 bases).

#[path = "synth.rs"]
mod synth;

use std::process::{Command, Stdio};
use std::time::Instant;

use fluxgate::config::Config;
use fluxgate::kustomize::build::{Engine, LoadRestrictor};
use fluxgate::source::{RelPath, Repo};

fn main() {
    let apps: usize = std::env::var("FLUXGATE_BENCH_APPS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-repo");
    let overlays = synth::generate(&root, synth::Shape { apps, envs: 3 });
    println!("generated {} overlays ({} apps x 3 environments) in {}", overlays.len(), apps, root.display());

    // fluxgate, in process, all cores: render every overlay (bases shared).
    let t = Instant::now();
    let repo = Repo::open(&root).unwrap();
    let engine = Engine::new(&repo, LoadRestrictor::RootOnly);
    let objects: usize = {
        use rayon::prelude::*;
        overlays.par_iter().map(|o| engine.render(&RelPath::parse(o).unwrap()).map_or(0, |r| r.resources.len())).sum()
    };
    let ours = t.elapsed();
    println!("fluxgate render (all cores):  {:>8.3} s  {objects} objects", ours.as_secs_f64());

    // fluxgate full validate through the CLI (discovery + render + checks + report), all cores and one.
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/fluxgate");
    let mut validate = Vec::new();
    if bin.exists() {
        for jobs in ["0", "1"] {
            let t = Instant::now();
            let mut cmd = Command::new(&bin);
            cmd.arg("validate").arg(&root).args(["--format", "json"]);
            if jobs != "0" {
                cmd.args(["--jobs", jobs]);
            }
            let ok = cmd.stdout(Stdio::null()).status().is_ok();
            let d = t.elapsed();
            println!(
                "fluxgate validate (jobs {}): {:>8.3} s{}",
                if jobs == "0" { "all" } else { jobs },
                d.as_secs_f64(),
                if ok { "" } else { " (failed)" }
            );
            validate.push(d);
        }
    } else {
        println!("fluxgate validate: skipped (build target/release/fluxgate first: cargo build --release)");
    }
    let _ = Config::default();

    // The reference pipeline: kubectl kustomize over every overlay, one after another.
    if Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success()) {
        let t = Instant::now();
        for o in &overlays {
            let out =
                Command::new("kubectl").arg("kustomize").arg(root.join(o)).stdout(Stdio::null()).status().unwrap();
            assert!(out.success(), "kubectl kustomize {o} failed");
        }
        let theirs = t.elapsed();
        println!("kubectl kustomize (serial):   {:>8.3} s", theirs.as_secs_f64());
        println!("ratio render:  fluxgate is {:.1}x faster", theirs.as_secs_f64() / ours.as_secs_f64());
        if let Some(v) = validate.first() {
            println!(
                "ratio validate (all cores) vs kubectl render alone: {:.1}x faster",
                theirs.as_secs_f64() / v.as_secs_f64()
            );
        }
    } else {
        println!("kubectl kustomize: skipped (kubectl not found on PATH)");
    }
}
