//! Which component each VU of a scenario runs: the hook hot swap builds on.
//!
//! A scenario's [`Deployment`] holds its stable [`Version`] and, during a
//! swap, a candidate with a quota of VUs allowed on it (one for the canary,
//! then growing waves). Every change bumps a generation number; a VU compares
//! it with its own at each iteration boundary (one atomic load) and only then
//! asks [`Deployment::pick`] where it belongs. Rolling back or committing is
//! one more change: VUs follow at their next boundary.
//!
//! Owns the bookkeeping only: it compiles nothing and moves no VU itself
//! (`schedule::VuFactory` re-instantiates a VU when its pick changes).

mod rollout;
mod watch;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::host::ScenarioInfo;
use crate::wasm::{Component, ComponentId};

pub use rollout::{Policy, SwapEvent, Swapper, Verdict, unversioned, versioned};
pub use watch::{Watch, fingerprint, fingerprint_now, watch};

/// One component as a scenario runs it.
#[derive(Debug)]
pub struct Version {
    pub component: Component,
    /// The run's setup data (setup is not re-run on a swap).
    pub setup_data: Arc<[u8]>,
    /// The scenario as the VUs on this version see it: its tags go on every
    /// sample they record.
    pub info: Arc<ScenarioInfo>,
    /// Iterations ended on this version, and how many of them failed.
    pub iterations: AtomicU64,
    pub failures: AtomicU64,
    /// Iterations in flight on it that a swap cut off after the drain time
    /// (shared with the swap's event, which outlives the version).
    pub interrupted: Arc<AtomicU64>,
    /// Cancelled once the version is replaced and the drain time has passed:
    /// iterations still running on it stop.
    pub retired: CancellationToken,
    /// Signalled when an iteration ends on it or a VU arrives at it or fails
    /// to: a swap waits on this instead of sleeping between looks.
    pub progressed: tokio::sync::Notify,
}

impl Version {
    pub fn new(component: Component, setup_data: Arc<[u8]>, info: Arc<ScenarioInfo>) -> Self {
        Version {
            component,
            setup_data,
            info,
            iterations: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            interrupted: Arc::default(),
            retired: CancellationToken::new(),
            progressed: tokio::sync::Notify::new(),
        }
    }

    /// After `drain`, stops the iterations still running on this version
    /// (a VU moves off it at its next boundary anyway). Holds only the
    /// token: the version (its compiled code, mapped) is freed as soon as
    /// no VU runs it, not a drain time later.
    pub fn retire_after(&self, drain: Duration) {
        let retired = self.retired.clone();
        tokio::spawn(async move {
            tokio::time::sleep(drain).await;
            retired.cancel();
        });
    }

    pub fn id(&self) -> ComponentId {
        self.component.id()
    }

    /// Counts one ended iteration.
    pub fn count(&self, failed: bool) {
        self.iterations.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.progressed.notify_one();
    }

    /// (iterations, failures) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.iterations.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

/// A version being rolled out.
#[derive(Debug)]
struct Candidate {
    version: Arc<Version>,
    /// How many VUs may run it now.
    quota: u32,
    /// The VUs given a place on it (by id).
    moved: HashSet<u32>,
    /// Those of them through `init-vu` on it: moved for good.
    arrived: HashSet<u32>,
    /// VUs that failed to move to it (instantiate or `init-vu`).
    refused: u64,
}

#[derive(Debug)]
struct Inner {
    stable: Arc<Version>,
    candidate: Option<Candidate>,
    /// The VUs of the scenario alive now (by id): sizes the waves.
    members: HashSet<u32>,
    /// The stable version the last committed swap replaced.
    previous: Option<Arc<Version>>,
}

/// The versions one scenario's VUs run. See the module documentation.
#[derive(Debug)]
pub struct Deployment {
    generation: AtomicU64,
    inner: Mutex<Inner>,
    /// Tells drivers holding idle VUs that the generation moved, so they
    /// move them at once rather than when next taken.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Deployment {
    pub fn new(stable: Version) -> Self {
        Deployment {
            generation: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                stable: Arc::new(stable),
                candidate: None,
                members: HashSet::new(),
                previous: None,
            }),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bumped by every change; VUs compare it at each iteration boundary.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bump(&self) {
        let now = self.generation.fetch_add(1, Ordering::Release) + 1;
        self.changed.send_replace(now);
    }

    /// Wakes on every generation change (for drivers with idle VUs).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn stable(&self) -> Arc<Version> {
        self.lock().stable.clone()
    }

    /// The version the last committed swap replaced (`volley rollback`).
    pub fn previous(&self) -> Option<Arc<Version>> {
        self.lock().previous.clone()
    }

    pub fn candidate(&self) -> Option<Arc<Version>> {
        self.lock().candidate.as_ref().map(|c| c.version.clone())
    }

    /// The version VU `vu`, now running `current` (none: a new VU), runs
    /// from its next iteration, and the generation that choice was made at.
    /// A VU takes a free place on the candidate; one on a version that is
    /// neither stable nor candidate (rolled back) returns to stable.
    pub fn pick(&self, vu: u32, current: Option<ComponentId>) -> (u64, Arc<Version>) {
        let mut inner = self.lock();
        // Read under the lock: a change made after it bumps again.
        let generation = self.generation();
        let Inner {
            stable,
            candidate,
            members,
            ..
        } = &mut *inner;
        members.insert(vu);
        let chosen = match candidate {
            Some(c) if current == Some(c.version.id()) || c.moved.contains(&vu) => {
                c.moved.insert(vu);
                c.version.clone()
            }
            Some(c) if (c.moved.len() as u32) < c.quota => {
                c.moved.insert(vu);
                c.version.clone()
            }
            _ => stable.clone(),
        };
        (generation, chosen)
    }

    /// VU `vu` is gone (it could not be re-instantiated).
    pub fn leave(&self, vu: u32) {
        let mut inner = self.lock();
        inner.members.remove(&vu);
        if let Some(c) = inner.candidate.as_mut() {
            c.moved.remove(&vu);
            c.arrived.remove(&vu);
        }
    }

    /// VU `vu` is through `init-vu` on `version`: if that is the candidate,
    /// it has moved.
    pub fn arrived(&self, vu: u32, version: ComponentId) {
        let mut inner = self.lock();
        if let Some(c) = inner
            .candidate
            .as_mut()
            .filter(|c| c.version.id() == version && c.moved.contains(&vu))
        {
            c.arrived.insert(vu);
            c.version.progressed.notify_one();
        }
    }

    /// How many VUs the scenario has now.
    pub fn members(&self) -> u32 {
        self.lock().members.len() as u32
    }

    /// VU `vu` could not start on `version` (instantiation or `init-vu`
    /// failed): it goes back to stable.
    pub fn refused(&self, vu: u32, version: ComponentId) {
        let mut inner = self.lock();
        if let Some(c) = inner
            .candidate
            .as_mut()
            .filter(|c| c.version.id() == version)
        {
            c.moved.remove(&vu);
            c.refused += 1;
            c.version.progressed.notify_one();
            drop(inner);
            self.bump();
        }
    }

    /// Replaces the stable version at once (no canary): every VU moves at
    /// its next boundary. Any candidate is dropped.
    pub fn replace(&self, version: Arc<Version>) {
        let mut inner = self.lock();
        inner.stable = version;
        inner.candidate = None;
        drop(inner);
        self.bump();
    }

    /// Starts rolling `version` out to at most `quota` VUs.
    pub fn propose(&self, version: Arc<Version>, quota: u32) {
        let mut inner = self.lock();
        inner.candidate = Some(Candidate {
            version,
            quota,
            moved: HashSet::new(),
            arrived: HashSet::new(),
            refused: 0,
        });
        drop(inner);
        self.bump();
    }

    /// Lets `quota` VUs run the candidate (a new wave).
    pub fn widen(&self, quota: u32) {
        let mut inner = self.lock();
        if let Some(c) = inner.candidate.as_mut() {
            c.quota = quota;
            drop(inner);
            self.bump();
        }
    }

    /// How many VUs run the candidate now (through `init-vu` on it), and
    /// how many failed to move.
    pub fn progress(&self) -> (u32, u64) {
        self.lock()
            .candidate
            .as_ref()
            .map_or((0, 0), |c| (c.arrived.len() as u32, c.refused))
    }

    /// Makes the candidate stable. Returns the old stable version.
    pub fn commit(&self) -> Option<Arc<Version>> {
        let mut inner = self.lock();
        let c = inner.candidate.take()?;
        let old = std::mem::replace(&mut inner.stable, c.version);
        inner.previous = Some(old.clone());
        drop(inner);
        self.bump();
        Some(old)
    }

    /// Drops the candidate: its VUs return to stable at their next boundary.
    pub fn roll_back(&self) -> Option<Arc<Version>> {
        let c = self.lock().candidate.take()?;
        self.bump();
        Some(c.version)
    }
}
