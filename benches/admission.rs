//! ValidatingAdmissionPolicy evaluation cost: the nine policies of `fixtures/policies`
//! (pod templates on) against that fixture's rendered objects, repeated to a few thousand
//! objects, on one thread. Prints the time per object (all policies) and per policy
//! evaluation. Run with `cargo bench --bench admission` (`FLUXGATE_BENCH_COPIES`, default 200).

use std::time::Instant;

use fluxgate::config::Config;
use fluxgate::kustomize::build::{Engine, LoadRestrictor};
use fluxgate::kustomize::resource::Resource;
use fluxgate::policy::admission::AdmissionPolicies;
use fluxgate::schema::registry::Registry;
use fluxgate::source::{RelPath, Repo};

fn main() {
    let copies: usize = std::env::var("FLUXGATE_BENCH_COPIES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policies");
    let repo = Repo::open(&root).unwrap();
    let config = Config::parse(&std::fs::read_to_string(root.join(".fluxgate.yaml")).unwrap()).unwrap();
    let engine = Engine::new(&repo, LoadRestrictor::RootOnly);
    let mut one: Vec<Resource> = Vec::new();
    for dir in ["apps/good", "apps/bad"] {
        one.extend(engine.render(&RelPath::parse(dir).unwrap()).unwrap().resources);
    }
    let registry = Registry::new(None).unwrap();
    let t = Instant::now();
    let (policies, invalid) = AdmissionPolicies::load(&repo, &config.admission);
    let load = t.elapsed();
    assert!(invalid.is_empty(), "{invalid:?}");
    // One render per copy, as a run evaluates one entry point's objects at a time.
    let per_render = policies.evaluate(&registry, &one).len();
    let t = Instant::now();
    let mut findings = 0;
    for _ in 0..copies {
        findings += policies.evaluate(&registry, &one).len();
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(findings, per_render * copies);
    let objects = one.len() * copies;
    println!(
        "admission: load+compile {:.2} ms; {objects} objects, {findings} findings in {secs:.3} s: {:.1} µs per object (9 policies, pod templates on)",
        load.as_secs_f64() * 1e3,
        secs * 1e6 / objects as f64
    );
}
