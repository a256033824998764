//! Fuzz target `yaml_loader`: see `fluxgate::fuzzing::yaml_loader` for what it runs and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fluxgate::fuzzing::yaml_loader(data));
