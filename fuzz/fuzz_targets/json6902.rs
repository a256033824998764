//! Fuzz target `json6902`: see `fluxgate::fuzzing::json6902` for what it runs and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fluxgate::fuzzing::json6902(data));
