//! A virtual user: one wasmtime `Store` and one instance of a component.
//!
//! A VU can move to another component at an iteration boundary
//! ([`Vu::reinstantiate`]): its state (id, iteration count, recorders' tags)
//! lives in [`VuState`], not in the instance. After a trap or a timeout the
//! instance is unusable, so the executor re-instantiates the VU the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, TypedFunc};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::Scenario;
use super::runtime::{Component, EPOCH_TICK};
use crate::host::VuState;
use crate::host::http::HttpOffload;
use crate::host::offload::Driven;
use crate::swap::Version;

/// Why a guest call did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The guest returned `err(message)`.
    Guest(String),
    /// The guest trapped (panic, unreachable, out of bounds, out of memory).
    Trap(String),
    /// The call ran past its deadline and was stopped.
    Timeout,
    /// The VU could not be instantiated.
    Instantiate(String),
}

impl CallError {
    /// The `class` tag of `iterations_failed`.
    pub fn class(&self) -> &'static str {
        match self {
            CallError::Guest(_) => "error",
            CallError::Trap(_) => "trap",
            CallError::Timeout => "timeout",
            CallError::Instantiate(_) => "instantiate",
        }
    }

    /// Whether the instance must be replaced before the next call.
    pub fn poisons(&self) -> bool {
        !matches!(self, CallError::Guest(_))
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Guest(m) => write!(f, "returned an error: {m}"),
            CallError::Trap(m) => write!(f, "trapped: {m}"),
            CallError::Timeout => write!(f, "ran past its deadline and was stopped"),
            CallError::Instantiate(m) => write!(f, "could not be instantiated: {m}"),
        }
    }
}

/// Marker error the epoch callback raises when a deadline passes.
#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// One virtual user.
pub struct Vu {
    store: Store<VuState>,
    guest: Scenario,
    /// The component's `stop-vu`, if it has one.
    stop: Option<StopFunc>,
    /// The instance, for exports looked up when called (`handle-summary`).
    instance: Instance,
    component: Component,
    /// The version it runs and the swap generation that was chosen at
    /// (see `swap::Deployment`); none outside a scenario (setup, teardown).
    placed: Option<(u64, Arc<Version>)>,
    /// The state's offload slot, kept here too: a call borrows the store.
    offload: Arc<HttpOffload>,
}

impl std::fmt::Debug for Vu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vu")
            .field("state", self.store.data())
            .field("component", &self.component)
            .finish()
    }
}

impl Vu {
    /// Instantiates `component` for a VU with `state`.
    pub async fn new(component: &Component, state: VuState) -> Result<Vu, (CallError, VuState)> {
        let engine = component.pre().engine();
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                // A busy guest gives its thread back every tick.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.data_mut().deadline = Instant::now() + Duration::from_secs(60);
        // Guest code may run while instantiating (a start function): its
        // host calls hand off their work as a call's do.
        let offload = store.data().offload.clone();
        let made = Driven::new(std::pin::pin!(instantiate(component, &mut store)), &offload).await;
        match made {
            Ok((guest, stop, instance)) => Ok(Vu {
                offload,
                store,
                guest,
                stop,
                instance,
                component: component.clone(),
                placed: None,
            }),
            Err(e) => {
                let msg = format!("{e:#}");
                Err((CallError::Instantiate(msg), store.into_data()))
            }
        }
    }

    /// A fresh instance of `component` (the same one after a trap, another one
    /// for a hot swap) keeping this VU's identity and counters. What the old
    /// instance owned (its sockets, consumers, declared metrics) is dropped
    /// with it, before the new one is made.
    pub async fn reinstantiate(self, component: &Component) -> Result<Vu, (CallError, VuState)> {
        let mut state = self.store.into_data();
        state.reset_instance();
        Vu::new(component, state).await
    }

    pub fn state(&self) -> &VuState {
        self.store.data()
    }

    pub fn state_mut(&mut self) -> &mut VuState {
        self.store.data_mut()
    }

    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The swap generation this VU last checked its version at.
    pub fn generation(&self) -> Option<u64> {
        self.placed.as_ref().map(|(g, _)| *g)
    }

    /// The version this VU runs, if it runs in a scenario.
    pub fn version(&self) -> Option<&Arc<Version>> {
        self.placed.as_ref().map(|(_, v)| v)
    }

    /// Records that this VU runs `version`, chosen at `generation`.
    pub fn place(&mut self, generation: u64, version: Arc<Version>) {
        self.placed = Some((generation, version));
    }

    pub fn into_state(self) -> VuState {
        self.store.into_data()
    }

    /// Runs `setup` and returns the bytes for every VU.
    pub async fn setup(&mut self, timeout: Duration) -> Result<Vec<u8>, CallError> {
        let deadline = self.arm(timeout);
        let r = finish(
            deadline,
            &self.offload,
            self.guest.call_setup(&mut self.store),
        )
        .await;
        self.explain(r)
    }

    pub async fn init(&mut self, data: &[u8], timeout: Duration) -> Result<(), CallError> {
        let deadline = self.arm(timeout);
        let r = finish(
            deadline,
            &self.offload,
            self.guest.call_init_vu(&mut self.store, data),
        )
        .await;
        self.explain(r)
    }

    /// One iteration of entry `entry`.
    pub async fn iterate(&mut self, entry: &str, timeout: Duration) -> Result<(), CallError> {
        self.iterate_from(entry, timeout, Instant::now()).await
    }

    /// [`Vu::iterate`], its timeout counted from `started` (the caller's
    /// clock read, so an iteration reads the clock once less).
    pub async fn iterate_from(
        &mut self,
        entry: &str,
        timeout: Duration,
        started: Instant,
    ) -> Result<(), CallError> {
        let deadline = self.arm_at(started + timeout);
        // Pinned here, so the timeout holds a pointer to the call instead
        // of a copy of it (a move per iteration otherwise).
        let r = {
            let call = std::pin::pin!(self.guest.call_run(&mut self.store, entry));
            finish(deadline, &self.offload, call).await
        };
        // Groups the iteration left open (it failed inside one) end with it.
        self.store.data_mut().instance.groups.close_all();
        self.explain(r)
    }

    /// The component's `stop-vu`, if it exports one (world `scenario-stop`):
    /// the VU's last call. None when there is none to call.
    pub async fn stop(&mut self, timeout: Duration) -> Option<Result<(), CallError>> {
        let stop = self.stop?;
        let deadline = self.arm(timeout);
        let call = async {
            let (r,) = stop.call_async(&mut self.store, ()).await?;
            Ok(r)
        };
        let r = finish(deadline, &self.offload, call).await;
        Some(self.explain(r))
    }

    /// The component's `handle-summary` (world `scenario-summary`, k6's
    /// `handleSummary`) with the run's summary `data`: what to output
    /// instead of the engine's summary, `None` inside when the scenario has
    /// no summary of its own. None when there is no such export.
    pub async fn handle_summary(
        &mut self,
        data: &str,
        timeout: Duration,
    ) -> Option<Result<Option<SummaryOutputs>, CallError>> {
        // Looked up here, not at every VU's instantiation: only the VU made
        // for it at the end of the run calls it.
        let summary: SummaryFunc = self
            .instance
            .get_typed_func(&mut self.store, "handle-summary")
            .ok()?;
        let deadline = self.arm(timeout);
        let call = async {
            let (r,) = summary
                .call_async(&mut self.store, (data.to_string(),))
                .await?;
            Ok(r)
        };
        let r = finish(deadline, &self.offload, call).await;
        Some(self.explain(r))
    }

    pub async fn teardown(&mut self, data: &[u8], timeout: Duration) -> Result<(), CallError> {
        let deadline = self.arm(timeout);
        let r = finish(
            deadline,
            &self.offload,
            self.guest.call_teardown(&mut self.store, data),
        )
        .await;
        self.explain(r)
    }

    /// A trap after the guest reported a panic is that panic (its message
    /// and source location), not `unreachable executed` at a wasm offset.
    /// Every call into the instance ends here: a response still waiting for
    /// the scenario's verdict is judged by its status.
    fn explain<T>(&mut self, r: Result<T, CallError>) -> Result<T, CallError> {
        self.store.data_mut().settle_verdict();
        let Some(panic) = self.store.data_mut().take_panic() else {
            return r;
        };
        match r {
            Err(CallError::Trap(_)) => Err(CallError::Trap(panic)),
            // Caught, or the scenario only logged those words: show the line.
            other => {
                let s = self.store.data();
                crate::output::log(
                    "ERROR",
                    format_args!("ERROR [{} vu={}] {panic}", s.scenario.name, s.id),
                );
                other
            }
        }
    }

    /// The call's deadline, `timeout` from now.
    fn arm(&mut self, timeout: Duration) -> Instant {
        self.arm_at(Instant::now() + timeout)
    }

    fn arm_at(&mut self, deadline: Instant) -> Instant {
        self.store.data_mut().deadline = deadline;
        self.store.set_epoch_deadline(1);
        deadline
    }
}

/// The `stop-vu` export of world `scenario-stop`, looked up by name.
type StopFunc = TypedFunc<(), (Result<(), String>,)>;

/// What `handle-summary` asks for: (`stdout`, `stderr` or a file's path,
/// its bytes).
pub type SummaryOutputs = Vec<(String, Vec<u8>)>;

/// The `handle-summary` export of world `scenario-summary`, looked up by name.
type SummaryFunc = TypedFunc<(String,), (Result<Option<SummaryOutputs>, String>,)>;

/// An instance of `component` with its optional `stop-vu`.
async fn instantiate(
    component: &Component,
    store: &mut Store<VuState>,
) -> wasmtime::Result<(Scenario, Option<StopFunc>, Instance)> {
    let instance = component
        .pre()
        .instance_pre()
        .instantiate_async(&mut *store)
        .await?;
    let guest = Scenario::new(&mut *store, &instance)?;
    let stop = instance.get_typed_func(&mut *store, "stop-vu").ok();
    Ok((guest, stop, instance))
}

/// Awaits a guest call: the epoch callback stops guest code at the deadline;
/// the outer timeout also stops a call blocked in a host import (a long sleep).
/// What its host calls hand to `offload` is polled here, off the VU's fiber.
async fn finish<T>(
    deadline: Instant,
    offload: &HttpOffload,
    call: impl Future<Output = wasmtime::Result<Result<T, String>>>,
) -> Result<T, CallError> {
    let slack = EPOCH_TICK * 5;
    let call = std::pin::pin!(call);
    let call = Driven::new(call, offload);
    match tokio::time::timeout_at((deadline + slack).into(), call).await {
        Err(_) => Err(CallError::Timeout),
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(msg))) => Err(CallError::Guest(msg)),
        Ok(Err(e)) => {
            if e.downcast_ref::<DeadlineExceeded>().is_some() {
                Err(CallError::Timeout)
            } else {
                Err(CallError::Trap(trap_message(&e)))
            }
        }
    }
}

fn trap_message(e: &wasmtime::Error) -> String {
    let base = match e.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => {
            "unreachable executed (a panic in the guest?)".to_string()
        }
        Some(t) => t.to_string(),
        None => format!("{e}"),
    };
    // The first line of the wasm backtrace, if any, locates the fault.
    let full = format!("{e:?}");
    match full
        .lines()
        .find(|l| l.trim_start().starts_with("0:") || l.contains("wasm backtrace"))
    {
        Some(_) => {
            let frame = full
                .lines()
                .skip_while(|l| !l.contains("wasm backtrace"))
                .nth(1)
                .map(str::trim)
                .unwrap_or("");
            if frame.is_empty() {
                base
            } else {
                format!("{base} at {frame}")
            }
        }
        None => base,
    }
}
