//! Scheduling: when each VU runs an iteration.
//!
//! Two drivers own the loops: [`vu_loop`] (a fixed set of VU slots, each
//! looping) and [`arrival`] (iterations started at intended times, VUs taken
//! from a pool). Each k6 executor is a small strategy in its own file: a
//! [`Gate`] tells a VU slot whether it may start another iteration, a
//! [`Pacer`] yields intended start times. Neither knows about wasm beyond
//! [`Vu`]; neither records protocol metrics.

mod arrival;
mod constant_arrival_rate;
mod constant_vus;
mod iteration;
mod mover;
mod per_vu_iterations;
mod ramping_arrival_rate;
mod ramping_vus;
mod scale;
mod shared_iterations;
mod vu_loop;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use iteration::VuFactory;
pub use scale::{Scale, ScaleError};

use crate::plan::{ExecutorConfig, Scenario};
use crate::wasm::Vu;

/// What a VU slot should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start an iteration now.
    Start,
    /// Not now; ask again at this time since the scenario start.
    WaitUntil(Duration),
    /// This slot is finished.
    Done,
}

/// The strategy of a VU-looping executor.
pub trait Gate: Send + Sync {
    /// How many VU slots the executor uses at most.
    fn slots(&self) -> u32;
    /// May `slot`, which has run `done` iterations, start another at `elapsed`?
    fn decide(&self, slot: u32, done: u64, elapsed: Duration) -> Decision;
    /// When the executor stops starting iterations (its graceful stop begins).
    fn end(&self) -> Duration;
    /// For ramping executors: whether `slot` is still wanted at `elapsed`
    /// (a slot no longer wanted gets `gracefulRampDown` to finish).
    fn wanted(&self, _slot: u32, _elapsed: Duration) -> bool {
        true
    }
    fn graceful_ramp_down(&self) -> Duration {
        Duration::ZERO
    }
    /// The next time at or after `elapsed` when [`Gate::wanted`] may change
    /// for `slot`; none if it never does.
    fn next_change(&self, _slot: u32, _elapsed: Duration) -> Option<Duration> {
        None
    }
}

/// The strategy of an arrival-rate executor: intended start times.
pub trait Pacer: Send {
    /// The next iteration's intended start since the scenario start, or none
    /// when the schedule is over.
    fn next(&mut self) -> Option<Duration>;
    /// When the schedule ends.
    fn end(&self) -> Duration;
    /// A live rate change (`volley scale`) arrived at `now`: true if the
    /// times from now on changed, so the next one is asked again.
    fn retime(&mut self, _now: Duration) -> bool {
        false
    }
}

/// Counters the run reads while scenarios execute.
#[derive(Debug, Default)]
pub struct Live {
    /// VUs running an iteration right now.
    pub active: AtomicU64,
    /// The most VUs active at once since the last [`Live::take_peak`].
    pub peak: AtomicU64,
    /// VUs instantiated.
    pub allocated: AtomicU64,
    /// The next VU id.
    pub next_id: AtomicU32,
}

impl Live {
    /// A VU starts an iteration.
    pub fn enter(&self) {
        let now = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// A VU ends an iteration.
    pub fn leave(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// The peak since the last call, reset to the current count.
    pub fn take_peak(&self) -> u64 {
        self.peak
            .swap(self.active.load(Ordering::Relaxed), Ordering::Relaxed)
    }

    pub fn next_vu_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// How a scenario is stopped from outside.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    /// Start no new iterations (graceful).
    pub graceful: CancellationToken,
    /// Interrupt iterations in flight.
    pub now: CancellationToken,
}

/// What a scenario's executor reports when it is done.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Iterations cut off by the end of the graceful stop or a ramp-down.
    pub interrupted: u64,
    /// A fatal error (a VU could not be initialized), if any.
    pub error: Option<String>,
}

/// When slot `slot` may start its first iteration at `rate` VUs a second
/// (Locust's spawn rate): slot 0 at once, slot n after n / rate seconds.
fn spawn_due(slot: u32, rate: Option<f64>) -> Duration {
    match rate {
        Some(r) if r > 0.0 => Duration::from_secs_f64(slot as f64 / r),
        _ => Duration::ZERO,
    }
}

/// An executor as the strategy its driver runs.
enum Strategy {
    Loop(Arc<dyn Gate>),
    Arrival(Box<dyn Pacer>, u32),
}

fn strategy(cfg: &ExecutorConfig, scale: &Arc<Scale>) -> Strategy {
    match cfg {
        ExecutorConfig::ConstantVus {
            vus,
            duration,
            spawn_rate,
            ..
        } => Strategy::Loop(Arc::new(
            constant_vus::ConstantVus::new(*vus, *duration)
                .spawning(*spawn_rate)
                .scaled(scale.clone(), cfg.max_vus()),
        )),
        ExecutorConfig::RampingVus {
            start_vus,
            stages,
            graceful_ramp_down,
            spawn_rate,
            ..
        } => Strategy::Loop(Arc::new(
            ramping_vus::RampingVus::new(*start_vus, stages.clone(), *graceful_ramp_down)
                .spawning(*spawn_rate)
                .scaled(scale.clone(), cfg.max_vus()),
        )),
        ExecutorConfig::PerVuIterations {
            vus,
            iterations,
            max_duration,
        } => Strategy::Loop(Arc::new(per_vu_iterations::PerVuIterations::new(
            *vus,
            *iterations,
            *max_duration,
        ))),
        ExecutorConfig::SharedIterations {
            vus,
            iterations,
            max_duration,
            spawn_rate,
        } => Strategy::Loop(Arc::new(
            shared_iterations::SharedIterations::new(*vus, *iterations, *max_duration)
                .spawning(*spawn_rate),
        )),
        ExecutorConfig::ConstantArrivalRate {
            rate,
            time_unit,
            duration,
            max_vus,
            ..
        } => Strategy::Arrival(
            Box::new(
                constant_arrival_rate::ConstantRate::new(*rate, *time_unit, *duration)
                    .scaled(scale.clone()),
            ),
            *max_vus,
        ),
        ExecutorConfig::RampingArrivalRate {
            start_rate,
            time_unit,
            stages,
            max_vus,
            ..
        } => Strategy::Arrival(
            Box::new(ramping_arrival_rate::RampingRate::new(
                *start_rate,
                *time_unit,
                stages.clone(),
            )),
            *max_vus,
        ),
    }
}

/// Runs one scenario to completion with its executor.
pub async fn run_scenario(
    scenario: &Scenario,
    factory: Arc<VuFactory>,
    initial: Vec<Vu>,
    stop: Stop,
) -> Outcome {
    let start = Instant::now();
    let grace = scenario.graceful_stop;
    match strategy(&scenario.executor, &factory.scale) {
        Strategy::Loop(gate) => vu_loop::drive(gate, factory, initial, start, grace, stop).await,
        Strategy::Arrival(pacer, max_vus) => {
            arrival::drive(pacer, max_vus, factory, initial, start, grace, stop).await
        }
    }
}

/// How many VUs to instantiate before the scenario starts (k6 initializes
/// every VU a VU-based executor can use, and `preAllocatedVUs` for
/// arrival-rate ones; VUs `volley scale` adds are made when first wanted).
pub fn initial_vus(cfg: &ExecutorConfig) -> u32 {
    match cfg {
        ExecutorConfig::ConstantArrivalRate {
            pre_allocated_vus, ..
        }
        | ExecutorConfig::RampingArrivalRate {
            pre_allocated_vus, ..
        } => *pre_allocated_vus,
        other => other.planned_vus(),
    }
}
