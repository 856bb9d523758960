#!/usr/bin/env bash
# The whole test suite: setup, format, lints, unit and integration tests.
# `.ci/run` calls exactly this; so can you.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
# A target dir outside the clone survives fresh clones on the same machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/volley/target}"
export VOLLEY_GUEST_TARGET_DIR="${VOLLEY_GUEST_TARGET_DIR:-$HOME/.cache/volley/guest-target}"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --release --workspace -- --test-threads="${VOLLEY_TEST_THREADS:-2}"
