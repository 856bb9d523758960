#!/usr/bin/env bash
# `volley run --watch` on a Rust scenario: from saving its source to every
# VU on the new build. Makes a scenario (`volley new --lang rust`), builds
# it once (the warm build a developer has), runs it with --watch against the
# embedded target, then saves an edited source SAVES times and prints, per
# save, the wall time from the save to the swap's log line, and the swap's
# own split (build, loading, moving the VUs).
#
#   VOLLEY=target/release/volley bench/swap-watch.sh
set -euo pipefail
VOLLEY=${VOLLEY:-${CARGO_TARGET_DIR:-target}/release/volley}
SAVES=${SAVES:-3}
VUS=${VUS:-50}
RATE=${RATE:-200}
DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$VOLLEY" new "$DIR/s" --lang rust >/dev/null
"$VOLLEY" build "$DIR/s" >/dev/null
SRC="$DIR/s/src/lib.rs"
"$VOLLEY" run "$DIR/s" --watch --rate "$RATE" -u "$VUS" -d 600s -q --no-summary \
  2>"$DIR/err" &
PID=$!
# Let the VUs start; each swap is waited for at most 300 s.
sleep 8
for i in $(seq 1 "$SAVES"); do
  before=$(grep -c '^swap: ' "$DIR/err" || true)
  # An edit that changes the code: a check's name.
  sed -i "s/check(\"\([^\"]*\)\"/check(\"\1 v$i\"/" "$SRC" || true
  echo "// save $i" >> "$SRC"
  t0=$(date +%s.%N)
  for _ in $(seq 1 15000); do
    now=$(grep -c '^swap: ' "$DIR/err" || true)
    (( now > before )) && break
    sleep 0.02
  done
  t1=$(date +%s.%N)
  line=$(grep '^swap: ' "$DIR/err" | tail -1)
  printf 'save %d: %.2f s from save to every VU on it\n  %s\n' "$i" "$(echo "$t1 - $t0" | bc)" "$line"
  sleep 3
done
grep -E 'ERROR|WARN' "$DIR/err" | head -5 || true
