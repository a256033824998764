//! The `fluxgate` binary: sets the allocator and hands over to the command line ([`cli`]).

mod cli;

use std::process::ExitCode;

/// mimalloc returns freed memory to the OS sooner than glibc's allocator under many threads:
/// lower peak RSS on large repositories, and faster allocation of the many small YAML nodes.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
