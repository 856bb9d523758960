//! What runs beside the scenarios while they execute: fault injection, hot
//! swap (`--watch` and the control endpoint), Kafka lag and goal watchers,
//! probes, and the once-a-second collector. Started together after setup;
//! drained together, in an order that loses nothing, before teardown.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::clients::Clients;
use super::collect::{Collector, Running};
use super::execute::Prepared;
use super::targets::Targets;
use super::{Abort, RunOptions, faults, inject, probe};
use crate::Error;
use crate::metrics::Metrics;
use crate::output::Outputs;
use crate::plan::Plan;
use crate::protocol::kafka::track::Watch;
use crate::protocol::kafka::watch::{finish_tracking, watch_goals, watch_lag};
use crate::schedule::{Live, Stop};
use crate::swap::{SwapEvent, Swapper};
use crate::wasm::Runtime;

/// What the services are started from.
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    pub opts: &'a RunOptions,
    pub targets: &'a Targets,
    pub clients: &'a Clients,
    pub metrics: &'a Metrics,
    pub params: &'a BTreeMap<String, String>,
    pub runtime: &'a Arc<Runtime>,
    pub prepared: &'a [Prepared],
    pub live: &'a Arc<Live>,
    pub stop: &'a Stop,
    pub abort: &'a Arc<Mutex<Option<Abort>>>,
    /// Kafka tracking consumers, already started.
    pub watches: Vec<Watch>,
    /// Started outputs; the collector feeds them from now on.
    pub outputs: Outputs,
    /// When the scenarios start: the zero of the run's timeline.
    pub started: Instant,
    /// What `--watch` follows, with its fingerprint when the run read it.
    pub watched: Option<(crate::swap::Watch, u64)>,
}

/// The running services; [`Services::drain`] stops them.
pub struct Services {
    injector: inject::Injector,
    swapper: Arc<Swapper>,
    _control: Option<crate::control::Endpoint>,
    /// What the control endpoint acts on, for the dashboard's controls.
    control: Arc<crate::control::Context>,
    watcher: Option<JoinHandle<()>>,
    watch_stop: CancellationToken,
    lag_watch: JoinHandle<()>,
    probes: probe::Probes,
    track_goal: JoinHandle<()>,
    watches: Vec<Watch>,
    collector: Running,
    started: Instant,
}

/// What the services leave for teardown and the report.
pub struct Drained {
    pub collector: Collector,
    pub swaps: Vec<SwapEvent>,
    /// Why end-to-end tracking failed, if it did.
    pub track_failed: Option<String>,
}

pub async fn start(i: Inputs<'_>) -> Result<Services, Error> {
    let shared = &i.clients.shared;
    let injected = Arc::new(inject::Injections::default());
    let injector = inject::Injector::start(
        &i.plan.faults,
        &i.targets.controls,
        i.started,
        injected.clone(),
        i.opts.progress,
    );
    // Hot swap: the scenarios' deployments, fed by `--watch` and `volley swap`.
    let swapper = Arc::new(Swapper::new(
        i.runtime.clone(),
        i.prepared
            .iter()
            .map(|p| p.factory.deployment.clone())
            .collect(),
        i.plan.swap.clone(),
        shared.start,
    ));
    let control = Arc::new(control_context(&i, &swapper));
    let endpoint = serve_control(control.clone(), i.opts).await?;
    let watch_stop = CancellationToken::new();
    let watcher = i.watched.map(|(w, loaded)| {
        tokio::spawn(crate::swap::watch(
            w,
            loaded,
            swapper.clone(),
            watch_stop.clone(),
        ))
    });
    let lag_watch = watch_lag(i.plan, &i.targets.kafka, &i.clients.allow, i.metrics);
    let probes = probe::start(&i.plan.probes, i.params, &shared.http, i.metrics)?;
    let track_goal = watch_goals(&i.clients.tracks, i.stop, i.started);
    // Once a second: merge recorders, feed the outputs, watch thresholds.
    let collector = Collector {
        metrics: i.metrics.clone(),
        live: i.live.clone(),
        shared: shared.clone(),
        stop: i.stop.clone(),
        thresholds: i.plan.thresholds.clone(),
        mark_timeout: i.plan.mark_timeout,
        abort: i.abort.clone(),
        outputs: i.outputs,
        notes: {
            let tracks = i.clients.tracks.clone();
            Box::new(move || tracks.all().iter().map(|t| t.progress()).collect())
        },
        started: i.started,
        faults: faults::Faults::new(shared.timeline.clone(), injected, i.metrics),
        fault_report: None,
    }
    .spawn();
    Ok(Services {
        injector,
        swapper,
        _control: endpoint,
        control,
        watcher,
        watch_stop,
        lag_watch,
        probes,
        track_goal,
        watches: i.watches,
        collector,
        started: i.started,
    })
}

/// What live control acts on: the run's stop, swaps and scenarios' load.
fn control_context(i: &Inputs<'_>, swapper: &Arc<Swapper>) -> crate::control::Context {
    crate::control::Context {
        plan: i.plan.source.display().to_string(),
        live: i.live.clone(),
        stop: i.stop.clone(),
        abort_reason: i.abort.clone(),
        swapper: swapper.clone(),
        scales: i.prepared.iter().map(|p| p.factory.scale.clone()).collect(),
        started: i.started,
    }
}

/// Live control: `volley ps`, `stop`, `swap`, `rollback`, `scale`.
async fn serve_control(
    ctx: Arc<crate::control::Context>,
    opts: &RunOptions,
) -> Result<Option<crate::control::Endpoint>, Error> {
    match crate::control::serve(ctx, opts.control.clone()).await {
        Ok(endpoint) => Ok(Some(endpoint)),
        // Asked for TCP control and could not listen: the run cannot be
        // controlled as asked, so it does not start.
        Err(e) if opts.control.is_some() => Err(Error::Config(e.to_string())),
        Err(e) => {
            crate::output::log(
                "WARN",
                format_args!(
                    "WARN  no control socket ({e}): volley ps/stop/swap cannot reach this run"
                ),
            );
            Ok(None)
        }
    }
}

impl Services {
    /// The run's live control (the dashboard's scale control uses it).
    pub fn control(&self) -> Arc<crate::control::Context> {
        self.control.clone()
    }

    /// Stops everything once the scenarios are done. Faults still in effect
    /// are undone first; no more swaps; acks and tracked messages still in
    /// flight belong to this run, so they are waited for before the
    /// collector's last merge.
    pub async fn drain(
        self,
        clients: &Clients,
        metrics: &Metrics,
        stop: &Stop,
        progress: bool,
    ) -> Drained {
        self.injector.finish().await;
        self.swapper.close();
        self.watch_stop.cancel();
        if let Some(mut w) = self.watcher {
            // A swap in progress rolls back at once; a build in progress is
            // not waited for long.
            if tokio::time::timeout(Duration::from_secs(2), &mut w)
                .await
                .is_err()
            {
                w.abort();
            }
        }
        clients
            .shared
            .kafka
            .flush_all(Duration::from_secs(30))
            .await;
        let unclosed = clients
            .shared
            .kafka
            .close_consumers(Duration::from_secs(10))
            .await;
        if unclosed > 0 && progress {
            crate::output::log(
                "WARN",
                format_args!(
                    "WARN  {unclosed} Kafka consumers had not left their groups 10 s after their VUs ended; the run goes on without them"
                ),
            );
        }
        self.track_goal.abort();
        let track_failed = finish_tracking(
            self.watches,
            &clients.tracks,
            metrics,
            self.started,
            stop,
            progress,
        )
        .await;
        self.probes.stop().await;
        let collector = self.collector.stop().await;
        self.lag_watch.abort();
        Drained {
            collector,
            swaps: self.swapper.events(),
            track_failed,
        }
    }
}
