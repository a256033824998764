//! Fuzz target `envsubst`: see `fluxgate::fuzzing::envsubst` for what it runs and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fluxgate::fuzzing::envsubst(data));
