#!/usr/bin/env bash
# Hot swap under load: VUS VUs at RATE iterations/s against nothing (the
# fixture's `empty` entry), SWAPS swaps between two builds of the fixture
# that differ only in a custom section. Prints, per swap, the time from the
# new version loaded to every VU on it (and how many moved), then failed,
# dropped and interrupted iterations, per-version iteration counts against
# the total, and resident memory after the first and the last swap.
#
#   VOLLEY=target/release/volley bench/swap.sh [fixture.wasm]
set -euo pipefail
VOLLEY=${VOLLEY:-${CARGO_TARGET_DIR:-target}/release/volley}
RATE=${RATE:-2000}
VUS=${VUS:-1000}
SWAPS=${SWAPS:-10}
EVERY=${EVERY:-3}
FIXTURE=${1:-engine/tests/guests/fixture/target/volley/fixture.wasm}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cp "$FIXTURE" "$DIR/a.wasm"
cp "$FIXTURE" "$DIR/b.wasm"
# A custom section: id 0, size 18, name length 16, name, one byte.
printf '\x00\x12\x10volley-swap-test\x01' >> "$DIR/b.wasm"
cp "$DIR/a.wasm" "$DIR/w.wasm"
DURATION=$(( (SWAPS + 2) * EVERY ))
"$VOLLEY" run "$DIR/w.wasm" --exec empty --rate "$RATE" -u "$VUS" -d "${DURATION}s" \
  --watch -q --no-summary --summary-export "$DIR/out.json" &
PID=$!
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
sleep "$EVERY"
for i in $(seq 1 "$SWAPS"); do
  if (( i % 2 )); then src=b; else src=a; fi
  cp "$DIR/$src.wasm" "$DIR/w.tmp" && mv "$DIR/w.tmp" "$DIR/w.wasm"
  sleep "$EVERY"
  if (( i == 1 )); then FIRST=$(rss); fi
  if (( i == SWAPS )); then LAST=$(rss); fi
done
wait "$PID" || echo "volley exited with $?"
echo "RSS after swap 1: ${FIRST} kB; after swap ${SWAPS}: ${LAST} kB ($(( (LAST - FIRST) * 100 / FIRST ))%)"
python3 - "$DIR/out.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
moves = []
for s in e.get("swaps", []):
    moves.append(s["rollout"])
    print(f"swap at {s['at']:.1f}s {s['from']} -> {s['to']}: {s['result']} in {s['took']*1e3:.0f} ms "
          f"(load {s['load']*1e3:.0f} ms, every VU moved in {s['rollout']*1e3:.0f} ms: "
          f"{s['moved']} of {s['vus']} VUs; {s['interrupted']} interrupted) {s.get('reason','')}")
if moves:
    moves.sort()
    print(f"time to every VU moved: median {moves[len(moves)//2]*1e3:.0f} ms, max {moves[-1]*1e3:.0f} ms")
per = {}
total = 0
for x in e["series"]:
    if x["metric"] == "iterations":
        total += x["sum"]
        v = x["tags"].get("version", "?")
        per[v] = per.get(v, 0) + x["sum"]
print("iterations per version:", per, "sum", sum(per.values()), "total", total)
for m in ("iterations_failed", "dropped_iterations"):
    print(m, sum(x.get("sum", 0) for x in e["series"] if x["metric"] == m))
PY
