#!/usr/bin/env bash
# Rebuilds sdk/js/runtime/quickjs.wasm, volley's QuickJS runtime for
# componentize-qjs (README.md in this folder says what it is and why).
# Not part of setup or CI: the runtime is committed, and its sources are on
# GitHub (componentize-qjs's runtime crate and wasm-tools' wit-dylib-ffi are
# not on crates.io). Run it when one of the patches here changes, then
# rebuild volley (the runtime is embedded in its binary).
#
#   sdk/js/runtime/build.sh              # fetches the pinned sources
#   CQJS_GIT=<clone> WASM_TOOLS_GIT=<clone> sdk/js/runtime/build.sh
#                                        # from local clones (offline)
#   WIT_DYLIB_FFI_DIR=<wasm-tools checkout>/crates/wit-dylib/ffi ...
#                                        # that folder, at the pinned commit
#   OPCOUNT=1 sdk/js/runtime/build.sh /tmp/opcount.wasm
#                                        # a profiling runtime (opcount.py)
#
# Needs: rustup's stable toolchain with the wasm32-wasip2 target (its
# position-independent wasi-libc), clang-19 (clang 16 ignores -fPIC for
# wasm32-wasi), an llvm-ar, Debian's wasi-libc headers (/usr/include/wasm32-wasi),
# libclang (bindgen), git, curl, python3, patch. On Debian 12:
#   apt-get install clang-19 llvm-19 wasi-libc libclang-dev git curl patch
#   rustup target add wasm32-wasip2
# Takes under a minute on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

CQJS_URL=https://github.com/andreiltd/componentize-qjs
CQJS_REV=2b398ffcd6f91cb3f46df7f036090159a4583d71      # v0.4.3
WASM_TOOLS_URL=https://github.com/bytecodealliance/wasm-tools
WASM_TOOLS_REV=a7ef4778a98ed6d49c7785487dbd95bf053d788d # wit-dylib 0.257.1: the metadata componentize-qjs 0.4.4's CLI writes
RQUICKJS_SYS=0.13.0

work="${VOLLEY_RUNTIME_WORK:-${TMPDIR:-/tmp}/volley-qjs-runtime}"
out="${1:-$here/quickjs.wasm}"

need() { command -v "$1" >/dev/null || { echo "build.sh: $1 is missing. $2" >&2; exit 1; }; }
need clang-19 "apt-get install clang-19"
need git "apt-get install git"
need curl "apt-get install curl"
need patch "apt-get install patch"
need python3 "apt-get install python3"
AR=$(command -v llvm-ar-19 || command -v llvm-ar || ls /usr/bin/llvm-ar-* 2>/dev/null | head -1 || true)
[ -n "$AR" ] || { echo "build.sh: no llvm-ar: apt-get install llvm-19" >&2; exit 1; }
[ -d /usr/include/wasm32-wasi ] || { echo "build.sh: no wasi-libc headers: apt-get install wasi-libc" >&2; exit 1; }
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 \
  || { echo "build.sh: rustup's wasm32-wasip2 target is missing: rustup target add wasm32-wasip2" >&2; exit 1; }

rm -rf "$work/src" "$work/ffi" "$work/rquickjs-sys" "$work/bin"
mkdir -p "$work/bin"

echo "build.sh: componentize-qjs $CQJS_REV"
checkout() { # checkout URL_OR_CLONE REV DEST
  git init -q "$3"
  git -C "$3" fetch -q --depth 1 "$1" "$2" 2>/dev/null || git -C "$3" fetch -q "$1"
  git -C "$3" checkout -q "$2"
}
checkout "${CQJS_GIT:-$CQJS_URL}" "$CQJS_REV" "$work/src"
echo "build.sh: wit-dylib-ffi from wasm-tools $WASM_TOOLS_REV"
if [ -n "${WIT_DYLIB_FFI_DIR:-}" ]; then
  cp -r "$WIT_DYLIB_FFI_DIR" "$work/ffi"
else
  rm -rf "$work/wasm-tools.git"
  checkout "${WASM_TOOLS_GIT:-$WASM_TOOLS_URL}" "$WASM_TOOLS_REV" "$work/wasm-tools.git"
  cp -r "$work/wasm-tools.git/crates/wit-dylib/ffi" "$work/ffi"
  rm -rf "$work/wasm-tools.git"
fi
# Outside wasm-tools' workspace: the values it inherits, written out.
sed -i -e 's/^edition.workspace = true/edition = "2024"/' -e '/^\[lints\]/,/^$/d' \
  -e "s/^wit-bindgen = { workspace = true,/wit-bindgen = { version = \"0.57.1\", default-features = false,/" \
  "$work/ffi/Cargo.toml"

echo "build.sh: rquickjs-sys $RQUICKJS_SYS from crates.io, patched"
curl -sSfL "https://static.crates.io/crates/rquickjs-sys/rquickjs-sys-$RQUICKJS_SYS.crate" | tar -xz -C "$work"
mv "$work/rquickjs-sys-$RQUICKJS_SYS" "$work/rquickjs-sys"
python3 "$here/immortal.py" "$work/rquickjs-sys"
# A profiling build (bench/opcodes.sh), never the committed runtime: the
# interpreter counts its instructions per line of each function.
[ "${OPCOUNT:-}" = 1 ] && python3 "$here/opcount.py" "$work/rquickjs-sys"

(cd "$work/src" && patch -s -p1 < "$here/runtime.patch")
# The versions the committed runtime was built with (rquickjs 0.13.0).
cp "$here/Cargo.lock" "$work/src/Cargo.lock"
cat >> "$work/src/Cargo.toml" <<EOF

[patch."https://github.com/bytecodealliance/wasm-tools"]
wit-dylib-ffi = { path = "$work/ffi" }

[patch.crates-io]
rquickjs-sys = { path = "$work/rquickjs-sys" }
EOF

# rquickjs-sys's C for wasm32-wasi, position-independent (the runtime is a
# shared library the CLI links), against Debian's wasi-libc headers.
cat > "$work/bin/wasm-cc" <<'EOF'
#!/bin/sh
for a in "$@"; do
  shift
  case "$a" in --target=*|-target|wasm32-wasip1|wasm32-wasip2) ;; *) set -- "$@" "$a" ;; esac
done
exec clang-19 --target=wasm32-wasi -fPIC "$@"
EOF
chmod +x "$work/bin/wasm-cc"

export CARGO_TARGET_DIR="$work/target" CARGO_INCREMENTAL=0
# Link-time optimization across the two languages: QuickJS compiled to LLVM
# bitcode (clang's -flto), optimized with the Rust code by rust-lld (rustc's
# -Clinker-plugin-lto, its newer LLVM reading clang-19's bitcode). The
# binding's calls into QuickJS (a context or value duplicated and freed for
# every value it holds) are inlined: 8-9% fewer guest instructions per
# JavaScript request (docs/PERFORMANCE.md, thirty-sixth session).
export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-Clink-arg=-shared -Clink-arg=--no-entry -Clink-arg=--allow-undefined -Clinker=rust-lld -Clinker-plugin-lto -Copt-level=3 --remap-path-prefix=$work=/volley-qjs-runtime --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
export CC_wasm32_wasip2="$work/bin/wasm-cc" AR_wasm32_wasip2="$AR" CFLAGS_wasm32_wasip2="-fPIC -O3 -flto -ffile-prefix-map=$work=/volley-qjs-runtime"
export RQUICKJS_SYS_NO_WASI_SDK=1
export BINDGEN_EXTRA_CLANG_ARGS_wasm32_wasip2="--target=wasm32-wasi -isystem /usr/include/wasm32-wasi"
# rquickjs-sys's build script does not watch the patched QuickJS: a change
# to immortal.py alone would leave the last build's C in place.
rm -rf "$CARGO_TARGET_DIR"/{wasm32-wasip2/,}release/{build,.fingerprint}/rquickjs-sys-*
echo "build.sh: cargo build (wasm32-wasip2, release)"
(cd "$work/src" && cargo build --quiet --target wasm32-wasip2 -p componentize-qjs-runtime --no-default-features --release --locked)
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/componentize_qjs_runtime.wasm" "$out"
echo "build.sh: wrote $out ($(wc -c < "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16))"
