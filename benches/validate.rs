//! Schema validation throughput: objects per second checked (schema, CEL, metadata) on a
//! generated set of at least 20,000 rendered objects, with one thread and with all cores.
//! Run with `cargo bench --bench validate` (`FLUXGATE_BENCH_APPS`, default 1400 apps × 3
//! environments × 5 objects = 21,000 objects).

#[path = "synth.rs"]
mod synth;

use std::time::Instant;

use rayon::prelude::*;

use fluxgate::check::objects;
use fluxgate::config::Level;
use fluxgate::kustomize::build::{Engine, LoadRestrictor};
use fluxgate::kustomize::resource::Resource;
use fluxgate::schema::registry::Registry;
use fluxgate::source::{RelPath, Repo};

fn main() {
    let apps: usize = std::env::var("FLUXGATE_BENCH_APPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1400);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-validate-repo");
    let overlays = synth::generate(&root, synth::Shape { apps, envs: 3 });
    let repo = Repo::open(&root).unwrap();
    let engine = Engine::new(&repo, LoadRestrictor::RootOnly);
    let objects: Vec<Resource> = overlays
        .par_iter()
        .flat_map_iter(|o| engine.render(&RelPath::parse(o).unwrap()).map(|r| r.resources).unwrap_or_default())
        .collect();
    let registry = Registry::new(None).unwrap();
    // Warm up: compile the schemas of the kinds present once (as a run does).
    let findings: usize =
        objects.iter().take(50).map(|r| objects::check(r, &registry, Level::Warning).findings.len()).sum();
    assert_eq!(findings, 0, "generated objects are valid");

    let t = Instant::now();
    let n1: usize = objects.iter().map(|r| usize::from(objects::check(r, &registry, Level::Warning).checked)).sum();
    let single = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let n2: usize = objects.par_iter().map(|r| usize::from(objects::check(r, &registry, Level::Warning).checked)).sum();
    let all = t.elapsed().as_secs_f64();
    println!("validated {} objects ({} checked against a schema)", objects.len(), n1.min(n2));
    println!("one thread:  {:>8.3} s  {:>9.0} objects/s", single, objects.len() as f64 / single);
    println!(
        "all cores ({}): {:>8.3} s  {:>9.0} objects/s",
        rayon::current_num_threads(),
        all,
        objects.len() as f64 / all
    );
}
