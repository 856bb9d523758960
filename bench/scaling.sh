#!/usr/bin/env bash
# How volley scales on this machine, against nginx on loopback (one run):
#   1. throughput of GET + check with --threads 2 against --threads 1
#      (VUS VUs, DURATION each; the generator unpinned, nginx on core 1);
#   2. CPU per iteration (user + system µs of the whole process) as the VUs
#      grow 10 -> 100 -> 1,000 -> 10,000, one worker thread pinned to core 0,
#      each VU doing GET + check in a loop. Flat is the goal. Each step runs
#      for DURATION and for twice that; the cost is the difference in CPU over
#      the difference in iterations, so start-up (instantiating 10,000 VUs,
#      opening their connections) is not counted.
#
#   bench/scaling.sh
#   DURATION=20s VUS=50 bench/scaling.sh
#   VOLLEY=/tmp/volley-before bench/scaling.sh
#
# Needs: nginx, GNU time. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
VUS=${VUS:-50}
STEPS=${STEPS:-"10 100 1000 10000"}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

. bench/nginx.sh
volley_and_fixture
start_nginx "$OUT"
NET=(-e "url=$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary)

# Runs volley with the given arguments under GNU time; prints
# "requests/s iterations cpu_seconds".
measure() {
  /usr/bin/time -f "%U %S" -o "$OUT/time" "$@" "$VOLLEY" run "$FIXTURE" --exec http \
    "${NET[@]}" --summary-export "$OUT/s.json" "${ARGS[@]}" >/dev/null
  python3 - "$OUT/s.json" "$(tail -1 "$OUT/time")" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
user, system = map(float, sys.argv[2].split())
print(m["http_reqs"]["values"]["rate"], m["iterations"]["values"]["count"], user + system)
PY
}

echo "== throughput, $VUS VUs, $DURATION"
ARGS=(--vus "$VUS" --duration "$DURATION" --threads 1)
read -r one _ _ < <(measure env)
ARGS=(--vus "$VUS" --duration "$DURATION" --threads 2)
read -r two _ _ < <(measure env)
python3 -c "print(f'threads 1: {$one:.0f} req/s   threads 2: {$two:.0f} req/s   ratio 2/1 = {$two/$one:.2f}')"

echo "== CPU per iteration, 1 worker thread on core 0, $DURATION and twice that per step"
secs=${DURATION%s}
first=""
for vus in $STEPS; do
  ARGS=(--vus "$vus" --duration "${secs}s" --threads 1)
  read -r rps iters1 cpu1 < <(measure taskset -c 0)
  ARGS=(--vus "$vus" --duration "$((secs * 2))s" --threads 1)
  read -r _ iters2 cpu2 < <(measure taskset -c 0)
  per=$(python3 -c "print(f'{($cpu2-$cpu1)/($iters2-$iters1)*1e6:.1f}')")
  first=${first:-$per}
  python3 -c "print(f'{$vus:>6} VUs: {$rps:>9.0f} req/s  {$per:>6} µs CPU/iteration  ({$per/$first:.2f}x the first step)')"
done
