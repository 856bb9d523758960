//! Host side of the WIT imports: thin glue from guest calls to `protocol`,
//! `metrics` and engine state. One file per WIT interface. Protocol logic
//! does not live here; wasmtime types do not leave here and `wasm/`.

pub mod http;
pub mod kafka;
mod log;
pub mod metrics;
pub(crate) mod offload;
mod types;
mod vu;
pub mod ws;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::metrics::{Marks, Metrics, Tags};
use crate::protocol::http::HttpClient;
use crate::protocol::kafka::KafkaClient;
use crate::protocol::ws::WsClient;

pub use self::kafka::kafka_deliveries;
pub use self::vu::DataSets;

/// What every VU of a run shares.
#[derive(Debug)]
pub struct Shared {
    pub metrics: Metrics,
    pub http: HttpClient,
    pub ws: WsClient,
    pub kafka: KafkaClient,
    pub marks: Marks,
    /// Kafka end-to-end tracking (`[[track]]`).
    pub tracks: Arc<crate::protocol::kafka::track::Trackers>,
    pub data: DataSets,
    /// The run's clock zero.
    pub start: Instant,
    /// Per-target, per-second outcomes of HTTP requests (fault windows).
    pub timeline: Arc<crate::metrics::Timeline>,
    /// Warnings already given: a bound hit by every VU warns once.
    pub warned: Warned,
    /// The run's random seed: every VU's random numbers derive from it and
    /// the VU's id, so the same seed repeats a run's random data exactly.
    pub seed: u64,
}

/// Warnings given once per run.
#[derive(Debug, Default)]
pub struct Warned(std::sync::Mutex<std::collections::HashSet<&'static str>>);

impl Shared {
    /// Prints `message` the first time it is given in this run.
    pub fn warn_once(&self, message: &'static str) {
        let mut seen = self.warned.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert(message) {
            crate::output::log("WARN", format_args!("WARN  {message}"));
        }
    }
}

/// What every VU of one scenario shares.
#[derive(Debug)]
pub struct ScenarioInfo {
    pub name: String,
    /// `scenario` plus the plan's scenario tags, on every sample.
    pub tags: Tags,
    pub params: BTreeMap<String, String>,
}

/// The data of one VU's wasmtime `Store`: the VU's identity, which outlives
/// any one instance (after a trap, and across a hot swap), and the
/// [`Instance`] part, which a new instance never inherits.
pub struct VuState {
    pub id: u32,
    pub iteration: u64,
    /// The current iteration's number across the scenario (see
    /// `VuFactory::iterate`).
    pub scenario_iteration: u64,
    pub shared: Arc<Shared>,
    /// The scenario and the version this VU runs (its tags go on every
    /// sample); a swap replaces it with the new version's.
    pub scenario: Arc<ScenarioInfo>,
    /// When the current call must end; the epoch callback traps after it.
    pub deadline: Instant,
    pub limits: StoreLimits,
    rng: SmallRng,
    /// Where this VU's host calls hand their HTTP/1.1 exchanges to its task
    /// (polled off the fiber stack; see [`offload`]).
    pub(crate) offload: Arc<http::HttpOffload>,
    /// What belongs to the current instance only.
    pub(crate) instance: Instance,
}

/// Everything one instance of a VU owns: dropped whole when the VU is
/// re-instantiated (after a trap or a timeout, or to run another component),
/// which closes its WebSocket sockets and Kafka clients. Nothing here may
/// outlive the instance that made it.
#[derive(Default)]
pub(crate) struct Instance {
    /// Mark metric names this instance already declared.
    pub(crate) declared: HashSet<String>,
    /// The iteration metrics' series for the scenario version they were
    /// resolved for.
    pub(crate) iteration_series: Option<(Arc<ScenarioInfo>, [crate::metrics::SeriesHandle; 3])>,
    /// The series of this instance's checks, by check name and own tags.
    pub(crate) checks: Vec<metrics::CheckSeries>,
    /// What recording this VU's requests needs (their series cached);
    /// made on the first request, with an exchange while it runs.
    pub(crate) recorder: Option<Box<http::Recorder>>,
    /// The last response the scenario judges itself, until its verdict.
    pub(crate) verdict: Option<Box<http::DueVerdict>>,
    /// HTTP replies in `table` the guest has not dropped yet.
    pub(crate) replies: usize,
    /// WebSocket sockets in `table` the guest has not dropped yet.
    pub(crate) sockets: usize,
    /// Kafka consumers in `table` the guest has not dropped yet.
    pub(crate) consumers: usize,
    /// This VU's own HTTP/1.1 keep-alive connection (plain http://).
    /// Boxed: a request hands it to the VU's task and back (a pointer
    /// moved, not the connection's state); none until the first request.
    pub(crate) http1: Option<Box<crate::protocol::http::Local>>,
    /// Made on the first WASI call: Rust guests built by `volley build` import
    /// no WASI, and 10,000 VUs should not each carry an unused context.
    pub(crate) wasi: Option<Box<WasiCtx>>,
    pub(crate) table: ResourceTable,
    /// Woken by this instance's WebSocket sockets; made on the first connect.
    pub(crate) ws_wake: Option<Arc<tokio::sync::Notify>>,
    /// The Kafka topics this instance used, with their tags.
    pub(crate) kafka_topics: Vec<kafka::TopicTags>,
    /// What the guest's panic hook reported (`log` at error level,
    /// "panicked at FILE:LINE:COL: MESSAGE"), until the call ends.
    pub(crate) panic: Option<String>,
    /// Data sets this instance claimed and is making (k6 `SharedArray`).
    pub(crate) data_claims: Vec<vu::DataClaim>,
    /// The groups open now, and those entered lately.
    pub(crate) groups: metrics::Groups,
}

impl VuState {
    pub fn new(
        id: u32,
        shared: Arc<Shared>,
        scenario: Arc<ScenarioInfo>,
        memory_limit: usize,
    ) -> Self {
        let rng = vu_rng(shared.seed, id);
        VuState {
            rng,
            id,
            iteration: 0,
            scenario_iteration: 0,
            shared,
            scenario,
            deadline: Instant::now(),
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(memory_limit)
                .trap_on_grow_failure(true)
                .build(),
            offload: offload::Offload::new(),
            instance: Instance::default(),
        }
    }

    /// Drops what the VU's old instance owned, for a new instance of the
    /// same VU: its resources (WebSocket sockets, Kafka consumers and
    /// producers) are closed, and its WASI context and declared mark
    /// metrics forgotten. The identity stays: id, iteration,
    /// random generator, scenario, shared data. A response the old
    /// instance left waiting for its verdict (a call cut off) is judged by
    /// its status first.
    pub fn reset_instance(&mut self) {
        self.settle_verdict();
        self.instance = Instance::default();
    }

    /// The panic the guest reported during the call that just ended.
    pub fn take_panic(&mut self) -> Option<String> {
        self.instance.panic.take()
    }
}

/// VU `id`'s random stream in a run seeded with `seed`: distinct per VU,
/// the same for the same (seed, id).
fn vu_rng(seed: u64, id: u32) -> SmallRng {
    // A multiply by an odd constant spreads neighbouring ids over the seed
    // space; SmallRng's own seeding mixes the rest.
    SmallRng::seed_from_u64(seed ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

impl std::fmt::Debug for VuState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VuState")
            .field("id", &self.id)
            .field("scenario", &self.scenario.name)
            .field("iteration", &self.iteration)
            .finish()
    }
}

impl WasiView for VuState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // No filesystem, no environment, no sockets: only the WIT imports
        // reach the outside (README, "Sandbox").
        let instance = &mut self.instance;
        let ctx = instance
            .wasi
            .get_or_insert_with(|| Box::new(WasiCtx::builder().build()));
        WasiCtxView {
            ctx,
            table: &mut instance.table,
        }
    }
}

/// Adds every volley import and the (closed-down) WASI imports to `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<VuState>) -> wasmtime::Result<()> {
    use crate::wasm::bindings::Scenario;
    use wasmtime::component::HasSelf;
    Scenario::add_to_linker::<VuState, HasSelf<VuState>>(linker, |s| s)?;
    // Kafka's `produce` and `send-batch` read their messages where the
    // guest has them (the generated binding would copy each topic and
    // value first).
    linker.allow_shadowing(true);
    let mut imports = linker.instance("volley:scenario/kafka@0.2.0")?;
    imports.func_wrap("[method]producer.produce", kafka::produce_in_place)?;
    imports.func_wrap("[method]producer.send-batch", kafka::send_batch_in_place)?;
    linker.allow_shadowing(false);
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::vu_rng;
    use rand::RngCore;

    #[test]
    fn streams_follow_the_seed_and_differ_per_vu() {
        let first = |seed, id| vu_rng(seed, id).next_u64();
        assert_eq!(first(7, 1), first(7, 1));
        assert_ne!(first(7, 1), first(7, 2));
        assert_ne!(first(7, 1), first(8, 1));
        assert_ne!(first(7, 0), first(7, 1));
    }
}
