#!/usr/bin/env bash
# What one iteration costs in instructions and cache misses, counted by
# cachegrind (so the same on a busy machine as on an idle one): the test
# fixture's EXEC entry (default `http`, GET + check) against nginx on
# loopback, run for N and for 2N iterations by VUS VUs on one worker thread;
# the difference over N is the steady state, start-up (instantiating the
# VUs, opening their connections) not counted. The caches simulated are
# this project's machine's: 48 KiB first-level data cache, 2 MiB second
# level (cachegrind's "LL").
#
#   bench/cachegrind.sh                      # 10 VUs, N=20000
#   VUS=1000 bench/cachegrind.sh             # the scaling question
#   TOP=15 VUS=1000 bench/cachegrind.sh      # and the functions that miss most
#   TOP=40 SORT=ir bench/cachegrind.sh       # the functions that run most
#   VOLLEY=/tmp/volley-before bench/cachegrind.sh
#   SCENARIO=lj.wasm EXEC=default N=5000 bench/cachegrind.sh   # another
#                                            # scenario; its `url` param is nginx
#   ARGS=--no-pooling SCENARIO=... bench/cachegrind.sh   # more `run` flags
#
# Valgrind keeps its client's address space under about 128 GiB, so the
# pool of whole 4 GiB memory reservations (no bounds checks in the guest's
# code; a real run has them up to about 4,000 VUs) is refused under it and
# the run falls back to memories reserved at the limit, whose code checks
# bounds: a JavaScript guest then runs about a third more instructions
# than it does outside valgrind (209k against 157k per GET + check). `ARGS=--no-pooling` reserves each
# instance's memory on its own, whole, and fits for a few dozen VUs.
#
# Prints, per iteration: instructions (Ir), first-level data misses (D1, read
# + write) and last-level data misses (LL). Each run takes about a minute
# (valgrind is ~50x slower). Needs: valgrind, nginx. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
VUS=${VUS:-10}
N=${N:-20000}
EXEC=${EXEC:-http}
TOP=${TOP:-0}
SORT=${SORT:-ll}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
. bench/nginx.sh
valgrind_scenario
NET=(-e "url=$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary ${ARGS:-})
# The first run compiles the component into the cache, not counted. Under
# valgrind the CPU looks different (its features are part of the cache key),
# so that run is under valgrind too.
valgrind --tool=none "$VOLLEY" run "$FIXTURE" --exec "$EXEC" --vus 1 --iterations 1 "${NET[@]}" \
  >"$OUT/log.warm" 2>&1 || { tail -20 "$OUT/log.warm" >&2; exit 1; }

# Runs `iterations` under cachegrind into $OUT/cg.<iterations>.
count() {
  valgrind --tool=cachegrind --cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64 \
    --cachegrind-out-file="$OUT/cg.$1" \
    "$VOLLEY" run "$FIXTURE" --exec "$EXEC" --vus "$VUS" --iterations "$1" --threads 1 \
    "${NET[@]}" >"$OUT/log.$1" 2>&1 || { tail -20 "$OUT/log.$1" >&2; exit 1; }
}
echo "== $EXEC, $VUS VUs: $N and $((N * 2)) iterations under cachegrind" >&2
count "$N"
count "$((N * 2))"

python3 - "$OUT/cg.$N" "$OUT/cg.$((N * 2))" "$N" "$VUS" "$TOP" "$SORT" <<'PY'
import collections, sys

def read(path):
    """Event totals and per-function totals of a cachegrind output file."""
    events, per_fn, fl, fn = None, collections.Counter(), "", ""
    totals = None
    for line in open(path):
        if line.startswith("events:"):
            events = line.split()[1:]
            per_fn = collections.defaultdict(lambda: [0] * len(events))
        elif line.startswith("fl="):
            fl = line[3:].strip()
        elif line.startswith("fn="):
            fn = line[3:].strip()
        elif line.startswith("summary:"):
            totals = [int(x) for x in line.split()[1:]]
        elif line[:1].isdigit():
            counts = line.split()[1:]
            row = per_fn[(fl, fn)]
            for i, c in enumerate(counts):
                row[i] += int(c)
    return events, totals, per_fn

events, a, fa = read(sys.argv[1])
_, b, fb = read(sys.argv[2])
n, vus, top, by_ir = int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6] == "ir"
d = {e: (y - x) / n for e, x, y in zip(events, a, b)}
ll = d["DLmr"] + d["DLmw"]
print(f"{vus} VUs, per iteration: Ir {d['Ir']:,.0f}  D1 misses {d['D1mr'] + d['D1mw']:,.0f}"
      f"  LL misses {ll:,.0f}  ({ll * 64 / 1024:.1f} KiB from beyond the 2 MiB cache)")
if top:
    # The functions whose counts grew most from N to 2N iterations: last-level
    # misses, or with SORT=ir instructions (a function's own count varies
    # far less between runs than the total does).
    ir, lr, lw = events.index("Ir"), events.index("DLmr"), events.index("DLmw")
    zero = [0] * len(events)
    rows = []
    for key in set(fa) | set(fb):
        x, y = fa.get(key, zero), fb.get(key, zero)
        rows.append(((y[lr] + y[lw] - x[lr] - x[lw]) / n, (y[ir] - x[ir]) / n, key))
    rows.sort(key=lambda r: r[1] if by_ir else r[0], reverse=True)
    print(f"{'LL misses':>10} {'Ir':>9}  function (per iteration)")
    for misses, instr, (fl, fn) in rows[:top]:
        print(f"{misses:>10.1f} {instr:>9,.0f}  {fn[:100]}")
PY
