// What a TLB miss costs on this machine, the way a VU's linear memory is
// mapped: the same file (as a component's memory image) mapped privately
// MAPS times, PAGES of its pages read through each mapping in turn (one
// line per page, each read's address depending on the last one's value, as
// an interpreter's pointer chasing does). With one mapping every page's
// translation stays in the TLB; with a thousand, each read misses it and
// walks the page tables. Prints nanoseconds per read. See tlb.sh.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: tlb MAPS PAGES READS FILE (FILE of 417 zero pages)\n");
    return 2;
  }
  int maps = atoi(argv[1]), pages = atoi(argv[2]);
  long reads = atol(argv[3]);
  size_t size = 417 * 4096;
  int fd = open(argv[4], O_RDONLY);
  if (fd < 0 || maps < 1 || pages < 1 || pages > 417) {
    perror(argv[4]);
    return 2;
  }
  unsigned char **m = malloc(sizeof(*m) * maps);
  int *page = malloc(sizeof(*page) * pages);
  for (int i = 0; i < maps; i++) {
    m[i] = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m[i] == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
  }
  // Distinct pages in a scattered order (7919 is prime to 417).
  for (int j = 0; j < pages; j++) page[j] = (int)((j * 7919L) % 417);
  long rounds = reads / ((long)maps * pages);
  if (rounds < 1) rounds = 1;
  unsigned long dep = 0, sink = 0;
  struct timespec a, b;
  // Pass 0 faults the pages in; the passes after it are timed.
  for (long r = 0; r <= rounds; r++) {
    if (r == 1) clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < maps; i++)
      for (int j = 0; j < pages; j++) {
        unsigned char v = m[i][page[j] * 4096L + (j % 64) * 64 + dep];
        dep = v;  // the file is zeros: the next address depends on this read
        sink += v;
      }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("%5d mappings x %3d pages: %5.1f ns per read%s\n", maps, pages,
         ns / ((double)rounds * maps * pages), sink ? " (file not zeros)" : "");
  return 0;
}
