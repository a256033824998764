//! Guards the complexity of one render and its checks: the CPU time of a full `validate` of
//! one overlay with 4x the objects must stay well under 4x squared. Linear work grows about
//! 4x (less, with the fixed cost of loading schemas); one quadratic step (a scan of every
//! object per object, as duplicate-id detection once was) grows it towards 16x, and at these
//! sizes it dominates. CPU time of this process, not wall time, and the fastest of a few runs
//! of each size, so a loaded machine slows both sides alike; each bound leaves over 1.5x of
//! room above what is measured today. This file holds one test so that no other test's work lands in the process's
//! CPU time.

#[path = "../benches/synth.rs"]
mod synth;

use std::path::Path;
use std::time::Duration;

use fluxgate::config::Config;
use fluxgate::source::Repo;

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: `rusage` is plain old data, zero is a valid value; getrusage only writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(r, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The fastest CPU time of `runs` full validations of the repository at `root`, which must
/// render and check at least `objects` objects.
fn validate_cost(root: &Path, config: &Config, objects: usize, runs: usize) -> Duration {
    let repo = Repo::open(root).expect("generated repository");
    (0..runs)
        .map(|_| {
            let start = cpu_time();
            let report = fluxgate::pipeline::validate(&repo, config).expect("validate runs");
            let spent = cpu_time() - start;
            assert!(
                report.summary.objects >= objects,
                "{} objects checked, expected {objects}",
                report.summary.objects
            );
            assert_eq!(report.summary.entry_points_failed, 0, "the generated overlay renders");
            spent
        })
        .min()
        .expect("at least one run")
}

/// The CPU-time ratio of validating a 4x repository over a 1x one, each made by `generate`
/// with the size given, which yields `per_unit` objects per unit of size.
fn ratio(generate: fn(&Path, usize) -> String, small: usize, per_unit: usize) -> f64 {
    ratio_with(&Config::default(), generate, small, per_unit)
}

/// [`ratio`] under a given config.
fn ratio_with(config: &Config, generate: fn(&Path, usize) -> String, small: usize, per_unit: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("small"), dir.path().join("large"));
    generate(&a, small);
    generate(&b, small * 4);
    let t1 = validate_cost(&a, config, small * per_unit, 3);
    let t4 = validate_cost(&b, config, small * 4 * per_unit, 3);
    t4.as_secs_f64() / t1.as_secs_f64().max(1e-6)
}

#[test]
fn one_render_and_its_checks_grow_linearly() {
    // 1,000 vs 4,000 ConfigMaps in one file (namespace, commonLabels): accumulation and its
    // duplicate-id check, the namespace and label transformers, emission, schema checks.
    let one_file = ratio(synth::one_file, 1_000, 1);
    // 600 vs 2,400 objects over 60 vs 240 files, with a Deployment, a Service and ConfigMaps
    // per file, a name prefix, strategic merge patches matched by id, generators and name
    // references from the Deployments to the ConfigMaps; then policies across the objects.
    let spread = ratio(synth::spread, 60, 10);
    // 300 vs 1,200 workloads (a Deployment with two replicas, its Service, autoscaler and
    // PodDisruptionBudget) in one file, with a patch without target per Deployment and per
    // Service, and pdb-missing and replicas-minimum on: each Service finds its pod templates,
    // each Deployment its autoscaler and budget, through indexes rather than pairwise scans.
    let rules = Config::parse("rules:\n  pdb-missing: {severity: warning}\n  replicas-minimum: {severity: warning}\n")
        .expect("config parses");
    let workloads = ratio_with(&rules, synth::workloads, 300, 4);
    // Measured (debug build, loaded machine): one file 2.9-4.2x; spread 3.9-5.9x (6.3x before
    // the cross-object rules were indexed); workloads 4.2x (13.3x with patches without a
    // target matched by a scan, 16x and more with pairwise selector comparisons).
    for (what, r, bound) in [("one file", one_file, 6.0), ("spread", spread, 10.0), ("workloads", workloads, 7.0)] {
        eprintln!("{what}: 4x the objects, {r:.2}x the CPU time");
        assert!(r < bound, "{what}: 4x the objects cost {r:.1}x the CPU time (linear is about 4x): a quadratic step?");
    }
}
