#!/usr/bin/env bash
# The whole test suite: setup, format, lints, unit and integration tests.
# `.ci/run` calls exactly this; so can you.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
# A target dir outside the clone survives fresh clones on the same machine;
# ./volley builds into the same one (one engine build for both).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/volley/target}"
export VOLLEY_GUEST_TARGET_DIR="${VOLLEY_GUEST_TARGET_DIR:-$HOME/.cache/volley/guest-target}"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --workspace -- --test-threads="${VOLLEY_TEST_THREADS:-2}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The second, real Kafka broker's tests, where tansu is installed.
TANSU_BIN="${VOLLEY_TANSU_BIN:-$HOME/.cache/volley/tansu/bin/tansu}"
if [ -x "$TANSU_BIN" ]; then
  echo "== tansu tests ($TANSU_BIN)"
  VOLLEY_TANSU_BIN="$TANSU_BIN" cargo test --release -p volley --test it -- --ignored tansu 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  echo "== tansu tests skipped: $TANSU_BIN is missing (VOLLEY_TANSU=1 ./setup.sh installs it)"
fi
set -e
# One closing line for the whole suite (cargo ends on the doc-test binary's).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
