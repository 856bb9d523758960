//! One iteration of one VU, and making VUs for a scenario: the part every
//! executor shares.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Live;
use crate::host::{ScenarioInfo, Shared, VuState};
use crate::metrics::{Builtin, SeriesHandle};
use crate::swap::{Deployment, Version};
use crate::wasm::{CallError, ComponentId, Vu};

/// Makes initialized VUs for one scenario and runs their iterations.
#[derive(Debug)]
pub struct VuFactory {
    /// Which component (version) each VU runs; checked at every iteration
    /// boundary, so a swap takes effect between iterations.
    pub deployment: Arc<Deployment>,
    pub shared: Arc<Shared>,
    pub live: Arc<Live>,
    /// The entry name passed to the guest's `run`.
    pub exec: String,
    pub iteration_timeout: Duration,
    pub memory_limit: usize,
    /// The scenario's live load (`volley scale`); its executor follows it.
    pub scale: Arc<super::Scale>,
    /// Iterations started in the scenario, by every VU: the next one's
    /// number across the scenario (`vu.iteration-in-scenario`).
    pub iterations_started: std::sync::atomic::AtomicU64,
}

/// A VU that could not start: its instance failed to load or `init-vu`
/// failed (on the stable version too, during a swap).
#[derive(Debug, Clone, thiserror::Error)]
pub enum VuError {
    #[error("VU {id}: {reason}")]
    Start { id: u32, reason: String },
    #[error("VU initialization panicked: {0}")]
    Panicked(String),
}

impl VuFactory {
    /// A new VU: instantiated and through `init-vu`.
    pub async fn make(&self) -> Result<Vu, VuError> {
        let id = self.live.next_vu_id();
        let stable = self.deployment.stable();
        let state = VuState::new(
            id,
            self.shared.clone(),
            stable.info.clone(),
            self.memory_limit,
        );
        let vu = self
            .place(state, None)
            .await
            .map_err(|reason| VuError::Start { id, reason })?;
        self.live.allocated.fetch_add(1, Ordering::Relaxed);
        Ok(vu)
    }

    /// Starts `state`'s VU on the version the deployment picks for it (it ran
    /// `current` before); back on the stable version if the pick is a
    /// candidate that fails to start.
    async fn place(&self, state: VuState, current: Option<ComponentId>) -> Result<Vu, String> {
        let id = state.id;
        let (generation, version) = self.deployment.pick(id, current);
        let (message, state) = match self.start(state, &version, generation).await {
            Ok(vu) => return Ok(vu),
            Err(e) => e,
        };
        let stable = self.deployment.stable();
        if stable.id() == version.id() {
            return Err(message);
        }
        self.deployment.refused(id, version.id());
        crate::output::log(
            "WARN",
            format_args!(
                "WARN  [{} vu={id}] version {} {message}; the VU stays on {}",
                stable.info.name,
                version.id().short(),
                stable.id().short()
            ),
        );
        self.start(state, &stable, generation)
            .await
            .map_err(|(m, _)| m)
    }

    /// A new instance of `version` for `state`, through `init-vu`.
    async fn start(
        &self,
        mut state: VuState,
        version: &Arc<Version>,
        generation: u64,
    ) -> Result<Vu, (String, VuState)> {
        state.reset_instance();
        state.scenario = version.info.clone();
        let mut vu = Vu::new(&version.component, state)
            .await
            .map_err(|(e, s)| (e.to_string(), s))?;
        vu.place(generation, version.clone());
        match vu.init(&version.setup_data, self.iteration_timeout).await {
            Ok(()) => {
                self.deployment.arrived(vu.state().id, version.id());
                Ok(vu)
            }
            Err(e) => Err((format!("`init-vu` {e}"), vu.into_state())),
        }
    }

    /// Makes `n` VUs, a few at a time.
    pub async fn make_many(self: &Arc<Self>, n: u32) -> Result<Vec<Vu>, VuError> {
        let mut out = Vec::with_capacity(n as usize);
        let mut set = tokio::task::JoinSet::new();
        let mut started = 0;
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get() as u32 * 2);
        while (out.len() as u32) < n {
            while started < n && set.len() < parallel as usize {
                let f = self.clone();
                set.spawn(async move { f.make().await });
                started += 1;
            }
            match set.join_next().await {
                Some(Ok(Ok(vu))) => out.push(vu),
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(e)) => return Err(VuError::Panicked(e.to_string())),
                None => break,
            }
        }
        Ok(out)
    }

    /// Runs one iteration. `intended` is when it should have started (arrival
    /// executors); `iteration_duration` is measured from it so queueing delay
    /// counts, `iteration_service_time` from the actual start.
    /// Returns the VU for its next iteration, re-instantiated if the instance
    /// trapped or timed out; none if even that failed.
    ///
    /// A function returning an async block, not an `async fn`: that keeps
    /// each argument twice in its state (the VU's 152 bytes among them), and
    /// this future is part of every VU's task.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn stores its arguments twice"
    )]
    pub fn iterate(
        &self,
        mut vu: Vu,
        intended: Option<Instant>,
    ) -> impl Future<Output = Option<Vu>> + Send + '_ {
        async move {
            // The hot-swap hook: one atomic load unless the deployment changed.
            vu = self.refresh(vu).await?;
            vu.state_mut().scenario_iteration =
                self.iterations_started.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            self.live.enter();
            // A version a swap replaced stops its iterations after the drain time.
            // The version, not its token: cloning a token locks its tree node.
            let result = match vu.version().cloned() {
                Some(version) => {
                    let call = std::pin::pin!(vu.iterate_from(
                        &self.exec,
                        self.iteration_timeout,
                        started
                    ));
                    tokio::select! {
                        biased;
                        r = call => Some(r),
                        _ = version.retired.cancelled() => None,
                    }
                }
                None => Some(
                    vu.iterate_from(&self.exec, self.iteration_timeout, started)
                        .await,
                ),
            };
            self.live.leave();
            let Some(result) = result else {
                // Interrupted by the swap: not a failure, and the instance was
                // cut off mid-call, so it is replaced.
                if let Some(v) = vu.version() {
                    v.interrupted.fetch_add(1, Ordering::Relaxed);
                }
                return Box::pin(self.renew(vu)).await;
            };
            let ended = Instant::now();
            let from = intended.unwrap_or(started).min(started);
            let [iterations, duration, service] = self.iteration_series(vu.state_mut());
            self.shared.metrics.record_series(&[
                (iterations, 1.0),
                (duration, ended.duration_since(from).as_micros() as f64),
                (service, ended.duration_since(started).as_micros() as f64),
            ]);
            vu.state_mut().iteration += 1;
            if let Some(v) = vu.version() {
                v.count(result.is_err());
            }
            match result {
                Ok(()) => Some(vu),
                Err(e) => {
                    self.fail(&e, &vu.state().scenario, vu.state().id);
                    if e.poisons() {
                        Box::pin(self.renew(vu)).await
                    } else {
                        Some(vu)
                    }
                }
            }
        }
    }

    /// `iterations`, `iteration_duration` and `iteration_service_time` with
    /// the VU's scenario tags, resolved once per scenario version.
    fn iteration_series(&self, state: &mut VuState) -> [SeriesHandle; 3] {
        if let Some((info, series)) = &state.instance.iteration_series
            && Arc::ptr_eq(info, &state.scenario)
        {
            return *series;
        }
        let tags = &state.scenario.tags;
        let metrics = &self.shared.metrics;
        let series = [
            metrics.series(Builtin::Iterations, tags),
            metrics.series(Builtin::IterationDuration, tags),
            metrics.series(Builtin::IterationServiceTime, tags),
        ];
        state.instance.iteration_series = Some((state.scenario.clone(), series));
        series
    }

    fn fail(&self, e: &CallError, info: &ScenarioInfo, id: u32) {
        let tags = info.tags.with([("class", e.class())]);
        self.shared
            .metrics
            .failure(Builtin::IterationsFailed, &tags, e);
        crate::output::log(
            "WARN",
            format_args!("WARN  [{} vu={id}] iteration {e}", info.name),
        );
    }

    /// A VU, between iterations, on the version the deployment picks for it
    /// now; none if it had to be re-instantiated and could not be (it is
    /// gone).
    /// The VU's last call when its scenario stops it: `stop-vu`, if the
    /// component has one (Locust's `on_stop`). A failure is logged; the
    /// run's results stand.
    pub async fn retire(&self, mut vu: Vu) {
        if let Some(Err(e)) = vu.stop(self.iteration_timeout).await {
            let s = vu.state();
            crate::output::log(
                "ERROR",
                format_args!("ERROR [{} vu={}] `stop-vu` {e}", s.scenario.name, s.id),
            );
        }
    }

    pub async fn refresh(&self, vu: Vu) -> Option<Vu> {
        if vu.generation() == Some(self.deployment.generation()) {
            Some(vu)
        } else {
            // Boxed, as every re-instantiation here: it would otherwise size
            // every VU's task for the rare case (see `vu_loop::slot_loop`).
            Box::pin(self.repick(vu)).await
        }
    }

    /// Follows a deployment change for an idle VU in place when it stays on
    /// its component (no instance is made, nothing awaits). True when it
    /// must move to another component: [`VuFactory::refresh`] then moves it.
    pub fn follow(&self, vu: &mut Vu) -> bool {
        if vu.generation() == Some(self.deployment.generation()) {
            return false;
        }
        let current = vu.component().id();
        let (generation, version) = self.deployment.pick(vu.state().id, Some(current));
        if version.id() == current {
            vu.place(generation, version);
            return false;
        }
        true
    }

    /// Moves `vu` to the version the deployment now picks for it, if that
    /// is another component (between iterations: nothing is in flight).
    async fn repick(&self, mut vu: Vu) -> Option<Vu> {
        let current = vu.component().id();
        let (generation, version) = self.deployment.pick(vu.state().id, Some(current));
        if version.id() == current {
            vu.place(generation, version);
            return Some(vu);
        }
        self.renew(vu).await
    }

    /// A fresh instance for a VU whose instance is unusable (or that moves
    /// to another version): the old instance and all it owned are dropped
    /// first. None, and the VU is gone, if no instance could be made.
    async fn renew(&self, vu: Vu) -> Option<Vu> {
        let current = vu.component().id();
        let state = vu.into_state();
        let (id, name) = (state.id, state.scenario.name.clone());
        match self.place(state, Some(current)).await {
            Ok(vu) => Some(vu),
            Err(e) => {
                crate::output::log(
                    "ERROR",
                    format_args!("ERROR [{name} vu={id}] re-instantiation: {e}"),
                );
                self.deployment.leave(id);
                self.live.allocated.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }
}
