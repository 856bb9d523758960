// Reads valgrind lackey's `--trace-mem=yes` output on stdin (bench/vu-lines.sh).
// Iterations are counted by the instruction address MARK (the entry of a
// host function each iteration calls once). Prints, to OUT, each data access
// made in iterations [FROM, TO) as "iteration line R|W" (line = address / 64);
// to PAGES, every page written during the whole run (a page of a
// copy-on-write snapshot that was ever written is the VU's own copy).
// Usage: trace MARK-hex FROM TO OUT PAGES
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS (1u << 22)
static uint64_t pages[SLOTS];

static void written(uint64_t page) {
  page++; // 0 marks a free slot
  uint64_t h = (page * 0x9E3779B97F4A7C15ull) >> 42;
  while (pages[h] && pages[h] != page) h = (h + 1) & (SLOTS - 1);
  pages[h] = page;
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
  while (fgets(buf, sizeof buf, stdin)) {
    if (buf[0] == 'I') {
      if (strtoull(buf + 3, 0, 16) == mark) it++;
      continue;
    }
    char k = buf[1];
    if (buf[0] != ' ' || (k != 'L' && k != 'S' && k != 'M')) continue;
    uint64_t a = strtoull(buf + 3, 0, 16);
    n++;
    if (k != 'L') written(a >> 12);
    if (it >= from && it < to) fprintf(out, "%ld %lx %c\n", it, (unsigned long)(a >> 6), k == 'L' ? 'R' : 'W');
  }
  for (uint32_t i = 0; i < SLOTS; i++)
    if (pages[i]) fprintf(pg, "%lx\n", (unsigned long)(pages[i] - 1));
  fprintf(stderr, "%ld iterations, %lld data accesses\n", it, n);
  return fclose(out) || fclose(pg);
}
