#!/usr/bin/env bash
# Kafka produce throughput, volley vs kcat: N (default 1,000,000) messages
# of BYTES (100) bytes each to one topic of the same broker, librdkafka
# settings alike (linger.ms=5, a queue that holds them all). volley sends
# from a wasm scenario (scripts/kafka-roundtrip, entry `raw`, VUS VUs
# sharing one producer) twice: one message per iteration (k6's shape, every
# iteration timed) and BATCH (1,000) per iteration in one `send-batch` call;
# kcat reads them from a file. BEFORE=path/to/another/volley adds that
# binary's batched run to each round (before/after a change, same
# component, alternating). The broker is the
# embedded mock cluster in a process of its own (`volley targets --kafka`),
# pinned to core 1; each tool is pinned to core 0. Both wait for every ack.
# Each run's topic exists before it starts (one message from kcat, not
# measured): learning a new topic takes librdkafka 2.12 (volley's) about
# 50 ms more than Debian's 2.0 (kcat's), a start-up cost the last line
# ("startup") shows on its own.
# Prints messages/s and CPU seconds (user+sys) per tool, and the ratios of
# this one run; ROUNDS (3) alternate runs per tool, the median is used.
#
#   bench/kafka-compare.sh
#   N=200000 BYTES=1000 bench/kafka-compare.sh
#   N=2000000 BEFORE=/tmp/volley-main bench/kafka-compare.sh
#
# Needs: GNU time and kcat (Debian packages; installed if missing).
# Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
BYTES=${BYTES:-100}
VUS=${VUS:-2}
ROUNDS=${ROUNDS:-3}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
export VOLLEY_GUEST_TARGET_DIR=${VOLLEY_GUEST_TARGET_DIR:-$CACHE/guest-target}
OUT=$(mktemp -d)
TARGET_PID=
cleanup() {
  [ -n "$TARGET_PID" ] && kill "$TARGET_PID" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

for tool in time:/usr/bin/time kcat:kcat; do
  command -v "${tool#*:}" >/dev/null || apt-get install -y -qq "${tool%%:*}" >/dev/null
done

cargo build --release -q -p volley
VOLLEY="$CARGO_TARGET_DIR/release/volley"
COMPONENT=$(realpath "$("$VOLLEY" build scripts/kafka-roundtrip 2>/dev/null | tail -1)")

taskset -c 1 "$VOLLEY" targets --kafka --http 127.0.0.1:0 --auction 127.0.0.1:0 >"$OUT/targets.log" 2>&1 &
TARGET_PID=$!
B=
for _ in $(seq 100); do
  B=$(sed -n 's/^kafka target: *\([^ ]*\).*/\1/p' "$OUT/targets.log")
  [ -n "$B" ] && break
  sleep 0.1
done
[ -n "$B" ] || { cat "$OUT/targets.log" >&2; exit 1; }
echo "broker: $B (mock cluster, its own process on core 1)"

# kcat's input: N lines of BYTES bytes (the newline is the delimiter).
python3 -c "import sys; line=b'x'*$BYTES+b'\n'; sys.stdout.buffer.write(line*$N)" >"$OUT/msgs"
PROPS=(-X linger.ms=5 -X queue.buffering.max.messages=$N -X queue.buffering.max.kbytes=2097151)

# One measured command: prints "wall_s cpu_s rss_kb".
measure() {
  local log=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$log.time" taskset -c 0 "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$log.time"
}

# Creates topic $1 with one message (the mock cluster creates topics on
# first use).
make_topic() {
  printf 'x\n' | kcat -P -b "$B" -t "$1" >/dev/null 2>&1 || { echo "kcat could not create topic $1" >&2; return 1; }
}

run_kcat() {
  make_topic "bench-kcat-$1"
  measure "$OUT/kcat-$1" kcat -P -b "$B" -t "bench-kcat-$1" "${PROPS[@]}" -l "$OUT/msgs"
}
BATCH=${BATCH:-1000}
# run_volley ROUND NAME VUS ITERATIONS PER_ITERATION [BINARY]
run_volley() {
  [ "$1" = 0 ] || make_topic "bench-$2-$1"
  measure "$OUT/$2-$1" "${6:-$VOLLEY}" run "$COMPONENT" --exec raw -u "$3" -i "$4" -e "batch=$5" \
    -e "kafka=$B" -e "topic=bench-$2-$1" -e "bytes=$BYTES" --allow-host 127.0.0.1 \
    --threads 1 -q --threshold 'kafka_produce_failed:count==0' \
    --summary-export "$OUT/$2-$1.json"
  local acked want=$(($4 * $5))
  acked=$(python3 -c "import json;print(int(json.load(open('$OUT/$2-$1.json'))['metrics']['kafka_produce_ack']['values']['count']))")
  [ "$acked" -eq "$want" ] || { echo "volley: $acked of $want acked" >&2; return 1; }
}

echo "round tool    wall_s cpu_s peak_rss_kb"
for r in $(seq "$ROUNDS"); do
  echo "$r kcat   $(run_kcat "$r")" | tee -a "$OUT/results"
  echo "$r volley $(run_volley "$r" volley "$VUS" "$N" 1)" | tee -a "$OUT/results"
  echo "$r volley-batch $(run_volley "$r" volley-batch 1 $((N / BATCH)) "$BATCH")" | tee -a "$OUT/results"
  if [ -n "${BEFORE:-}" ]; then
    echo "$r before-batch $(run_volley "$r" before-batch 1 $((N / BATCH)) "$BATCH" "$BEFORE")" | tee -a "$OUT/results"
  fi
done

# What starting volley costs (engine, component, broker connection, a new
# topic).
echo "startup (1 message): $(run_volley 0 startup 1 1 1)"

python3 - "$OUT/results" "$N" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
def med(tool, col):
    return statistics.median(float(r[col]) for r in rows if r[1] == tool)
k_wall, k_cpu, k_rss = med("kcat", 2), med("kcat", 3), med("kcat", 4)
print(f"\nmedian of {len(set(r[0] for r in rows))} rounds, {n} messages each")
print(f"kcat:         {n/k_wall:>10,.0f} msg/s  cpu {k_cpu:.2f}s  peak rss {k_rss/1024:.0f} MiB")
for tool in ("volley", "volley-batch", "before-batch"):
    if not any(r[1] == tool for r in rows):
        continue
    wall, cpu, rss = med(tool, 2), med(tool, 3), med(tool, 4)
    print(f"{tool + ':':<13} {n/wall:>10,.0f} msg/s  cpu {cpu:.2f}s  peak rss {rss/1024:.0f} MiB"
          f"  (vs kcat: throughput {k_wall/wall:.2f}x, cpu {cpu/k_cpu:.2f}x)")
PY
