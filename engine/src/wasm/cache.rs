//! Precompiled components on disk, keyed by the component's bytes and the
//! engine's compatibility hash, so a second run skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

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
