//! Operating-system limits a large run needs raised: open files (one socket
//! per connection) and memory mappings (each pooled instance maps several
//! regions). Raised from inside the engine so users need not know.

/// Open files a run may want: 10,000 sockets plus an embedded target's
/// 10,000 plus files, with room to spare.
const WANT_OPEN_FILES: u64 = 1 << 18;

/// Raises the open-file limit: the soft limit to the hard one, and both to
/// 262,144 where the process may (root), within the kernel's `fs.nr_open`.
#[allow(
    unsafe_code,
    reason = "getrlimit/setrlimit are plain libc calls on a local struct"
)]
pub fn raise_open_files() -> u64 {
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let want = WANT_OPEN_FILES.min(nr_open);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_max < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return want;
            }
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

const MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

/// Makes sure the kernel allows `needed` memory mappings, raising the limit
/// when permitted; otherwise says how to raise it.
pub fn ensure_map_count(needed: u64) {
    let Some(current) = std::fs::read_to_string(MAP_COUNT)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return;
    };
    if current >= needed {
        return;
    }
    if std::fs::write(MAP_COUNT, needed.to_string()).is_err() {
        eprintln!(
            "WARN  this many VUs needs about {needed} memory mappings but vm.max_map_count is {current}; \
             VUs past the limit fail to instantiate. Raise it: sudo sysctl -w vm.max_map_count={needed}"
        );
    }
}
