//! Moves idle VUs to the version their deployment picks as soon as it
//! changes, instead of at their next iteration: an arrival-rate pool often
//! holds hundreds of VUs that wait seconds to be taken, and a swap should
//! not wait for them.
//!
//! Owns no VU for long: it takes a few stale VUs out of the idle pool at a
//! time (the least recently used, at the front), re-instantiates them and
//! puts them back on top, so the pool the load draws from never shrinks by
//! more than a handful.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::VuFactory;
use crate::wasm::Vu;

/// The idle VUs of an arrival-rate scenario: taken and returned at the back.
pub type Idle = Arc<Mutex<VecDeque<Vu>>>;

/// VUs re-instantiated at once: enough to use every core, few enough that
/// the pool keeps VUs for the load.
fn batch_size(idle: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 8).min(idle / 4).max(1)
}

/// The idle VU the load takes next: the most recently used, except while
/// a swap is in progress, when a VU already on the candidate goes first.
/// The pool is a stack, so at a low rate the load keeps reusing the VU on
/// top; without this, a canary pushed below it would never get the
/// iterations the swap waits for.
pub fn take(factory: &VuFactory, idle: &Idle) -> Option<Vu> {
    let candidate = factory.deployment.candidate().map(|c| c.id());
    let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = candidate
        && let Some(i) = idle.iter().rposition(|vu| vu.component().id() == c)
    {
        return idle.remove(i);
    }
    idle.pop_back()
}

/// Runs until aborted: on every deployment change, moves every idle VU.
/// `vus` counts the scenario's VUs (one that cannot be re-instantiated is
/// gone).
pub async fn move_idle(factory: Arc<VuFactory>, idle: Idle, vus: Arc<AtomicU32>) {
    let mut changes = factory.deployment.subscribe();
    loop {
        // Bounded: each round moves at least one VU or ends, and a VU moved
        // is current until the next change.
        for _ in 0..=vus.load(Ordering::Relaxed) as usize + 1 {
            let batch = take_stale(&factory, &idle);
            if batch.is_empty() {
                break;
            }
            // A whole batch at once, then wait for all of it: spawned
            // together, the moves spread over every worker (measured: one
            // at a time as each ends made a swap of 1,000 VUs 2-3x slower).
            let mut set = tokio::task::JoinSet::new();
            for vu in batch {
                let f = factory.clone();
                set.spawn(async move { f.refresh(vu).await });
            }
            while let Some(r) = set.join_next().await {
                match r {
                    // On top: the load takes it next, so a canary on it
                    // gets its iterations at once.
                    Ok(Some(vu)) => idle.lock().unwrap_or_else(|e| e.into_inner()).push_back(vu),
                    _ => {
                        vus.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Places stale idle VUs that stay on their component in place; takes out
/// up to a batch of those that must move to another one.
fn take_stale(factory: &VuFactory, idle: &Mutex<VecDeque<Vu>>) -> Vec<Vu> {
    let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
    let limit = batch_size(idle.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < idle.len() && out.len() < limit {
        if factory.follow(&mut idle[i]) {
            out.extend(idle.remove(i));
        } else {
            i += 1;
        }
    }
    out
}
