//! A safe swap: load the new component off the load's threads, then move a
//! canary VU, then waves of VUs, checking failures after each step; roll
//! back to the old component (kept until the swap commits) on any failure.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Deployment, Version};
use crate::host::ScenarioInfo;
use crate::metrics::Tags;
use crate::wasm::{Component, Runtime};

/// The longest a swap in progress waits between looks at its VUs when the
/// new version signals no progress (for `volley rollback`, the end of the
/// scenarios and its own deadlines).
const POLL: Duration = Duration::from_millis(5);

/// How a swap moves VUs.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Iterations the canary VU must end on the new version.
    pub canary_iterations: u64,
    /// Longest the canary may take to get there before the swap rolls back.
    pub canary_timeout: Duration,
    /// How many waves move the rest of the VUs.
    pub waves: u32,
    /// Longest one wave waits for its VUs to reach an iteration boundary.
    pub wave_time: Duration,
    /// How long iterations in flight on a replaced version may run on after
    /// the swap ends; then they are interrupted (counted per swap, not as
    /// failures).
    pub drain: Duration,
    /// How much higher than the old version's the new version's failure
    /// rate may be (0: no worse).
    pub max_failure_ratio: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            canary_iterations: 3,
            canary_timeout: Duration::from_secs(30),
            waves: 4,
            wave_time: Duration::from_millis(250),
            drain: Duration::from_secs(10),
            max_failure_ratio: 0.0,
        }
    }
}

/// How a swap ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "reason")]
pub enum Verdict {
    /// Every VU moved; the old component is dropped.
    Committed,
    /// The new version failed on the canary or a wave; every moved VU went
    /// back to the old one.
    RolledBack(String),
    /// The new component was refused before any VU moved (it does not load
    /// or does not match the world).
    Refused(String),
    /// The new component is the one already running.
    Unchanged,
}

/// One swap of one scenario, for the summary and the export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SwapEvent {
    pub scenario: String,
    /// When the swap was asked for, since the run's start.
    #[serde(serialize_with = "as_secs")]
    pub at: Duration,
    /// Short digests (the `version` tag).
    pub from: String,
    pub to: String,
    /// From the request to the verdict (loading included, building not).
    #[serde(serialize_with = "as_secs")]
    pub took: Duration,
    /// How long building the component from sources took before the swap
    /// was asked (`--watch` on sources, `volley swap <folder>`); 0 for a
    /// component file.
    #[serde(serialize_with = "as_secs")]
    pub build: Duration,
    /// How long loading (compiling, linking) took of that.
    #[serde(serialize_with = "as_secs")]
    pub load: Duration,
    /// How long moving the VUs took of that (canary and waves): for a
    /// committed swap, from the new version loaded to every VU on it.
    #[serde(serialize_with = "as_secs")]
    pub rollout: Duration,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Iterations the new version ended during the swap, and failed.
    pub iterations: u64,
    pub failures: u64,
    /// VUs through `init-vu` on the new version when the swap ended, of the
    /// scenario's VUs then (the others, busy in long iterations, move at
    /// their next boundary).
    pub moved: u32,
    pub vus: u32,
    /// Iterations in flight on the version this swap retired (the old one
    /// when it committed, the new one when it rolled back) still running
    /// `drain` after the swap: stopped, and counted here, not as failed.
    pub interrupted: u64,
    /// That version's count (read when the events are); not the version:
    /// the events would keep every replaced component loaded.
    #[serde(skip)]
    retired: Option<Arc<std::sync::atomic::AtomicU64>>,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A run's scenarios as a swap sees them.
pub struct Swapper {
    runtime: Arc<Runtime>,
    scenarios: Vec<Arc<Deployment>>,
    policy: Policy,
    start: Instant,
    events: Mutex<Vec<SwapEvent>>,
    /// One swap at a time.
    busy: tokio::sync::Mutex<()>,
    /// Cancelled when the scenarios end: a swap in progress rolls back.
    closing: tokio_util::sync::CancellationToken,
    /// Set by `volley rollback` during a swap: it rolls back.
    abort: std::sync::atomic::AtomicBool,
    /// VUs on the new version when the last swap committed.
    last_moved: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for Swapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swapper")
            .field("scenarios", &self.scenarios.len())
            .finish()
    }
}

impl Swapper {
    pub fn new(
        runtime: Arc<Runtime>,
        scenarios: Vec<Arc<Deployment>>,
        policy: Policy,
        start: Instant,
    ) -> Self {
        Swapper {
            runtime,
            scenarios,
            policy,
            start,
            events: Mutex::default(),
            busy: tokio::sync::Mutex::new(()),
            closing: Default::default(),
            abort: Default::default(),
            last_moved: Default::default(),
        }
    }

    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.scenarios
    }

    /// Rolls back the swap in progress (its event says so), or swaps every
    /// scenario back to the version its last committed swap replaced.
    pub async fn roll_back_last(&self) -> Vec<SwapEvent> {
        if self.scenarios.iter().any(|d| d.candidate().is_some()) {
            self.abort.store(true, std::sync::atomic::Ordering::Relaxed);
            return Vec::new();
        }
        let _one = self.busy.lock().await;
        let asked = Instant::now();
        let mut out = Vec::new();
        for d in &self.scenarios {
            if let Some(previous) = d.previous() {
                let e = self
                    .swap_one(
                        d,
                        Ok(previous.component.clone()),
                        asked,
                        (Duration::ZERO, Duration::ZERO),
                    )
                    .await;
                self.record(e.clone());
                out.push(e);
            }
        }
        out
    }

    /// The scenarios ended: a swap in progress rolls back at once (no VU
    /// would reach another iteration boundary to finish it).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// The swaps so far.
    pub fn events(&self) -> Vec<SwapEvent> {
        let mut out = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for e in &mut out {
            if let Some(n) = &e.retired {
                e.interrupted = n.load(std::sync::atomic::Ordering::Relaxed);
            }
        }
        out
    }

    fn record(&self, e: SwapEvent) {
        let line = match &e.verdict {
            Verdict::Committed => format!(
                "swap: scenario `{}` now runs {} (was {}; {}{:.0} ms: loading {:.0} ms, moving {} of {} VUs {:.0} ms)",
                e.scenario,
                e.to,
                e.from,
                if e.build.is_zero() {
                    String::new()
                } else {
                    format!("build {:.0} ms + swap ", e.build.as_secs_f64() * 1e3)
                },
                e.took.as_secs_f64() * 1e3,
                e.load.as_secs_f64() * 1e3,
                e.moved,
                e.vus,
                e.rollout.as_secs_f64() * 1e3
            ),
            Verdict::RolledBack(why) => format!(
                "swap: scenario `{}` rolled back to {} ({} failed: {why})",
                e.scenario, e.from, e.to
            ),
            Verdict::Refused(why) => format!("swap refused: {why}"),
            Verdict::Unchanged => return,
        };
        crate::output::log("INFO", format_args!("{line}"));
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(e);
    }

    /// Swaps every scenario that runs the component loaded from `path` (every
    /// scenario if none does) to the component now in that file, which took
    /// `build` to build (zero: it was given).
    pub async fn swap_file(&self, path: &Path, build: Duration) -> Vec<SwapEvent> {
        let _one = self.busy.lock().await;
        let asked = Instant::now();
        let targets: Vec<Arc<Deployment>> = {
            let same: Vec<_> = self
                .scenarios
                .iter()
                .filter(|d| d.stable().component.path() == path)
                .cloned()
                .collect();
            if same.is_empty() {
                self.scenarios.clone()
            } else {
                same
            }
        };
        // Compiling takes seconds of CPU: never on the load's threads.
        let (runtime, owned) = (self.runtime.clone(), PathBuf::from(path));
        let loaded = tokio::task::spawn_blocking(move || runtime.load(&owned))
            .await
            .map_err(|e| format!("loading {}: {e}", path.display()))
            .and_then(|r| r.map_err(|e| e.to_string()));
        let load = asked.elapsed();
        let mut out = Vec::new();
        for d in targets {
            let e = self
                .swap_one(&d, loaded.clone(), asked, (build, load))
                .await;
            self.record(e.clone());
            out.push(e);
        }
        out
    }

    /// Swaps one scenario to `loaded`.
    async fn swap_one(
        &self,
        d: &Deployment,
        loaded: Result<Component, String>,
        asked: Instant,
        (build, load): (Duration, Duration),
    ) -> SwapEvent {
        self.abort
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let old = d.stable();
        let event =
            |to: String, verdict, counts: (u64, u64), rollout, moved: (u32, u32)| SwapEvent {
                scenario: old.info.name.clone(),
                at: asked.duration_since(self.start),
                from: old.id().short(),
                to,
                took: asked.elapsed(),
                build,
                load,
                rollout,
                verdict,
                iterations: counts.0,
                failures: counts.1,
                moved: moved.0,
                vus: moved.1,
                interrupted: 0,
                retired: None,
            };
        match &loaded {
            Err(why) => event(
                String::new(),
                Verdict::Refused(why.clone()),
                (0, 0),
                Duration::ZERO,
                (0, d.members()),
            ),
            Ok(c) if c.id() == old.id() => event(
                c.id().short(),
                Verdict::Unchanged,
                (0, 0),
                Duration::ZERO,
                (d.members(), d.members()),
            ),
            Ok(c) => {
                let new = Arc::new(Version::new(
                    c.clone(),
                    old.setup_data.clone(),
                    versioned(&old.info, c),
                ));
                let began = Instant::now();
                let (verdict, moved) = self.roll_out(d, &old, &new).await;
                let retired = match verdict {
                    Verdict::Committed => old.clone(),
                    _ => new.clone(),
                };
                let mut e = event(
                    c.id().short(),
                    verdict,
                    new.counts(),
                    began.elapsed(),
                    moved,
                );
                e.retired = Some(retired.interrupted.clone());
                e
            }
        }
    }

    /// Canary, waves, commit; or roll back. Also returns how many VUs had
    /// moved, of how many, at the end.
    async fn roll_out(
        &self,
        d: &Deployment,
        old: &Arc<Version>,
        new: &Arc<Version>,
    ) -> (Verdict, (u32, u32)) {
        let verdict = self.steps(d, old, new).await;
        let moved = match verdict {
            // Committed: the candidate is gone, count the last wave's.
            Verdict::Committed => (
                self.last_moved.load(std::sync::atomic::Ordering::Relaxed),
                d.members(),
            ),
            _ => (0, d.members()),
        };
        (verdict, moved)
    }

    async fn steps(&self, d: &Deployment, old: &Arc<Version>, new: &Arc<Version>) -> Verdict {
        let p = &self.policy;
        let base = old.counts();
        d.propose(new.clone(), 1);
        let canary_by = Instant::now() + p.canary_timeout;
        loop {
            if let Some(why) = self.judge(d, old, base, new) {
                return self.roll_back(d, why);
            }
            if new.counts().0 >= p.canary_iterations {
                break;
            }
            if Instant::now() >= canary_by {
                let why = format!(
                    "the canary VU ended {} of {} iterations in {:?}",
                    new.counts().0,
                    p.canary_iterations,
                    p.canary_timeout
                );
                return self.roll_back(d, why);
            }
            settle(new).await;
        }
        for wave in 1..=p.waves.max(1) {
            let members = d.members();
            let quota = (members as u64 * wave as u64).div_ceil(p.waves.max(1) as u64) as u32;
            d.widen(quota.max(1));
            let ended = new.counts().0;
            // A wave ends as soon as its VUs are through `init-vu` on the
            // new version and it has ended iterations since the wave began
            // (judged below); `wave_time` only bounds a wave whose VUs are
            // all busy in long iterations or whose scenario is paused.
            let until = Instant::now() + p.wave_time;
            loop {
                if let Some(why) = self.judge(d, old, base, new) {
                    return self.roll_back(d, why);
                }
                let moved = d.progress().0 >= quota.min(d.members());
                let passed = new.counts().0 > ended;
                if moved && passed || Instant::now() >= until {
                    break;
                }
                settle(new).await;
            }
        }
        if let Some(why) = self.judge(d, old, base, new) {
            return self.roll_back(d, why);
        }
        self.last_moved
            .store(d.progress().0, std::sync::atomic::Ordering::Relaxed);
        if let Some(old) = d.commit() {
            old.retire_after(p.drain);
        }
        Verdict::Committed
    }

    fn judge(
        &self,
        d: &Deployment,
        old: &Version,
        base: (u64, u64),
        new: &Version,
    ) -> Option<String> {
        if self.closing.is_cancelled() {
            return Some("the scenarios ended before the swap completed".into());
        }
        if self.abort.load(std::sync::atomic::Ordering::Relaxed) {
            return Some("asked to (`volley rollback`)".into());
        }
        judge(d, old, base, new, self.policy.max_failure_ratio)
    }

    fn roll_back(&self, d: &Deployment, why: String) -> Verdict {
        if let Some(v) = d.roll_back() {
            v.retire_after(self.policy.drain);
        }
        Verdict::RolledBack(why)
    }
}

/// Until the new version made progress (an iteration ended on it, a VU
/// arrived or failed to), or `POLL`: a swap looks again as soon as
/// something changed rather than after a fixed sleep.
async fn settle(new: &Version) {
    let _ = tokio::time::timeout(POLL, new.progressed.notified()).await;
}

/// Why the new version is worse than the old, if it is: a VU could not
/// start on it, or its failure rate is above the old one's since the swap
/// began (`base`: the old one's counts then) by more than `tolerance`.
fn judge(
    d: &Deployment,
    old: &Version,
    base: (u64, u64),
    new: &Version,
    tolerance: f64,
) -> Option<String> {
    let (_, refused) = d.progress();
    if refused > 0 {
        return Some(format!(
            "{refused} VU(s) could not start on it (instantiation or `init-vu` failed)"
        ));
    }
    let (n, f) = new.counts();
    if f == 0 {
        return None;
    }
    let (o, of) = old.counts();
    let (o, of) = (o - base.0, of - base.1);
    // f/n > of/o (in integers when there is no tolerance); an old version
    // with no iterations meanwhile sets the bar at zero failures.
    let worse = if tolerance > 0.0 {
        let old_rate = if o == 0 { 0.0 } else { of as f64 / o as f64 };
        f as f64 / n as f64 > old_rate + tolerance
    } else {
        o == 0 || f as u128 * o as u128 > of as u128 * n as u128
    };
    if worse {
        return Some(format!(
            "{f} of {n} iterations failed on it, against {of} of {o} on the old version meanwhile"
        ));
    }
    None
}

/// `info` for VUs on `component`: the same scenario, its `version` tag set.
pub fn versioned(info: &ScenarioInfo, component: &Component) -> Arc<ScenarioInfo> {
    Arc::new(ScenarioInfo {
        name: info.name.clone(),
        tags: info
            .tags
            .with([("version", component.id().short().as_str())]),
        params: info.params.clone(),
    })
}

/// The scenario's own tags without the version (for what belongs to no
/// version, like dropped iterations).
pub fn unversioned(tags: &Tags) -> Tags {
    Tags::new(tags.iter().filter(|(k, _)| *k != "version"))
}
