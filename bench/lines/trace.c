// Reads valgrind lackey's `--trace-mem=yes` output on stdin (bench/vu-lines.sh).
// Iterations are counted by the instruction address MARK (the entry of a
// host function each iteration calls once). Prints, to OUT, each data access
// made in iterations [FROM, TO) as "iteration line R|W" (line = address / 64);
// to PAGES, every page written during the whole run (a page of a
// copy-on-write snapshot that was ever written is the VU's own copy) as
// "page first-writer", the address of the instruction that first wrote it.
// Usage: trace MARK-hex FROM TO OUT PAGES
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS (1u << 22)
static uint64_t pages[SLOTS], first[SLOTS];

static void written(uint64_t page, uint64_t by) {
  page++; // 0 marks a free slot
  uint64_t h = (page * 0x9E3779B97F4A7C15ull) >> 42;
  while (pages[h] && pages[h] != page) h = (h + 1) & (SLOTS - 1);
  if (!pages[h]) {
    pages[h] = page;
    first[h] = by;
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: trace MARK-hex FROM TO OUT PAGES\n");
    return 2;
  }
  uint64_t mark = strtoull(argv[1], 0, 16);
  long from = atol(argv[2]), to = atol(argv[3]);
  FILE *out = fopen(argv[4], "w"), *pg = fopen(argv[5], "w");
  if (!out || !pg) return 2;
  char buf[256];
  long it = 0;
  long long n = 0;
  uint64_t at = 0; // the instruction the accesses that follow belong to
  while (fgets(buf, sizeof buf, stdin)) {
    if (buf[0] == 'I') {
      at = strtoull(buf + 3, 0, 16);
      if (at == mark) it++;
      continue;
    }
    char k = buf[1];
    if (buf[0] != ' ' || (k != 'L' && k != 'S' && k != 'M')) continue;
    uint64_t a = strtoull(buf + 3, 0, 16);
    n++;
    if (k != 'L') written(a >> 12, at);
    if (it >= from && it < to) fprintf(out, "%ld %lx %c\n", it, (unsigned long)(a >> 6), k == 'L' ? 'R' : 'W');
  }
  for (uint32_t i = 0; i < SLOTS; i++)
    if (pages[i]) fprintf(pg, "%lx %lx\n", (unsigned long)(pages[i] - 1), (unsigned long)first[i]);
  fprintf(stderr, "%ld iterations, %lld data accesses\n", it, n);
  return fclose(out) || fclose(pg);
}
