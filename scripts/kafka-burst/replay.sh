#!/usr/bin/env bash
# The burst-and-replay exercise with one tool, against a broker that outlives
# each run (`volley targets --kafka`: the mock cluster and its enricher):
#
#   1. burst 10,000 orders; the throttled `analytics` group's lag grows and
#      drains (plan `default`), totals in analytics_orders / _amount_cents
#   2. volley kafka lag           -> 0: the group caught up
#   3. volley kafka reset-offsets --to-earliest
#   4. volley kafka lag           -> 10,000 again
#   5. the group reads it all again (plan `replay`); the totals must match
#
#   scripts/kafka-burst/replay.sh            # uses `volley` from PATH, or
#   VOLLEY="cargo run --release -q -p volley --" scripts/kafka-burst/replay.sh
#   BOOTSTRAP=host:port,... replay.sh         # your own broker instead
set -euo pipefail
cd "$(dirname "$0")/../.."
VOLLEY=${VOLLEY:-volley}
work=$(mktemp -d)
trap 'kill ${targets_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -z "${BOOTSTRAP:-}" ]; then
  $VOLLEY targets --kafka --http 127.0.0.1:0 --auction 127.0.0.1:0 > "$work/targets.log" 2>&1 &
  targets_pid=$!
  for _ in $(seq 1 100); do
    BOOTSTRAP=$(sed -n 's/^kafka target: *\([^ ]*\).*/\1/p' "$work/targets.log")
    [ -n "$BOOTSTRAP" ] && break
    kill -0 "$targets_pid" 2>/dev/null || { cat "$work/targets.log" >&2; exit 1; }
    sleep 0.2
  done
  [ -n "$BOOTSTRAP" ] || { echo "volley targets --kafka did not start" >&2; exit 1; }
fi
echo "== broker: $BOOTSTRAP"
conn=(-b "$BOOTSTRAP" -g analytics -t orders.raw)

echo "== 1. burst, throttled analytics group"
$VOLLEY run scripts/kafka-burst --target "kafka=kafka://$BOOTSTRAP" --summary-export "$work/first.json"
echo "== 2. lag after the first pass"
$VOLLEY kafka lag "${conn[@]}"
echo "== 3. reset to earliest"
$VOLLEY kafka reset-offsets "${conn[@]}" --to-earliest --join
echo "== 4. lag after the reset"
$VOLLEY kafka lag "${conn[@]}"
echo "== 5. replay"
$VOLLEY run scripts/kafka-burst -p replay --target "kafka=kafka://$BOOTSTRAP" --summary-export "$work/replay.json"

python3 - "$work/first.json" "$work/replay.json" <<'PY'
import json, sys
def totals(path):
    m = json.load(open(path))["metrics"]
    return {k: m[k]["values"]["count"] for k in ("analytics_orders", "analytics_amount_cents")}
first, replay = totals(sys.argv[1]), totals(sys.argv[2])
print(f"first pass: {first}\nreplay:     {replay}")
if first != replay:
    sys.exit("the replay's totals differ from the first pass")
print("totals match")
PY
