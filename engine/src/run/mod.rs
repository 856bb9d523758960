//! One load test from a validated [`Plan`] to a [`Report`]: start targets,
//! load components, run setup, drive every scenario, collect metrics once a
//! second, evaluate thresholds, run teardown.
//!
//! Nothing collected is lost on the way out: a failing scenario, an aborting
//! threshold or Ctrl-C still ends in a final merge, teardown and report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::host::{DataSets, ScenarioInfo, Shared, VuState};
use crate::metrics::{Kind, Marks, Metrics, Tags, ThresholdResult};
use crate::output::{Goal, OutputOptions, Outputs, Report, RunInfo, ScenarioReport};
use crate::plan::Plan;
use crate::protocol::kafka::KafkaClient;
use crate::protocol::kafka::track::Trackers;
use crate::protocol::kafka::watch::{finish_tracking, kafka_config, watch_goals, watch_lag};
use crate::protocol::{Allowlist, http::HttpClient, ws::WsClient};
use crate::schedule::{self, Live, Stop, VuFactory};
use crate::swap::{Deployment, Version};
use crate::wasm::{CallError, Component, ComponentId, Runtime, RuntimeConfig, Vu};
use crate::{Error, ExitCode};

mod collect;
mod targets;
mod verdict;

use collect::Collector;
use targets::Targets;

use verdict::Facts;
pub use verdict::{Abort, TeardownFailure, Verdict};

/// Open correlation marks scenarios may hold at once (a few hundred bytes
/// each with its key; 1,000,000 reached ~400 MiB): far more than a real
/// fan-out has in flight, far less than would hurt the engine.
const GUEST_MARKS: usize = 100_000;

/// How to run and what to write besides the terminal summary.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub summary_export: Option<PathBuf>,
    /// Print a progress line every second (stderr).
    pub progress: bool,
    /// Print the end-of-test summary (stdout).
    pub summary: bool,
    pub color: bool,
    /// Skip the pooling allocator (for comparison and constrained hosts).
    pub no_pooling: bool,
    /// `--out KIND=TARGET`: streamed outputs (see [`Outputs`]).
    pub out: Vec<String>,
    /// Swap to each new build of these sources or this component (`--watch`).
    pub watch: Option<crate::swap::Watch>,
    /// `--control`: also take control requests over TCP, with a token.
    pub control: Option<crate::control::TcpOptions>,
}

/// What a finished run returns.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub exit: ExitCode,
    /// Why the exit code is not 0, in one line.
    pub problem: Option<String>,
}

/// Runs `plan` to the end.
pub async fn run(plan: Plan, opts: &RunOptions) -> Result<Outcome, Error> {
    crate::sys::raise_open_files();
    // Outputs first: a bad `--out` fails before anything starts.
    let mut outputs = Outputs::from_options(&OutputOptions {
        progress: opts.progress,
        summary: opts.summary,
        color: opts.color,
        summary_export: opts.summary_export.clone(),
        out: opts.out.clone(),
    })?;
    let scenario_reports: Vec<ScenarioReport> = plan
        .scenarios
        .iter()
        .map(|s| ScenarioReport {
            name: s.name.clone(),
            executor: s.executor.name().into(),
            component: s.component.display().to_string(),
            max_vus: s.executor.max_vus(),
        })
        .collect();
    // Signals first, so setup and teardown can be interrupted too.
    let stop = Stop::default();
    let abort_reason: Arc<std::sync::Mutex<Option<Abort>>> = Arc::default();
    // Cancelled by a second signal only (abortOnFail cancels `stop.now`,
    // which must not cut teardown short).
    let interrupt = tokio_util::sync::CancellationToken::new();
    let signals = watch_signals(stop.clone(), interrupt.clone(), abort_reason.clone());
    let _signals = AbortOnDrop(signals);
    // Targets first: their URLs become parameters and allowed hosts.
    let targets = Targets::start(&plan, opts.progress).await?;
    let kafka_targets = targets.kafka.clone();
    let mut params = targets.params.clone();
    params.extend(plan.params.clone());
    let allowlist = Allowlist::parse(&targets.allow).map_err(Error::Config)?;
    let allow_for_lag = allowlist.clone();
    let ws = WsClient::new(allowlist.clone(), plan.insecure_skip_tls_verify)
        .map_err(|e| Error::Other(format!("WebSocket client: {e}")))?;
    let metrics = Metrics::new();
    let tracks = Arc::new(
        Trackers::new(
            &plan.track,
            |name| kafka_config(&kafka_targets, name),
            plan.mark_timeout,
        )
        .map_err(|m| Error::Config(format!("{}: {m}", plan.source.display())))?,
    );
    let kafka = KafkaClient::new(
        allowlist.clone(),
        crate::host::kafka_deliveries(&metrics, tracks.clone()),
    )
    .with_targets(kafka_targets.iter().map(|(_, t)| t.clone()).collect());
    let http = HttpClient::new(allowlist, plan.insecure_skip_tls_verify)
        .map_err(|e| Error::Other(format!("HTTP client: {e}")))?
        .max_redirects(plan.max_redirects);
    // Random per run unless the plan or --seed fixes it.
    let seed = plan.seed.unwrap_or_else(rand::random);

    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        http,
        ws,
        kafka,
        marks: Marks::with_limit(GUEST_MARKS),
        tracks: tracks.clone(),
        data: DataSets::load(&plan.data)?,
        start: metrics.start(),
        warned: Default::default(),
        seed,
    });

    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        max_vus: plan.max_vus(),
        memory_limit: plan.memory_limit,
        pooling: !opts.no_pooling,
        cache: true,
    })?);
    // Keyed by what a component is (its digest), not where its file is.
    let mut components: BTreeMap<ComponentId, Component> = BTreeMap::new();
    let mut scenario_components = Vec::new();
    let mut by_path: BTreeMap<&std::path::Path, ComponentId> = BTreeMap::new();
    for s in &plan.scenarios {
        let id = match by_path.get(s.component.as_path()) {
            Some(id) => *id,
            None => {
                let c = runtime.load(&s.component)?;
                by_path.insert(&s.component, c.id());
                components.entry(c.id()).or_insert(c).id()
            }
        };
        scenario_components.push(id);
    }

    // setup, once per component, in a VU of its own.
    let live = Arc::new(Live::default());
    let mut setup_data: BTreeMap<ComponentId, Arc<[u8]>> = BTreeMap::new();
    for (id, component) in &components {
        let path = component.path();
        let info = Arc::new(ScenarioInfo {
            name: "setup".into(),
            tags: Tags::new([("scenario", "setup")]),
            params: params.clone(),
        });
        let mut vu = new_vu(component, &shared, info, &plan)
            .await
            .map_err(|message| Error::Setup {
                scenario: path.display().to_string(),
                message,
            })?;
        let data = tokio::select! {
            r = vu.setup(plan.setup_timeout) => r.map_err(|e| match e {
                CallError::Timeout => Error::SetupTimeout {
                    scenario: path.display().to_string(),
                    timeout: plan.setup_timeout,
                },
                e => Error::Setup {
                    scenario: path.display().to_string(),
                    message: e.to_string(),
                },
            })?,
            () = interrupt.cancelled() => {
                return Err(Error::Interrupted(format!("{}: `setup` interrupted", path.display())));
            }
        };
        setup_data.insert(*id, data.into());
    }

    // Every VU a scenario starts with, instantiated before the clock starts.
    let mut prepared = Vec::new();
    for (s, id) in plan.scenarios.iter().zip(&scenario_components) {
        let mut tags: Vec<(String, String)> = s.tags.clone().into_iter().collect();
        tags.push(("scenario".into(), s.name.clone()));
        let mut scenario_params = params.clone();
        scenario_params.extend(s.params.clone());
        let info = Arc::new(ScenarioInfo {
            name: s.name.clone(),
            tags: Tags::new(tags),
            params: scenario_params,
        });
        let info = crate::swap::versioned(&info, &components[id]);
        let stable = Version::new(components[id].clone(), setup_data[id].clone(), info);
        let factory = Arc::new(VuFactory {
            deployment: Arc::new(Deployment::new(stable)),
            shared: shared.clone(),
            live: live.clone(),
            exec: s.exec.clone(),
            iteration_timeout: plan.iteration_timeout,
            memory_limit: plan.memory_limit as usize,
            scale: Arc::new(schedule::Scale::new(&s.name, &s.executor)),
        });
        let n = schedule::initial_vus(&s.executor);
        if opts.progress {
            crate::output::log(
                "INFO",
                format_args!(
                    "scenario `{}`: {} ({} VUs to start)",
                    s.name,
                    s.executor.name(),
                    n
                ),
            );
        }
        let vus = factory.make_many(n).await.map_err(|message| Error::Init {
            scenario: s.name.clone(),
            message,
        })?;
        prepared.push((s.clone(), factory, vus));
    }

    // Tracking consumers start at the output topics' current ends: before
    // anything is produced.
    let mut watches = Vec::new();
    for t in tracks.all() {
        let (t, allow, metrics, start) = (
            t.clone(),
            allow_for_lag.clone(),
            metrics.clone(),
            shared.start,
        );
        let watch = tokio::task::spawn_blocking(move || t.watch(&allow, &metrics, start))
            .await
            .map_err(|e| Error::Other(format!("track: {e}")))?
            .map_err(Error::Other)?;
        if opts.progress {
            crate::output::log("INFO", format_args!("tracking {}", watch.tracker().name()));
        }
        watches.push(watch);
    }

    let started = Instant::now();

    // Hot swap: the scenarios' deployments, fed by `--watch`.
    let swapper = Arc::new(crate::swap::Swapper::new(
        runtime.clone(),
        prepared
            .iter()
            .map(|(_, f, _)| f.deployment.clone())
            .collect(),
        plan.swap.clone(),
        shared.start,
    ));
    // Live control: `volley ps`, `stop`, `swap`, `rollback`.
    let _control = match crate::control::serve(
        crate::control::Context {
            plan: plan.source.display().to_string(),
            live: live.clone(),
            stop: stop.clone(),
            abort_reason: abort_reason.clone(),
            swapper: swapper.clone(),
            scales: prepared.iter().map(|(_, f, _)| f.scale.clone()).collect(),
            started,
        },
        opts.control.clone(),
    )
    .await
    {
        Ok(endpoint) => Some(endpoint),
        // Asked for TCP control and could not listen: the run cannot be
        // controlled as asked, so it does not start.
        Err(e) if opts.control.is_some() => return Err(Error::Config(e)),
        Err(e) => {
            eprintln!("WARN  no control socket ({e}): volley ps/stop/swap cannot reach this run");
            None
        }
    };
    let watch_stop = tokio_util::sync::CancellationToken::new();
    let watcher = opts
        .watch
        .clone()
        .map(|w| tokio::spawn(crate::swap::watch(w, swapper.clone(), watch_stop.clone())));

    let lag_watch = watch_lag(&plan, &kafka_targets, &allow_for_lag, &metrics);
    let track_goal = watch_goals(&tracks, &stop, started);

    // Once a second: merge recorders, feed the outputs, watch thresholds.
    outputs.start(&RunInfo {
        scenarios: scenario_reports.clone(),
        goals: plan.scenarios.iter().map(goal).collect(),
        seed,
    })?;
    let collector = Collector {
        metrics: metrics.clone(),
        live: live.clone(),
        shared: shared.clone(),
        stop: stop.clone(),
        thresholds: plan.thresholds.clone(),
        mark_timeout: plan.mark_timeout,
        abort: abort_reason.clone(),
        outputs,
        notes: {
            let tracks = tracks.clone();
            Box::new(move || tracks.all().iter().map(|t| t.progress()).collect())
        },
        started,
    }
    .spawn();

    // Every scenario at its start time.
    let mut tasks = Vec::new();
    for (scenario, factory, vus) in prepared {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(scenario.start_time) => {}
                _ = stop.graceful.cancelled() => return (scenario.name, schedule::Outcome::default()),
            }
            let out = schedule::run_scenario(&scenario, factory, vus, stop).await;
            (scenario.name, out)
        }));
    }
    let mut problems = Vec::new();
    let mut interrupted = 0;
    for t in tasks {
        match t.await {
            Ok((name, out)) => {
                interrupted += out.interrupted;
                if let Some(e) = out.error {
                    problems.push(format!("scenario `{name}`: {e}"));
                }
            }
            Err(e) => problems.push(format!("a scenario task failed: {e}")),
        }
    }
    swapper.close();
    watch_stop.cancel();
    if let Some(mut w) = watcher {
        // A swap in progress rolls back at once; a build in progress is
        // not waited for long.
        if tokio::time::timeout(Duration::from_secs(2), &mut w)
            .await
            .is_err()
        {
            w.abort();
        }
    }
    // Acks of messages still in flight belong to this run.
    shared.kafka.flush_all(Duration::from_secs(30)).await;
    track_goal.abort();
    let track_failed =
        finish_tracking(watches, &tracks, &metrics, started, &stop, opts.progress).await;
    let mut collector = collector.stop().await;
    lag_watch.abort();
    let elapsed = started.elapsed();

    // teardown, once per component, with its setup data.
    // (what failed, whether it was the timeout)
    let mut teardown_failed: Option<TeardownFailure> = None;
    for (id, component) in &components {
        let path = component.path();
        let info = Arc::new(ScenarioInfo {
            name: "teardown".into(),
            tags: Tags::new([("scenario", "teardown")]),
            params: params.clone(),
        });
        let result = match new_vu(component, &shared, info, &plan).await {
            Ok(mut vu) => tokio::select! {
                r = vu.teardown(&setup_data[id], plan.teardown_timeout) => r.map_err(|e| match e {
                    CallError::Timeout => (
                        format!(
                            "ran past its {:?} (raise teardownTimeout in the plan's [options])",
                            plan.teardown_timeout
                        ),
                        true,
                    ),
                    e => (e.to_string(), false),
                }),
                () = interrupt.cancelled() => Err(("interrupted".to_string(), false)),
            },
            Err(e) => Err((e, false)),
        };
        if let Err((e, timed_out)) = result {
            teardown_failed.get_or_insert(TeardownFailure {
                message: format!("{}: `teardown` {e}", path.display()),
                timed_out,
            });
        }
    }
    // Fan-out events still open now lost their missing receivers.
    collector.last(started.elapsed());
    targets.shutdown(opts.progress).await;

    let aggregate = metrics.total();
    let results = final_thresholds(&plan, &metrics, &aggregate, elapsed);
    let aborted = abort_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if interrupted > 0 && opts.progress {
        crate::output::log(
            "WARN",
            format_args!(
                "WARN  {interrupted} iterations were interrupted at the end of their graceful stop"
            ),
        );
    }
    let report = Report {
        aggregate,
        elapsed,
        thresholds: results,
        scenarios: scenario_reports,
        aborted: aborted.as_ref().map(Abort::to_string),
        seed,
        swaps: swapper.events(),
    };
    collector.outputs.finish(&report)?;

    let verdict = verdict::verdict(&Facts {
        source: &plan.source,
        dropped_scenarios: &plan.dropped_scenarios,
        thresholds: &report.thresholds,
        aggregate: &report.aggregate,
        scenario_errors: &problems,
        teardown: teardown_failed.as_ref(),
        tracking: track_failed.as_deref(),
        aborted: aborted.as_ref(),
    });
    Ok(Outcome {
        report,
        exit: verdict.exit,
        problem: verdict.problem,
    })
}

/// SIGINT or SIGTERM (how Kubernetes, systemd and CI stop a job): the first
/// stops starting iterations and lets those in flight finish; the second
/// interrupts them, and setup or teardown, at once; a third exits on the spot.
fn watch_signals(
    stop: Stop,
    interrupt: tokio_util::sync::CancellationToken,
    abort_reason: Arc<std::sync::Mutex<Option<Abort>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(mut signals) = Signals::new() else {
            return;
        };
        let name = signals.next().await;
        crate::output::log(
            "WARN",
            format_args!(
                "\ninterrupted ({name}): finishing iterations in flight (again to stop now)"
            ),
        );
        abort_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(Abort::Signal(name));
        stop.graceful.cancel();
        let name = signals.next().await;
        crate::output::log(
            "WARN",
            format_args!("interrupted ({name}) again: stopping now (a third time exits at once)"),
        );
        stop.now.cancel();
        interrupt.cancel();
        signals.next().await;
        std::process::exit(ExitCode::Interrupted.code());
    })
}

/// The two signals that ask a run to stop.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Option<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(Signals {
            int: signal(SignalKind::interrupt()).ok()?,
            term: signal(SignalKind::terminate()).ok()?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// Aborts a background task when the run ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn new_vu(
    component: &Component,
    shared: &Arc<Shared>,
    info: Arc<ScenarioInfo>,
    plan: &Plan,
) -> Result<Vu, String> {
    let state = VuState::new(0, shared.clone(), info, plan.memory_limit as usize);
    Vu::new(component, state)
        .await
        .map_err(|(e, _)| e.to_string())
}

/// Where a scenario ends, as its progress bar measures it.
fn goal(s: &crate::plan::Scenario) -> Goal {
    use crate::plan::ExecutorConfig as E;
    match s.executor {
        E::PerVuIterations {
            vus, iterations, ..
        } => Goal::Iterations(vus as u64 * iterations),
        E::SharedIterations { iterations, .. } => Goal::Iterations(iterations),
        _ => Goal::Duration {
            start: s.start_time,
            length: s.executor.max_duration(),
        },
    }
}

/// Final evaluation, with custom metrics' kinds now known.
fn final_thresholds(
    plan: &Plan,
    metrics: &Metrics,
    aggregate: &crate::metrics::Aggregate,
    elapsed: Duration,
) -> Vec<ThresholdResult> {
    plan.thresholds
        .evaluate(aggregate, elapsed, |n| metrics.kind_of(n))
        .into_iter()
        .map(|mut r| {
            let kind: Option<Kind> = metrics.kind_of(&r.threshold.selector.metric);
            if let Some(k) = kind
                && r.threshold.check_kind(k).is_err()
            {
                r.ok = false;
            }
            r
        })
        .collect()
}
