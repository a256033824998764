#!/usr/bin/env bash
# Run `fluxgate validate --format json` with no configuration on each repository checkout given
# and summarise what a new user would see: errors and warnings by rule, schema coverage
# (objects checked against a schema / objects rendered) and the entry points that failed to
# render, each with the first line of the reason.
#
# Usage: scripts/validate-real.sh [--details] REPO_DIR...
#   FLUXGATE       the binary (default: target/debug/fluxgate next to this script, else `fluxgate`)
#   FLUXGATE_ARGS  extra validate flags (default: --offline, so no chart is fetched)
#   OUT_DIR        keep each repository's JSON report here as <dir-name>.json (default: a temp dir)
# --details also lists every error finding (rule, file:line, message).
# The run uses the repository's `.fluxgate.yaml` if it has one (public repositories have none).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${FLUXGATE:-}"
if [[ -z "$bin" ]]; then
  if [[ -x "$here/../target/debug/fluxgate" ]]; then bin="$here/../target/debug/fluxgate"; else bin=fluxgate; fi
fi
args="${FLUXGATE_ARGS:---offline}"
details=0
if [[ "${1:-}" == "--details" ]]; then details=1; shift; fi
if [[ $# -eq 0 ]]; then
  echo "usage: $0 [--details] REPO_DIR..." >&2
  exit 2
fi
out="${OUT_DIR:-$(mktemp -d)}"
mkdir -p "$out"

total_err=0
for repo in "$@"; do
  name="$(basename "$repo")"
  json="$out/$name.json"
  # Exit code 1 only means "error findings"; 2 means fluxgate could not run.
  set +e
  # shellcheck disable=SC2086
  "$bin" validate --format json $args "$repo" >"$json" 2>"$out/$name.stderr"
  rc=$?
  set -e
  if [[ $rc -ge 2 ]]; then
    echo "== $name: fluxgate exited $rc: $(head -n1 "$out/$name.stderr")"
    continue
  fi
  n=$(python3 - "$json" "$name" "$details" <<'PY'
import json, sys
from collections import Counter
path, name, details = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
d = json.load(open(path))
s, cov = d["summary"], d.get("schema_coverage") or {}
fs = d["findings"]
errs = Counter(f["rule"] for f in fs if f["severity"] == "error")
warns = Counter(f["rule"] for f in fs if f["severity"] == "warning")
checked, total = cov.get("checked", 0), cov.get("total", 0)
pct = f"{100 * checked / total:.0f}%" if total else "-"
print(f"== {name}: {s['errors']} errors, {s['warnings']} warnings, {s['infos']} infos; "
      f"entry points {s['entry_points']} ({s['entry_points_failed']} failed); "
      f"schema coverage {checked}/{total} ({pct})", file=sys.stderr)
def show(title, c):
    if c:
        print(f"  {title}: " + ", ".join(f"{r} {n}" for r, n in sorted(c.items(), key=lambda x: (-x[1], x[0]))), file=sys.stderr)
show("errors", errs)
show("warnings", warns)
unchecked = cov.get("unchecked") or []
if unchecked:
    top = sorted(unchecked, key=lambda u: -u["count"])[:5]
    print("  unchecked kinds: " + ", ".join(f"{u['kind']} ({u['apiVersion']}) {u['count']}" for u in top), file=sys.stderr)
failed = [e for e in d["entry_points"] if not e.get("rendered", True)]
groups, seen = {}, set()
for e in failed:
    key = (e["name"], e["path"])
    if key in seen:
        continue
    seen.add(key)
    why = next((f for f in fs if f["entry_point"] == e["name"] and f["severity"] == "error"), None)
    why = why or next((f for f in fs if f["entry_point"] == e["name"]), None)
    rule = why["rule"] if why else "(no finding)"
    sev = why["severity"] if why else "error"
    reason = why["message"].splitlines()[0] if why else ""
    groups.setdefault((e["kind"], rule, sev), []).append((e["name"], reason))
for (kind, rule, sev), items in sorted(groups.items(), key=lambda g: (g[0][2] != "error", -len(g[1]), g[0])):
    print(f"  failed renders: {len(items)} {kind} ({rule}, {sev})", file=sys.stderr)
    if sev != "error" and not details:
        continue  # not rendered for a reason outside the repository (no helm, no network)
    for n, reason in items if details else items[:3]:
        print(f"    {n}: {reason}", file=sys.stderr)
    if not details and len(items) > 3:
        print(f"    ... {len(items) - 3} more (--details lists all)", file=sys.stderr)
if details:
    for f in fs:
        if f["severity"] != "error":
            continue
        loc = f.get("location") or {}
        where = f"{loc.get('file')}:{loc.get('line')}" if loc else "-"
        print(f"  E {f['rule']} {where} [{f['entry_point']}] {f['message'].splitlines()[0]}", file=sys.stderr)
print(s["errors"])
PY
)
  total_err=$((total_err + n))
done
echo "== total errors: $total_err (reports in $out)"
