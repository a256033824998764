#!/bin/sh
# Runs every fuzz target for SECONDS (default 300) one after another, niced, seeded with the
# repository's fixtures; crashes land in fuzz/artifacts/<target>/. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets a stable toolchain take the nightly
# sanitizer flags cargo-fuzz passes.
#   sh fuzz/run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-300}
[ $# -gt 0 ] && shift
targets=${*:-yaml_loader kustomization strategic_merge json6902 envsubst}
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t for ${secs}s"
    RUSTC_BOOTSTRAP=1 nice cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" fixtures fuzz/regressions/"$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1
done
