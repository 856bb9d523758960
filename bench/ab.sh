#!/usr/bin/env bash
# Before/after: two volley binaries on the same machine, in one run, against
# nginx on loopback (volley pinned to core 0, nginx to core 1), alternating
# ROUNDS times so both see the same machine. Prints each round and the
# median ratio new/old for
#   - GET + check, VUS VUs, DURATION, 1 worker thread (req/s);
#   - the private memory of MEM_VUS VUs doing GET + check + a 1 s sleep
#     (peak RSS minus the 1-VU run's, per VU).
#
#   bench/ab.sh OLD_VOLLEY NEW_VOLLEY
#   ROUNDS=5 DURATION=10s VUS=50 MEM_VUS=2000 bench/ab.sh old/volley new/volley
#
# Build the old binary from a worktree of the old commit, for example:
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release -p volley)
# The scenario is the test fixture, built by NEW_VOLLEY (both binaries read
# the same WIT version; use commits of the same WIT major).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: bench/ab.sh OLD_VOLLEY NEW_VOLLEY}
NEW=${2:?usage: bench/ab.sh OLD_VOLLEY NEW_VOLLEY}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
VUS=${VUS:-50}
MEM_VUS=${MEM_VUS:-2000}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

FIXTURE=$("$NEW" build engine/tests/guests/fixture 2>/dev/null | tail -1)
. bench/nginx.sh
start_nginx "$OUT"
NET=(-e "url=$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary)

rps() {
  taskset -c 0 "$1" run "$FIXTURE" --exec get --vus "$VUS" --duration "$DURATION" --threads 1 \
    "${NET[@]}" --summary-export "$OUT/rps.json"
  python3 -c "import json;print(json.load(open('$OUT/rps.json'))['metrics']['http_reqs']['values']['rate'])"
}
# Peak RSS in KiB of n sleeping VUs.
rss() {
  /usr/bin/time -f "%M" -o "$OUT/rss" "$1" run "$FIXTURE" --exec get-sleep --vus "$2" --duration 10s "${NET[@]}" >/dev/null
  tail -1 "$OUT/rss"
}

# Fill each binary's precompile cache first, so no round pays Cranelift.
for bin in "$OLD" "$NEW"; do "$bin" run "$FIXTURE" --exec get --iterations 1 "${NET[@]}"; done

rows=()
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  o=$(rps "$OLD"); n=$(rps "$NEW")
  o1=$(rss "$OLD" 1); on=$(rss "$OLD" "$MEM_VUS")
  n1=$(rss "$NEW" 1); nn=$(rss "$NEW" "$MEM_VUS")
  rows+=("$o $n $o1 $on $n1 $nn")
done

python3 - "$MEM_VUS" "${rows[@]}" <<'PY'
import statistics, sys
vus = int(sys.argv[1])
rows = [list(map(float, r.split())) for r in sys.argv[2:]]
print(f"\n| round | old req/s | new req/s | new/old | old KiB/VU | new KiB/VU | new/old |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
rr, mr = [], []
for i, (o, n, o1, on, n1, nn) in enumerate(rows, 1):
    ok, nk = (on - o1) / (vus - 1), (nn - n1) / (vus - 1)
    rr.append(n / o); mr.append(nk / ok)
    print(f"| {i} | {o:,.0f} | {n:,.0f} | {n/o:.2f} | {ok:.0f} | {nk:.0f} | {nk/ok:.2f} |")
print(f"\nmedian new/old: throughput {statistics.median(rr):.2f}, memory per VU {statistics.median(mr):.2f}")
PY
