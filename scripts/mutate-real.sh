#!/usr/bin/env bash
# Mutation survey of `validate --base` on public checkouts: N seeded single-file mutations per
# repository (default 200), one summary line per repository, every miss printed.
# Usage: scripts/mutate-real.sh N SEED DIR...   (build first: cargo build --release --example mutate)
set -u
n=${1:?N}; seed=${2:?SEED}; shift 2
bin="${MUTATE_BIN:-$(dirname "$0")/../target/release/examples/mutate}"
status=0
for dir in "$@"; do
  start=$(date +%s)
  "$bin" "$dir" "$n" "$seed" | grep -E "^(MISS|.*: mutations )" || status=1
  echo "  ($(( $(date +%s) - start )) s)"
done
exit $status
