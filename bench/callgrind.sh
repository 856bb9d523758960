#!/usr/bin/env bash
# Which functions one iteration runs, the guest's by name: instructions and
# calls per iteration of every function, the engine's and the guest's
# compiled code alike (named by wasmtime's perf map, VOLLEY_PERFMAP=1, which
# valgrind's own tools cannot read: bench/cachegrind.sh shows the guest as
# `???`). Like bench/cachegrind.sh: the fixture's EXEC entry against nginx
# on loopback, N and 2N iterations by VUS VUs on one worker thread under
# callgrind, the difference over N being the steady state. Each instance's
# memory is reserved on its own (`--no-pooling`), as valgrind needs.
#
#   bench/callgrind.sh                       # the Rust fixture's GET + check
#   SCENARIO=x.wasm EXEC=default bench/callgrind.sh   # another component
#   TOP=60 SCENARIO=... bench/callgrind.sh   # more functions
#   VOLLEY=/tmp/volley-before SCENARIO=... bench/callgrind.sh
#
# A component built from a k6 script for this must read `__ENV.url` (the
# fixture's parameter name), e.g. `sed 's/__ENV.URL/__ENV.url/'` a copy.
# Prints the total per iteration, the guest's share, then each function:
# instructions (its own, not its callees') and calls per iteration. Takes a
# minute or two. Needs: valgrind, nginx. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
VUS=${VUS:-10}
N=${N:-1000}
EXEC=${EXEC:-http}
TOP=${TOP:-30}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
. bench/nginx.sh
valgrind_scenario
RUN=(--exec "$EXEC" --vus "$VUS" --threads 1 -e "url=$URL" --allow-host "127.0.0.1:$PORT"
  --quiet --no-summary --no-pooling)
# The first run compiles the component into the cache under valgrind's CPU
# features, not counted.
valgrind --tool=none "$VOLLEY" run "$FIXTURE" "${RUN[@]}" --iterations "$VUS" >"$OUT/log.warm" 2>&1 \
  || { tail -20 "$OUT/log.warm" >&2; exit 1; }

# Runs `iterations` under callgrind into $OUT/cg.<iterations>, its perf map
# beside it.
count() {
  VOLLEY_PERFMAP=1 sh -c 'echo $$ >"$0/pid.$1"; r=$1; shift; exec valgrind --tool=callgrind --callgrind-out-file="$0/cg.$r" "$@"' \
    "$OUT" "$1" "$VOLLEY" run "$FIXTURE" "${RUN[@]}" --iterations "$1" >"$OUT/log.$1" 2>&1 \
    || { tail -20 "$OUT/log.$1" >&2; exit 1; }
  mv "/tmp/perf-$(cat "$OUT/pid.$1").map" "$OUT/map.$1" 2>/dev/null || touch "$OUT/map.$1"
}
echo "== $(basename "$FIXTURE") --exec $EXEC, $VUS VUs: $N and $((N * 2)) iterations under callgrind" >&2
count "$N"
count "$((N * 2))"

python3 - "$OUT" "$N" "$TOP" <<'PY'
import bisect, collections, re, sys

out, n, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def read(runs):
    """Own instructions and calls per function of one callgrind file, the
    guest's functions (by address) named from the run's perf map."""
    jit = []
    for line in open(f"{out}/map.{runs}"):
        start, size, name = line.rstrip("\n").split(" ", 2)
        jit.append((int(start, 16), int(size, 16), name))
    jit.sort()
    starts = [j[0] for j in jit]

    def named(fn):
        m = re.match(r"0x([0-9a-f]+)", fn)
        if not m:
            return fn
        at = int(m.group(1), 16)
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and at < jit[i][0] + jit[i][1]:
            return "guest " + jit[i][2]
        return fn

    names, own, calls = {}, collections.Counter(), collections.Counter()
    fn = callee = None
    after_call = False

    def name_of(text):
        # callgrind compresses names: "(id) name" the first time, "(id)" after.
        m = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not m:
            return text
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names[m.group(1)]

    for line in open(f"{out}/cg.{runs}"):
        if line.startswith("fn="):
            fn = named(name_of(line[3:].strip()))
        elif line.startswith("cfn="):
            callee = named(name_of(line[4:].strip()))
        elif line.startswith("calls="):
            calls[callee] += int(line[6:].split()[0])
            after_call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if after_call:  # the call's inclusive cost, not the caller's own
                after_call = False
            else:
                own[fn] += int(line.split()[-1])
    return own, calls

own1, calls1 = read(n)
own2, calls2 = read(2 * n)
per = {f: (own2[f] - own1[f]) / n for f in set(own1) | set(own2)}
total = sum(per.values())
guest = sum(v for f, v in per.items() if f.startswith("guest "))
print(f"per iteration: {total:,.0f} instructions, the guest's {guest:,.0f} ({guest / total:.0%})")
print(f"{'instructions':>12} {'calls':>7}  function (its own instructions, per iteration)")
for f, v in sorted(per.items(), key=lambda kv: -kv[1])[:top]:
    print(f"{v:>12,.0f} {(calls2[f] - calls1[f]) / n:>7.1f}  {f[:110]}")
PY
