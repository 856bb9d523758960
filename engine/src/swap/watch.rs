//! `volley run --watch`: polls the scenario's sources (or its component
//! file) and swaps to each new build. A build that fails is printed and the
//! old version keeps running.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::Swapper;

/// What `--watch` follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// A component file: every new content is swapped to.
    Component(PathBuf),
    /// A scenario folder or source file: rebuilt with `volley build` when a
    /// source changes, then swapped to.
    Sources(PathBuf),
}

/// How often the files are looked at.
const POLL: Duration = Duration::from_millis(200);
/// Files a source folder may hold before the rest are not watched.
const MAX_FILES: usize = 10_000;

/// Watches until `stop` is cancelled. `loaded` is the files'
/// [`fingerprint`] when the run read them: a change made while the run was
/// still starting (compiling, running setup) is swapped to at once, not
/// missed.
pub async fn watch(what: Watch, loaded: u64, swapper: Arc<Swapper>, stop: CancellationToken) {
    let mut last = loaded;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.cancelled() => return,
        }
        let now = fingerprint(&what).await;
        if now == last {
            continue;
        }
        last = now;
        let began = std::time::Instant::now();
        let (component, build) = match &what {
            Watch::Component(p) => (p.clone(), Duration::ZERO),
            Watch::Sources(dir) => {
                let dir = dir.clone();
                let opts = crate::build::BuildOptions {
                    force: false,
                    quiet: true,
                };
                let built = tokio::task::spawn_blocking(move || crate::build::build(&dir, &opts))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                match built {
                    Ok(b) => (b.component, began.elapsed()),
                    Err(e) => {
                        crate::output::log(
                            "ERROR",
                            format_args!("ERROR build failed; the old version keeps running: {e}"),
                        );
                        continue;
                    }
                }
            }
        };
        swapper.swap_file(&component, build).await;
    }
}

/// A hash of the watched files' names, sizes and modification times, read
/// on the blocking pool.
pub async fn fingerprint(what: &Watch) -> u64 {
    let what = what.clone();
    tokio::task::spawn_blocking(move || fingerprint_now(&what))
        .await
        .unwrap_or(0)
}

/// [`fingerprint`] on the calling thread.
pub fn fingerprint_now(what: &Watch) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match what {
        Watch::Component(p) => stamp(p).hash(&mut h),
        Watch::Sources(p) if p.is_file() => stamp(p).hash(&mut h),
        Watch::Sources(dir) => {
            let mut files = Vec::new();
            walk(dir, 0, &mut files);
            files.sort();
            for f in files {
                (stamp(&f), f).hash(&mut h);
            }
        }
    }
    h.finish()
}

fn stamp(p: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Source files under `dir`: not build output (`target`), dependencies
/// (`node_modules`), plans or hidden folders.
fn walk(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    if depth > 8 || out.len() >= MAX_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            || ["target", "node_modules", "plans", "__pycache__"].contains(&&*name)
        {
            continue;
        }
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, depth + 1, out),
            Ok(t) if t.is_file() && out.len() < MAX_FILES => out.push(p),
            _ => {}
        }
    }
}
