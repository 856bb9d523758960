//! Precompiled components on disk, keyed by the component's bytes and the
//! engine's compatibility hash, so a second run skips Cranelift. The cache
//! is bounded: after each entry written, the least recently used go until
//! the rest fits its budget (a Python component compiles to about 46 MB,
//! and every edit of a scenario is a new entry).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;

/// The cache folder: `$VOLLEY_CACHE_DIR`, else `$XDG_CACHE_HOME/volley`, else
/// `~/.cache/volley`. None when no home is known (then nothing is cached).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("VOLLEY_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    user_cache_dir()
}

/// `$XDG_CACHE_HOME/volley`, else `~/.cache/volley`: where volley keeps what
/// outlives a run (precompiled components, guest builds, toolchains).
pub fn user_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("volley"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("volley"))
}

/// Where the precompiled form of `bytes` for `engine` lives.
pub fn entry(dir: &Path, engine: &Engine, bytes: &[u8]) -> PathBuf {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut h = Sha256::new();
    h.update(bytes);
    h.update(engine_hash.finish().to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    dir.join("components").join(format!("{hex}.cwasm"))
}

/// Writes `data` to `path` atomically (temp file + rename), creating folders.
pub fn store(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

/// The budget when `VOLLEY_CACHE_MAX_MB` does not set one: 2 GiB.
pub const DEFAULT_BUDGET_MB: u64 = 2048;

/// What the precompiled entries may take on disk, in bytes:
/// `VOLLEY_CACHE_MAX_MB` MiB, else [`DEFAULT_BUDGET_MB`]. A value that is
/// not a whole number is named on stderr and the default used.
pub fn budget() -> u64 {
    let mb = match std::env::var("VOLLEY_CACHE_MAX_MB") {
        Err(_) => DEFAULT_BUDGET_MB,
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!(
                "volley: VOLLEY_CACHE_MAX_MB={v:?} is not a whole number of MiB; the precompiled cache keeps {DEFAULT_BUDGET_MB} MiB"
            );
            DEFAULT_BUDGET_MB
        }),
    };
    mb.saturating_mul(1 << 20)
}

/// Marks the entry at `path` used now (its modified time, which pruning
/// orders by: access times are often not kept). Best effort.
pub fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// A temp file older than this was left by a writer that died.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// What [`prune`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub entries: usize,
    pub bytes: u64,
}

/// Removes the least recently used entries of the cache folder `dir` until
/// the rest takes at most `budget` bytes, never `keep` (the entry just
/// written, which may alone be over it), and temp files a dead writer left.
/// Another process may read an entry removed here: it has it open already
/// (the map outlives the name), or it compiles the component again.
pub fn prune(dir: &Path, budget: u64, keep: &Path) -> Pruned {
    let Ok(list) = std::fs::read_dir(dir) else {
        return Pruned::default();
    };
    let now = SystemTime::now();
    let mut entries = Vec::new();
    let mut pruned = Pruned::default();
    for e in list.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(now);
        let is_tmp = path
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x.starts_with("tmp"));
        if is_tmp {
            let old = now.duration_since(used).is_ok_and(|age| age > STALE_TMP);
            if old && std::fs::remove_file(&path).is_ok() {
                pruned.entries += 1;
                pruned.bytes += meta.len();
            }
            continue;
        }
        if path.extension().is_some_and(|x| x == "cwasm") {
            entries.push((used, meta.len(), path));
        }
    }
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    // Oldest first.
    entries.sort();
    for (_, len, path) in entries {
        if total <= budget {
            break;
        }
        if path == keep {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
            pruned.entries += 1;
            pruned.bytes += len;
        }
    }
    pruned
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes in `dir`, last used `age_s` seconds ago.
    fn entry_aged(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![0u8; len]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_s))
            .unwrap();
        p
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("volley-cache-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn pruning_removes_the_least_recently_used_until_the_rest_fits() {
        let dir = scratch("lru");
        let oldest = entry_aged(&dir, "a.cwasm", 1000, 400);
        let old = entry_aged(&dir, "b.cwasm", 1000, 300);
        let recent = entry_aged(&dir, "c.cwasm", 1000, 200);
        let newest = entry_aged(&dir, "d.cwasm", 1000, 0);
        // Not an entry: left alone whatever its age.
        let other = entry_aged(&dir, "notes.txt", 5000, 500);
        let pruned = prune(&dir, 2500, &newest);
        assert_eq!(
            pruned,
            Pruned {
                entries: 2,
                bytes: 2000
            }
        );
        assert!(!oldest.exists() && !old.exists());
        assert!(recent.exists() && newest.exists() && other.exists());
        // Within budget: nothing more goes.
        assert_eq!(prune(&dir, 2500, &newest), Pruned::default());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_entry_just_written_stays_even_over_budget() {
        let dir = scratch("keep");
        let older = entry_aged(&dir, "a.cwasm", 1000, 100);
        // The one just written is older by its time (a slow compile
        // finishing after another process's write): kept all the same.
        let kept = entry_aged(&dir, "b.cwasm", 3000, 200);
        let pruned = prune(&dir, 1000, &kept);
        assert_eq!(pruned.entries, 1);
        assert!(kept.exists() && !older.exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_touched_entry_is_kept_longer_and_stale_temp_files_go() {
        let dir = scratch("touch");
        let a = entry_aged(&dir, "a.cwasm", 1000, 300);
        let b = entry_aged(&dir, "b.cwasm", 1000, 200);
        let c = entry_aged(&dir, "c.cwasm", 1000, 100);
        touch(&a);
        let stale = entry_aged(&dir, "d.tmp123", 1000, 2 * 3600);
        let writing = entry_aged(&dir, "e.tmp456", 1000, 10);
        let pruned = prune(&dir, 2000, &c);
        assert_eq!(
            pruned.entries, 2,
            "b (least recently used) and the stale temp file"
        );
        assert!(a.exists() && !b.exists() && c.exists());
        assert!(!stale.exists() && writing.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
