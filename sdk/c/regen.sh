#!/usr/bin/env bash
# Regenerates the C bindings in gen/ from ../../wit after the WIT changed.
# Needs wit-bindgen-cli 0.63.0 (./setup.sh with VOLLEY_WIT_BINDGEN=1 installs
# it into ~/.cache/volley/toolchains/wit-bindgen, about 3 minutes, once).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${WIT_BINDGEN:-$(command -v wit-bindgen || echo "$HOME/.cache/volley/toolchains/wit-bindgen/bin/wit-bindgen")}"
[ -x "$bin" ] || { echo "regen: wit-bindgen not found; cargo install wit-bindgen-cli --version 0.63.0 --locked" >&2; exit 1; }
"$bin" c "$here/../../wit" --world scenario --out-dir "$here/gen"
sha256sum "$here/../../wit/scenario.wit" | cut -d' ' -f1 > "$here/gen/WIT_SHA256"
echo "regen: gen/ matches wit/scenario.wit"
