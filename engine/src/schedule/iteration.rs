//! One iteration of one VU, and making VUs for a scenario: the part every
//! executor shares.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Live;
use crate::host::{ScenarioInfo, Shared, VuState};
use crate::metrics::Builtin;
use crate::wasm::{CallError, Component, Vu};

/// Makes initialized VUs for one scenario and runs their iterations.
#[derive(Debug)]
pub struct VuFactory {
    pub component: Component,
    pub shared: Arc<Shared>,
    pub info: Arc<ScenarioInfo>,
    pub live: Arc<Live>,
    pub setup_data: Arc<[u8]>,
    /// The entry name passed to the guest's `run`.
    pub exec: String,
    pub iteration_timeout: Duration,
    pub memory_limit: usize,
}

impl VuFactory {
    /// A new VU: instantiated and through `init-vu`.
    pub async fn make(&self) -> Result<Vu, String> {
        let id = self.live.next_vu_id();
        let state = VuState::new(
            id,
            self.shared.clone(),
            self.info.clone(),
            self.memory_limit,
        );
        let mut vu = Vu::new(&self.component, state)
            .await
            .map_err(|(e, _)| format!("VU {id}: {e}"))?;
        vu.init(&self.setup_data, self.iteration_timeout)
            .await
            .map_err(|e| format!("VU {id}: `init-vu` {e}"))?;
        self.live.allocated.fetch_add(1, Ordering::Relaxed);
        Ok(vu)
    }

    /// Makes `n` VUs, a few at a time.
    pub async fn make_many(self: &Arc<Self>, n: u32) -> Result<Vec<Vu>, String> {
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
                Some(Err(e)) => return Err(format!("VU initialization panicked: {e}")),
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
    pub async fn iterate(&self, mut vu: Vu, intended: Option<Instant>) -> Option<Vu> {
        let started = Instant::now();
        self.live.enter();
        let result = vu.iterate(&self.exec, self.iteration_timeout).await;
        self.live.leave();
        let ended = Instant::now();
        let tags = &self.info.tags;
        let from = intended.unwrap_or(started).min(started);
        self.shared.metrics.builtins(&[
            (Builtin::Iterations, tags, 1.0),
            (
                Builtin::IterationDuration,
                tags,
                ended.duration_since(from).as_micros() as f64,
            ),
            (
                Builtin::IterationServiceTime,
                tags,
                ended.duration_since(started).as_micros() as f64,
            ),
        ]);
        vu.state_mut().iteration += 1;
        match result {
            Ok(()) => Some(vu),
            Err(e) => {
                self.fail(&e, vu.state().id);
                if e.poisons() {
                    self.replace(vu).await
                } else {
                    Some(vu)
                }
            }
        }
    }

    fn fail(&self, e: &CallError, id: u32) {
        let tags = self.info.tags.with([("class", e.class())]);
        self.shared
            .metrics
            .builtin(Builtin::IterationsFailed, &tags, 1.0);
        crate::output::log(
            "WARN",
            format_args!("WARN  [{} vu={id}] iteration {e}", self.info.name),
        );
    }

    /// A fresh instance for a VU whose instance is unusable.
    async fn replace(&self, vu: Vu) -> Option<Vu> {
        let id = vu.state().id;
        match vu.reinstantiate(&self.component).await {
            Ok(mut vu) => match vu.init(&self.setup_data, self.iteration_timeout).await {
                Ok(()) => Some(vu),
                Err(e) => {
                    eprintln!(
                        "ERROR [{} vu={id}] re-initialization: `init-vu` {e}",
                        self.info.name
                    );
                    self.live.allocated.fetch_sub(1, Ordering::Relaxed);
                    None
                }
            },
            Err((e, _)) => {
                eprintln!("ERROR [{} vu={id}] re-instantiation {e}", self.info.name);
                self.live.allocated.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }
}
