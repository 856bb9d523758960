#!/usr/bin/env bash
# Which memory one VU's iteration touches, in 64-byte lines, and whose it
# is: the VU's own (its linear memory's private pages, its fiber stack, its
# state in the engine) or shared with every other VU (the snapshot's pages,
# the worker thread's stack, the engine's tables). At a few VUs both stay
# in the cache; at 1,000 the VUs' own lines do not (the scaling rows in the
# README), so the own lines per iteration are what a change for scaling
# should cut.
#
# Two VUs on one worker thread run N iterations under valgrind's lackey,
# which traces every data access. Iterations are counted by the entry of a
# host function each iteration calls once (MARK, a pattern for `nm -C`'s
# names in the volley binary: by default the one every HTTP request calls,
# `VuState::recorder`; with RUST=1 the fixture's `fetch`). In a window of iterations (two thirds in),
# the "quiet" ones are kept: those no background work of the engine (the
# once-a-second metrics merge) ran in, a slow second under valgrind being
# about one iteration. The guest's memory and the fiber stack a VU runs on
# are its own by where they are; a line of the engine's is the VU's own
# when it is touched in every quiet iteration of one VU and in none of the
# other VU's iterations, else shared. (A line the other VU touched only in
# an iteration with background work counts as shared: the own figure errs
# low.)
#
# Then the pages of the VU's memory image it wrote in the whole run, each
# from then on its own copy (a page it only read stays one physical page for
# every VU), named by the function that wrote it first: the guest's by
# wasmtime's perf map (VOLLEY_PERFMAP=1), the engine's by `nm`. A page first
# written by a guest function that runs once (a built-in made on first use,
# a new atom) costs every sleeping VU 4 KiB.
#
#   bench/vu-lines.sh                              # the k6 GET + check as pasted
#   SCENARIO=x.wasm EXEC=default bench/vu-lines.sh # another JavaScript scenario
#   RUST=1 bench/vu-lines.sh                       # the Rust fixture's GET + check
#   VOLLEY=/tmp/volley-before bench/vu-lines.sh    # another build
#   MARK='VuState>::send_url_held$' VOLLEY=... bench/vu-lines.sh  # a build before
#                                   # 2026-12-06, which had no `recorder`
#
# Takes four (Rust) to ten (JavaScript) minutes: lackey is some 300x slower.
# Needs: valgrind, nginx, a C compiler, nm. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-240}
WINDOW=${WINDOW:-16}
EXEC=${EXEC:-default}
CACHE=${CACHE:-$HOME/.cache/volley}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
OUT=$(mktemp -d)
trap 'kill $(cat "$OUT/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$OUT"' EXIT
for tool in valgrind nginx cc nm; do
  command -v $tool >/dev/null || { echo "vu-lines.sh: $tool is missing (apt-get install valgrind nginx gcc binutils)" >&2; exit 1; }
done

. bench/nginx.sh
volley_and_fixture
if [ -n "${RUST:-}" ]; then
  SCENARIO=$FIXTURE EXEC=http
  MARK=${MARK:-'scenario::http::Host for volley::host::VuState>::fetch$'}
elif [ -z "${SCENARIO:-}" ]; then
  cp bench/k6/get-check.js "$OUT/get-check.js"
  SCENARIO=$("$VOLLEY" build "$OUT/get-check.js" 2>/dev/null | tail -1 | cut -d' ' -f1)
fi
MARK=${MARK:-'volley::host::VuState>::recorder$'}
start_nginx "$OUT"
cc -O2 -o "$OUT/trace" bench/lines/trace.c

# valgrind loads a position-independent executable at 0x108000.
found=$(nm -C "$VOLLEY" | grep -E " [Tt] .*$MARK" || true)
[ "$(printf '%s\n' "$found" | grep -c .)" = 1 ] \
  || { echo "vu-lines.sh: MARK must name one function of $VOLLEY; it names:" >&2; printf '%s\n' "$found" >&2; exit 1; }
ADDR=$(printf '%x' $((0x108000 + 0x$(printf '%s' "$found" | cut -d' ' -f1))))

RUN=(--vus 2 --threads 1 --exec "$EXEC" -e "url=$URL" -e "URL=$URL"
  --allow-host "127.0.0.1:$PORT" --quiet --no-summary --no-pooling)
# The component's compiled code is cached under valgrind's CPU features by a
# first run, not traced.
valgrind --tool=none "$VOLLEY" run "$SCENARIO" "${RUN[@]}" --iterations 2 >"$OUT/warm.log" 2>&1 \
  || { tail -20 "$OUT/warm.log" >&2; exit 1; }

FROM=$((N * 2 / 3))
echo "== $(basename "$SCENARIO") --exec $EXEC, 2 VUs, $N iterations under lackey; iterations $FROM-$((FROM + WINDOW)) kept" >&2
VOLLEY_PERFMAP=1 sh -c 'echo $$ > "$0/pid"; exec valgrind --tool=lackey --trace-mem=yes --log-fd=9 "$@" 9>&1 >"$0/run.log" 2>&1' \
  "$OUT" "$VOLLEY" run "$SCENARIO" "${RUN[@]}" --iterations "$N" \
  | "$OUT/trace" "$ADDR" "$FROM" "$((FROM + WINDOW))" "$OUT/accesses" "$OUT/pages" 2>"$OUT/trace.log" &
traced=$!
# The memory map, taken every few seconds while the run lasts; the one
# kept maps the most of the component's cache (every VU's memory: the VUs
# unmap theirs as the run ends).
sleep 2
touch "$OUT/maps"
while kill -0 "$(cat "$OUT/pid")" 2>/dev/null; do
  if cat "/proc/$(cat "$OUT/pid")/maps" >"$OUT/maps.new" 2>/dev/null \
    && [ "$(grep -c /components/ "$OUT/maps.new")" -ge "$(grep -c /components/ "$OUT/maps")" ]; then
    mv "$OUT/maps.new" "$OUT/maps"
  fi
  sleep 5
done
wait $traced || { cat "$OUT/run.log" "$OUT/trace.log" >&2; exit 1; }
# wasmtime's names for the guest's compiled functions, by address.
mv "/tmp/perf-$(cat "$OUT/pid").map" "$OUT/perf.map" 2>/dev/null || touch "$OUT/perf.map"
nm -C "$VOLLEY" | grep -E "^[0-9a-f]+ [TtWw] " >"$OUT/volley.nm" || true
cat "$OUT/trace.log" >&2
grep -q "^0*108000-.* 00000000 .*/$(basename "$VOLLEY")\$" "$OUT/maps" \
  || { echo "vu-lines.sh: valgrind did not load volley at 0x108000; MARK's address is wrong" >&2; exit 1; }

python3 - "$OUT/accesses" "$OUT/pages" "$OUT/maps" "$OUT/perf.map" "$OUT/volley.nm" "$(basename "$VOLLEY")" <<'PY'
import bisect, collections, re, sys
accesses, pages, maps, perfmap, volley_nm, exe = sys.argv[1:]
regions = []
for line in open(maps):
    p = line.split()
    start, end = (int(x, 16) for x in p[0].split("-"))
    regions.append((start, end, p[1], p[5] if len(p) > 5 else ""))
starts = [r[0] for r in regions]
images = [(s, e) for s, e, perm, name in regions if "/components/" in name and perm == "rw-p"]
first_writer = {}
for line in open(pages):
    page, by = line.split()
    first_writer[int(page, 16)] = int(by, 16)
written = set(first_writer)

def kind(line):
    a = line << 6
    i = bisect.bisect_right(starts, a) - 1
    if i < 0 or not regions[i][0] <= a < regions[i][1]:
        return "other"
    s, e, perm, name = regions[i]
    if (s, e) in images:
        return "guest memory, its own pages" if a >> 12 in written else "guest memory, snapshot pages"
    if not name and any(e == s2 or s == e2 for s2, e2 in images):
        return "guest memory, its own pages"  # the guest's stack, below the image; its heap above
    if not name and e - s == 512 << 10:
        return "fiber stack"
    return "engine (heap, thread stacks, statics)"

touched, count = collections.defaultdict(set), collections.Counter()
for line in open(accesses):
    it, addr, _ = line.split()
    touched[int(it)].add(int(addr, 16))
    count[int(it)] += 1
if not count:
    sys.exit("vu-lines.sh: no iteration in the window; is MARK called once per iteration?")

def vu(it):
    """Which VU ran iteration `it`: the snapshot mapping (one per VU) it touched most."""
    hits = collections.Counter()
    for line in touched[it]:
        for s, e in images:
            if s <= line << 6 < e:
                hits[s] += 1
    return hits.most_common(1)[0][0] if hits else None

floor = min(count.values())
quiet = [i for i in sorted(count) if count[i] < floor * 1.5]
ran = {i: vu(i) for i in count}
mine = collections.Counter(ran[i] for i in quiet).most_common(1)[0][0]
own_quiet = [i for i in quiet if ran[i] == mine]
others = [i for i in count if ran[i] != mine]
if not others:
    sys.exit(f"vu-lines.sh: every iteration in the window is one VU's; raise WINDOW")
every = set.intersection(*(touched[i] for i in own_quiet))
elsewhere = set.union(*(touched[i] for i in others))
# Guest memory and fiber stacks are a VU's by where they are (a fiber stack
# one VU left may serve the other's next iteration at 2 VUs; at 1,000 each
# VU waiting on a response holds its own); the engine's by the two-VU test.
by_place = ("guest memory", "fiber stack")
own = {x for x in every if kind(x).startswith(by_place) or x not in elsewhere}
shared = every - own
kinds = ["guest memory, its own pages", "guest memory, snapshot pages", "fiber stack",
         "engine (heap, thread stacks, statics)", "other"]
rows = {k: [0, 0] for k in kinds}
for line in own:
    rows[kind(line)][0] += 1
for line in shared:
    rows[kind(line)][1] += 1
print(f"quiet iterations of one VU {own_quiet}: {floor:,} data accesses each;"
      f" the other VU's iterations {sorted(others)}")
print(f"{'lines per iteration':40} {'the VU own':>11} {'shared':>8}")
for k in kinds:
    a, b = rows[k]
    if a or b:
        print(f"{k:40} {a:>11,} {b:>8,}")
snap = "guest memory, snapshot pages"
mine_lines = {x for x in own if kind(x) != snap}
print(f"{'all, snapshot pages not counted':40} {len(mine_lines):>11,} {len(shared):>8,}")
print(f"a VU's own: {len(mine_lines) * 64 / 1024:.1f} KiB per iteration on "
      f"{len({x >> 6 for x in mine_lines})} pages; shared: {len(shared) * 64 / 1024:.1f} KiB")
print("(a snapshot page is one physical page for every VU, so the cache holds it once;"
      " each VU reads it at its own address, so it is the VU's own in the TLB only)")

# The pages of this VU's memory image written in the whole run, by the
# function that first wrote each.
names = []
for line in open(perfmap):
    start, size, name = line.rstrip("\n").split(" ", 2)
    # "wasm[2]::function[796]::JS_CallInternal", a Rust name with its hash
    name = re.sub(r"::h[0-9a-f]{16}$", "", re.sub(r"^wasm\[\d+\]::function\[\d+\]::", "", name))
    names.append((int(start, 16), int(size, 16), "guest " + name))
for line in open(volley_nm):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) == 3:
        # valgrind loads a position-independent executable at 0x108000.
        names.append((0x108000 + int(parts[0], 16), 0, parts[2]))
names.sort()
name_starts = [n[0] for n in names]

def writer(address):
    i = bisect.bisect_right(starts, address) - 1
    if i >= 0 and regions[i][0] <= address < regions[i][1] and regions[i][3] \
            and not regions[i][3].endswith("/" + exe) and "/components/" not in regions[i][3]:
        return regions[i][3].rsplit("/", 1)[-1]  # a library (libc...)
    j = bisect.bisect_right(name_starts, address) - 1
    if j < 0 or (names[j][1] and address >= names[j][0] + names[j][1]):
        return f"{address:#x}"
    return names[j][2]

image = next((s, e) for s, e in images if s == mine)
own_pages = sorted(p for p in written if image[0] <= p << 12 < image[1])
print(f"\npages of the VU's memory image written in the run: {len(own_pages)}"
      f" of {(image[1] - image[0]) >> 12} (each the VU's own copy from then on)")
print(f"{'pages':>5}  first written by")
for name, n in collections.Counter(writer(first_writer[p]) for p in own_pages).most_common(15):
    print(f"{n:>5}  {name[:100]}")
PY
