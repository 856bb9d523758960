#!/usr/bin/env bash
# What the outputs and the dashboard cost: the same fixed-iteration run of
# scripts/http-ingest (one request per iteration) against the embedded HTTP
# target, once with no outputs and once with every --out (json, csv, hdr,
# influxdb to VictoriaMetrics, prometheus-rw to Prometheus when those are
# installed, else files only) plus --dashboard. Measures volley's user+sys
# CPU and max RSS (GNU time); prints the CPU ratio (target: at most 1.10).
# The all-outputs run is repeated with SMALL iterations: max RSS at SMALL
# and at N shows whether memory grows with the number of samples.
#
#   VOLLEY=target/release/volley bench/outputs-cost.sh
#   N=1000000 SMALL=200000 VUS=50 ROUNDS=1 (defaults)
set -euo pipefail
VOLLEY=${VOLLEY:-${CARGO_TARGET_DIR:-target}/release/volley}
N=${N:-1000000}
SMALL=${SMALL:-200000}
VUS=${VUS:-50}
ROUNDS=${ROUNDS:-1}
DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# Polls URL until it answers 200, at most 30 s.
ready() {
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  return 1
}

OUTS=(--out "json=$DIR/out.json" --out "csv=$DIR/out.csv" --out "hdr=$DIR/out.hlog")
if [[ -x /usr/bin/victoria-metrics ]]; then
  VM=$(free_port)
  /usr/bin/victoria-metrics -storageDataPath="$DIR/vm" -httpListenAddr="127.0.0.1:$VM" >/dev/null 2>&1 &
  PIDS+=($!)
  ready "http://127.0.0.1:$VM/health"
  OUTS+=(--out "influxdb=http://127.0.0.1:$VM/volley")
  echo "influxdb: VictoriaMetrics on 127.0.0.1:$VM"
else
  echo "influxdb: skipped (no /usr/bin/victoria-metrics)"
fi
if [[ -x /usr/bin/prometheus ]]; then
  PROM=$(free_port)
  printf 'global:\n  scrape_interval: 15s\n' > "$DIR/prometheus.yml"
  /usr/bin/prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
    --web.listen-address="127.0.0.1:$PROM" --web.enable-remote-write-receiver >/dev/null 2>&1 &
  PIDS+=($!)
  ready "http://127.0.0.1:$PROM/-/ready"
  OUTS+=(--out "prometheus-rw=http://127.0.0.1:$PROM/api/v1/write")
  echo "prometheus-rw: Prometheus on 127.0.0.1:$PROM"
else
  echo "prometheus-rw: skipped (no /usr/bin/prometheus)"
fi
ALL=("${OUTS[@]}" --dashboard=127.0.0.1:0)

# run LABEL ITERATIONS [FLAGS...]: one run; prints and records
# "LABEL cpu_s max_rss_kB http_reqs".
run() {
  local label=$1 n=$2
  shift 2
  rm -f "$DIR"/out.*
  /usr/bin/time -f '%U %S %M' -o "$DIR/time" \
    "$VOLLEY" run scripts/http-ingest --target api=embedded:http -u "$VUS" -i "$n" \
    -q --no-summary --summary-export "$DIR/export.json" "$@" 2>"$DIR/stderr" ||
    { echo "$label: volley failed"; cat "$DIR/stderr"; exit 1; }
  local reqs
  reqs=$(python3 -c 'import json,sys;print(int(json.load(open(sys.argv[1]))["metrics"]["http_reqs"]["values"]["count"]))' "$DIR/export.json")
  # An output that could not write says so: the run would not be a fair one.
  if grep -qiE 'warn|fail|drop' "$DIR/stderr"; then
    echo "$label: an output complained:"
    cat "$DIR/stderr"
  fi
  read -r user sys rss < "$DIR/time"
  local cpu
  cpu=$(python3 -c "print(f'{$user + $sys:.2f}')")
  echo "$label $cpu $rss $reqs" | tee -a "$DIR/results"
}

# Built once before measuring.
"$VOLLEY" build scripts/http-ingest >/dev/null 2>&1
echo "label cpu_s max_rss_kB http_reqs"
for _ in $(seq 1 "$ROUNDS"); do
  run none "$N"
  run all "$N" "${ALL[@]}"
done
run all-small "$SMALL" "${ALL[@]}"
python3 - "$DIR/results" "$N" "$SMALL" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def mean(label, col):
    v = [float(r[col]) for r in rows if r[0] == label]
    return sum(v) / len(v)
none, allo = mean("none", 1), mean("all", 1)
print(f"CPU, {sys.argv[2]} requests: none {none:.2f} s, all outputs + dashboard {allo:.2f} s: ratio {allo / none:.3f} (target <= 1.10)")
print(f"max RSS, all outputs: {mean('all-small', 2) / 1024:.0f} MB at {sys.argv[3]} requests, "
      f"{mean('all', 2) / 1024:.0f} MB at {sys.argv[2]} (none: {mean('none', 2) / 1024:.0f} MB)")
PY
