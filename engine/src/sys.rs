//! Operating-system limits a large run needs raised: open files (one socket
//! per connection) and memory mappings (each pooled instance maps several
//! regions). Raised from inside the engine so users need not know.

/// Raises the soft open-file limit to the hard limit.
#[allow(
    unsafe_code,
    reason = "getrlimit/setrlimit are plain libc calls on a local struct"
)]
pub fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
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
