#!/usr/bin/env python3
"""How deep the VUs' fiber stacks have gone in a running volley process.

    bench/fiber-stack.py PID [STACK_KIB]

A VU's call into its component runs on a fiber stack of its own (wasmtime's
`async_stack_size`, 512 KiB in engine/src/wasm/runtime.rs), and every page
the call touched stays resident while the VU sleeps: the deepest point any
call reached, rounded up to 4 KiB, is memory each VU keeps. The stacks are
the anonymous read-write mappings of STACK_KIB with resident pages; stacks
grow down from their end and start zeroed, so the lowest non-zero byte
below the end is how deep that stack went. Prints the deepest and the
shallowest, in bytes, over (up to 200 of) the VUs' stacks (needs to read /proc/PID/mem:
the same user, or root).
"""
import re
import sys

pid = int(sys.argv[1])
size = int(sys.argv[2]) * 1024 if len(sys.argv) > 2 else 512 * 1024
stacks, current = [], None
with open(f"/proc/{pid}/smaps") as smaps:
    for line in smaps:
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if m:
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            anon_rw = m.group(3).startswith("rw") and not m.group(4)
            current = (lo, hi) if anon_rw and hi - lo == size else None
        elif current and line.startswith("Rss:") and int(line.split()[1]) > 0:
            stacks.append(current)
# Read from each stack's end down, 64 KiB at a time, until a whole chunk is
# zero (a sample of the stacks: reading them all takes longer than a run).
CHUNK = 64 * 1024
depths = []
with open(f"/proc/{pid}/mem", "rb") as mem:
    for lo, hi in stacks[:200]:
        depth, end = 0, hi
        while end > lo:
            start = max(lo, end - CHUNK)
            mem.seek(start)
            data = mem.read(end - start)
            if not data.strip(b"\0"):
                break
            # From the lowest non-zero byte to the stack's end.
            depth = hi - end + len(data.lstrip(b"\0"))
            end = start
        depths.append(depth)
if not depths:
    sys.exit(f"no {size // 1024} KiB stacks with resident pages in process {pid}")
print(f"stacks {len(depths)} deepest {max(depths)} shallowest {min(depths)} bytes")
