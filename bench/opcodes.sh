#!/usr/bin/env bash
# Which lines of JavaScript one iteration runs, and how much: the bytecode
# instructions QuickJS runs per iteration of a script's default function,
# per function and per line of source (the script's, the SDK's), counted by
# a profiling build of volley's runtime (sdk/js/runtime/opcount.py). One VU
# runs WARM iterations, then N counted, against nginx on loopback. Every
# bytecode instruction costs its dispatch (about 32 machine instructions
# under wasmtime) plus its work, so the count says where a script's time
# goes among its lines, not how long each takes: bench/callgrind.sh says
# that, by C function.
#
#   bench/opcodes.sh                                   # bench/k6/params-headers.js
#   SCRIPT=bench/k6/get-check.js bench/opcodes.sh
#   TOP=60 N=2000 SCRIPT=my/script.js bench/opcodes.sh
#   VOLLEY=/tmp/volley-before bench/opcodes.sh        # another build's SDK
#
# The script's `__ENV.url` and `__ENV.URL` are nginx's address; its
# `options` and `setup` are not used (the default function runs without
# data). The profiling runtime is built once into $CACHE/opcount (about a
# minute) by sdk/js/runtime/build.sh, which needs what it says (clang-19,
# rustup's wasm32-wasip2 target, the pinned sources from GitHub or local
# clones: CQJS_GIT, WIT_DYLIB_FFI_DIR); RUNTIME=<file> uses one already
# built. Needs: nginx. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT=${SCRIPT:-bench/k6/params-headers.js}
WARM=${WARM:-100}
N=${N:-1000}
TOP=${TOP:-40}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
[ -f "$SCRIPT" ] || { echo "opcodes.sh: SCRIPT=$SCRIPT: no such file" >&2; exit 1; }

# The profiling runtime, by the hash of what it is built from.
if [ -z "${RUNTIME:-}" ]; then
  key=$(cat sdk/js/runtime/{build.sh,immortal.py,opcount.py,runtime.patch,Cargo.lock} | sha256sum | cut -c1-16)
  RUNTIME="$CACHE/opcount/runtime-$key.wasm"
  if [ ! -f "$RUNTIME" ]; then
    echo "== building the profiling runtime (sdk/js/runtime/build.sh, OPCOUNT=1)" >&2
    mkdir -p "$CACHE/opcount"
    OPCOUNT=1 VOLLEY_RUNTIME_WORK="$OUT/runtime" sdk/js/runtime/build.sh "$RUNTIME.part" >&2
    mv "$RUNTIME.part" "$RUNTIME"
  fi
fi

if [ -z "${VOLLEY:-}" ]; then
  cargo build --release -q -p volley
  VOLLEY="$CARGO_TARGET_DIR/release/volley"
fi

# The script's folder (its own modules), and beside it a script that runs
# its default function: counts zeroed after WARM iterations, logged after N
# more.
mkdir -p "$OUT/src"
cp -r "$(dirname "$SCRIPT")/." "$OUT/src/"
rm -rf "$OUT/src/target"
name=$(basename "$SCRIPT")
cat > "$OUT/src/__opcodes.js" <<EOF
import run from './$name';
let done = 0;
export default function () {
  run();
  done++;
  if (done === $WARM) __volley_opcounts(true);
  // In messages of at most 3,000 characters (a script's log line is cut
  // at 4 KiB, its line breaks escaped; 20 lines a second are shown).
  if (done === $((WARM + N))) {
    let chunk = '';
    for (const l of __volley_opcounts(false).split('\\n')) {
      if (chunk.length + l.length > 3000) {
        console.log('opcounts ' + chunk);
        chunk = '';
      }
      chunk += l + '\\n';
    }
    console.log('opcounts ' + chunk);
  }
}
EOF
component=$(VOLLEY_QJS_RUNTIME="$RUNTIME" "$VOLLEY" build "$OUT/src/__opcodes.js" 2>"$OUT/build.log" | tail -1) \
  || { tail -20 "$OUT/build.log" >&2; exit 1; }

. bench/nginx.sh
start_nginx "$OUT"
echo "== $SCRIPT: $WARM iterations, then $N counted (1 VU)" >&2
"$VOLLEY" run "$component" --vus 1 --iterations $((WARM + N)) -e "url=$URL" -e "URL=$URL" \
  --allow-host "127.0.0.1:$PORT" --no-summary >"$OUT/run.log" 2>&1 \
  || { tail -20 "$OUT/run.log" >&2; exit 1; }

python3 - "$OUT/run.log" "$N" "$TOP" "$OUT/src/target/volley/build-js/src" "$SCRIPT" <<'PY'
import collections, os, re, sys
log, n, top, bundle, script = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
# The log escapes the messages' line breaks.
lines = [line for l in open(log) if 'opcounts ' in l
         for line in l.split('opcounts ', 1)[1].strip().split('\\u{a}') if line]
if not lines:
    sys.exit(f"opcodes.sh: the run logged no counts (see its output):\n{open(log).read()[-2000:]}")
rows = []
for line in lines:
    count, rest = line.split(' ', 1)
    fn, where, first = rest.rsplit(' ', 2)
    file, _, num = where.rpartition(':')
    rows.append((int(count) / n, fn, file.lstrip('/'), int(num), int(first)))
# The SDK's files as the build staged them (that volley's SDK), the
# script's code as bundled (`__volley_main.js`); this tool's wrapper left out.
def source(file, num):
    try:
        return open(os.path.join(bundle, file)).read().splitlines()[num - 1].strip()
    except (OSError, IndexError):
        return ''
rows = [r for r in rows if r[1] != '__opcodes_default']
total = sum(r[0] for r in rows)
print(f"{script}: {total:.0f} bytecode instructions per iteration\n")
per_fn = collections.Counter()
for ops, fn, file, num, first in rows:
    per_fn[(fn, file, first)] += ops
print("per function (<null>: an arrow or a method, by its first line)")
for (fn, file, first), ops in per_fn.most_common(top // 2):
    print(f"{ops:8.1f}  {fn if fn != '<null>' else source(file, first)[:60]} ({file}:{first})")
print("\nper line")
for ops, fn, file, num, first in sorted(rows, key=lambda r: -r[0])[:top]:
    print(f"{ops:8.1f}  {file}:{num}  {source(file, num)[:90]}")
PY
