#!/usr/bin/env bash
# What a TLB miss costs on this machine (tlb.c says how): reads through
# 1, 10, 100 and 1,000 private mappings of one 1.6 MiB file, PAGES pages
# each, pinned to core 0. The difference between the first line and the
# last is the cost of a read whose page's translation is not in the TLB.
#
#   bench/tlb/tlb.sh
#   PAGES=160 bench/tlb/tlb.sh
#
# Needs: a C compiler (cc).
set -euo pipefail
cd "$(dirname "$0")"
PAGES=${PAGES:-80}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cc -O2 -o "$OUT/tlb" tlb.c
head -c $((417 * 4096)) /dev/zero > "$OUT/image"
for maps in 1 10 100 1000; do
  taskset -c 0 "$OUT/tlb" "$maps" "$PAGES" 8000000 "$OUT/image"
done
