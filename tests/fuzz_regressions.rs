//! Replays every input kept under `fuzz/regressions/<target>/` (inputs that once crashed or hung
//! a fuzz target, plus hand-written seeds for the shapes that matter) through the same library
//! entry points the `cargo fuzz` targets call (`fluxgate::fuzzing`). CI runs these, not the
//! fuzzer: a fixed crash stays fixed.

use std::path::Path;
use std::time::{Duration, Instant};

/// Each input must finish well within this (debug build); the fuzzer's own timeout is 10 s.
const PER_INPUT: Duration = Duration::from_secs(20);

#[test]
fn every_fuzz_regression_input_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in fluxgate::fuzzing::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "no regression inputs for {target}");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(|| fluxgate::fuzzing::run(target, &data));
            assert!(outcome.is_ok(), "{target}: {} panics", input.display());
            assert!(start.elapsed() < PER_INPUT, "{target}: {} took {:?}", input.display(), start.elapsed());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} fuzz regression inputs");
}
