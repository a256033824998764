//! Fuzz target `kustomization`: see `fluxgate::fuzzing::kustomization` for what it runs and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fluxgate::fuzzing::kustomization(data));
