#!/usr/bin/env bash
# parity-real.sh REPO_DIR: renders every kustomization directory of a checkout with
# `kubectl kustomize` and with `fluxgate render` (both with LoadRestrictionsNone, as Flux's
# kustomize-controller builds) and compares them object for object, with the rules of
# tests/differential.rs (object ids in order, then the first differing field path).
#
# Prints one line per overlay (`agree`, `DIFFER`, `FLUXGATE-FAILS`, `KUSTOMIZE-FAILS`, `both-fail`,
# `skipped`) and a summary line `REPO agree N/M (kustomize fails: K, both fail: B, skipped: S)`,
# where M counts every directory that at least one side renders: directories both fail on are
# left out, a directory only one side renders is a disagreement (K counts those kubectl fails
# on), except `skipped`: kubectl fails and fluxgate renders after a `render-skipped` warning, i.e.
# the overlay needs what fluxgate never does by design and kubectl here cannot do without flags
# or network (remote resources, helmCharts, exec/KRM plugins); those are left out of M too.
# Exit status 0 when N = M, 1 otherwise, 2 on bad usage.
#
# Environment: FLUXGATE (binary, default target/debug/fluxgate, built first unless
# PARITY_NO_BUILD=1), PARITY_JOBS (parallel renders, default 2), PARITY_TIMEOUT (seconds per
# render, default 120), PARITY_KEEP (directory in which to keep both renders of every overlay).
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 REPO_DIR" >&2
  exit 2
fi
repo=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${PARITY_NO_BUILD:-0} != 1 ]]; then
  (cd "$here" && nice -n 10 cargo build --quiet --bin fluxgate --example parity_compare >&2)
fi
export FLUXGATE=${FLUXGATE:-$here/target/debug/fluxgate}
export COMPARE=${COMPARE:-$here/target/debug/examples/parity_compare}
export PARITY_TIMEOUT=${PARITY_TIMEOUT:-120}
export REPO=$repo
work=${PARITY_KEEP:-$(mktemp -d)}
mkdir -p "$work"
export WORK=$work
[[ -n ${PARITY_KEEP:-} ]] || trap 'rm -rf "$work"' EXIT

# One overlay: render it both ways, compare, print `STATUS<TAB>path<TAB>detail`.
one() {
  local dir=$1 rel key k f detail
  rel=${dir#"$REPO"}; rel=${rel#/}; rel=${rel:-.}
  key=$(printf '%s' "$rel" | tr '/' '_')
  k=0; f=0
  timeout "$PARITY_TIMEOUT" kubectl kustomize --load-restrictor LoadRestrictionsNone "$dir" \
    >"$WORK/$key.kustomize.yaml" 2>"$WORK/$key.kustomize.err" </dev/null || k=$?
  timeout "$PARITY_TIMEOUT" "$FLUXGATE" render --load-restrictor LoadRestrictionsNone --root "$REPO" "$dir" \
    >"$WORK/$key.fluxgate.yaml" 2>"$WORK/$key.fluxgate.err" </dev/null || f=$?
  first_line() { grep -v '^\s*$' "$1" | head -n 3 | tr '\n\t' '  ' | cut -c1-400; }
  if [[ $k -ne 0 && $f -ne 0 ]]; then
    printf 'both-fail\t%s\t%s\n' "$rel" "$(first_line "$WORK/$key.kustomize.err")"
  elif [[ $k -ne 0 ]] && grep -q 'render-skipped' "$WORK/$key.fluxgate.err"; then
    printf 'skipped\t%s\t%s\n' "$rel" "$(grep -m1 'render-skipped' "$WORK/$key.fluxgate.err" | cut -c1-300)"
  elif [[ $k -ne 0 ]]; then
    printf 'KUSTOMIZE-FAILS\t%s\t%s\n' "$rel" "$(first_line "$WORK/$key.kustomize.err")"
  elif [[ $f -ne 0 ]]; then
    printf 'FLUXGATE-FAILS\t%s\t%s\n' "$rel" "$(first_line "$WORK/$key.fluxgate.err")"
  elif detail=$("$COMPARE" "$WORK/$key.fluxgate.yaml" "$WORK/$key.kustomize.yaml"); then
    printf 'agree\t%s\t%s\n' "$rel" "${detail#agree}"
  else
    printf 'DIFFER\t%s\t%s\n' "$rel" "$(printf '%s' "$detail" | cut -c1-600)"
  fi
}
export -f one

# Every directory holding a kustomization file, dot directories skipped.
find "$repo" -name '.*' -prune -o -type f \
  \( -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization \) -print0 |
  xargs -0 -n1 dirname | sort -u | tr '\n' '\0' |
  xargs -0 -P "${PARITY_JOBS:-2}" -I{} bash -c 'one "$1"' _ {} >"$work/results.tsv"

sort -t$'\t' -k2,2 "$work/results.tsv" | awk -F'\t' '{ printf "%-16s %s%s\n", $1, $2, ($3 == "" ? "" : "  " $3) }'
awk -F'\t' -v name="$(basename "$repo")" '
  { total++; n[$1]++ }
  END {
    both = n["both-fail"] + 0; skipped = n["skipped"] + 0; m = total - both - skipped; a = n["agree"] + 0
    printf "%s agree %d/%d (kustomize fails: %d, both fail: %d, skipped: %d)\n", name, a, m, n["KUSTOMIZE-FAILS"] + 0, both, skipped
    exit (a == m ? 0 : 1)
  }' "$work/results.tsv"
