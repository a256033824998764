//! Fuzz target `strategic_merge`: see `fluxgate::fuzzing::strategic_merge` for what it runs and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fluxgate::fuzzing::strategic_merge(data));
