#!/usr/bin/env bash
# A locustfile run by Locust and by volley, as pasted: GET / with no wait,
# USERS users (default 50) for DURATION (default 8s), each tool pinned to
# core 0 and nginx to core 1, ROUNDS rounds (default 3) alternating the two.
# Once with Locust's HttpUser (python-requests in Locust), once with its
# FastHttpUser (geventhttpclient) and once with HttpUser judging each
# response in a `catch_response` block (FILES picks some). Prints each round's requests per second
# (Locust's from its --csv stats, volley's from --summary-export; both
# count every request of the run) and the median ratio volley/Locust.
#
#   bench/locust-compare.sh
#   ROUNDS=5 USERS=100 DURATION=15s bench/locust-compare.sh
#   FILES=catch_response bench/locust-compare.sh
#
# Needs: nginx, taskset, Locust (./setup.sh installs it into a venv under
# $CACHE). Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-50}
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-3}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
LOCUST=$CACHE/locust-venv/bin/locust
[ -x "$LOCUST" ] || { echo "no $LOCUST: run ./setup.sh (it installs Locust)" >&2; exit 1; }
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT

. bench/nginx.sh
cargo build --release -q -p volley
VOLLEY="$CARGO_TARGET_DIR/release/volley"
start_nginx "$OUT"
HOST=${URL%/}

for file in ${FILES:-http_user fast_http_user catch_response}; do
  # Each run gets a folder of its own: Locust writes its CSVs next to it,
  # volley builds the file into target/ there.
  cp "bench/locust/$file.py" "$OUT/$file.py"
  "$VOLLEY" build "$OUT/$file.py" >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
  "$VOLLEY" run "$OUT/$file.py" --target "host=$HOST" --vus 1 --iterations 1 --quiet --no-summary
  pairs=()
  for round in $(seq "$ROUNDS"); do
    (cd "$OUT" && taskset -c 0 "$LOCUST" -f "$file.py" --headless -u "$USERS" -r "$USERS" -t "$DURATION" \
      --host "$HOST" --csv "$OUT/locust" --only-summary >"$OUT/locust.log" 2>&1) ||
      { tail -20 "$OUT/locust.log" >&2; exit 1; }
    theirs=$(python3 -c "import csv,sys; print(next(r['Requests/s'] for r in csv.DictReader(open(sys.argv[1])) if r['Name'] == 'Aggregated'))" "$OUT/locust_stats.csv")
    taskset -c 0 "$VOLLEY" run "$OUT/$file.py" --target "host=$HOST" --vus "$USERS" --duration "$DURATION" \
      --threads 1 --quiet --no-summary --summary-export "$OUT/volley.json"
    ours=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['http_reqs']['values']['rate'])" "$OUT/volley.json")
    pairs+=("$theirs:$ours")
  done
  python3 - "$file" "${pairs[@]}" <<'PY'
import statistics, sys
name, pairs = sys.argv[1], [tuple(map(float, p.split(":"))) for p in sys.argv[2:]]
for i, (locust, volley) in enumerate(pairs, 1):
    print(f"{name} round {i}: Locust {locust:,.0f} req/s, volley {volley:,.0f} req/s, ratio {volley / locust:.2f}")
print(f"{name}: median volley/Locust {statistics.median(v / l for l, v in pairs):.2f}x")
PY
done
