//! One load test from a validated [`Plan`] to a [`Report`]: start targets,
//! load components, run setup, drive every scenario, collect metrics once a
//! second, evaluate thresholds, run teardown.
//!
//! Nothing collected is lost on the way out: a failing scenario, an aborting
//! threshold or Ctrl-C still ends in a final merge, teardown and report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::{Kind, Metrics, ThresholdResult};
use crate::output::{OutputOptions, Outputs, Report, RunInfo, ScenarioReport};
use crate::plan::Plan;
use crate::protocol::kafka::watch::start_tracking;
use crate::schedule::{Live, Stop};
use crate::wasm::{Component, ComponentId, Runtime, RuntimeConfig};
use crate::{Error, ExitCode};

mod clients;
mod collect;
mod dashboard;
mod execute;
mod faults;
mod inject;
mod once;
mod probe;
mod services;
mod signals;
mod targets;
mod verdict;

use targets::Targets;

pub use faults::{FaultReport, Window};
pub use inject::Event as FaultEvent;
use verdict::Facts;
pub use verdict::{Abort, TeardownFailure, Verdict};

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
    /// The watched files' fingerprint from before the caller built them, so
    /// that a save during that build is a change; else it is taken when the
    /// run reads the components.
    pub watch_since: Option<u64>,
    /// `--dashboard[=ADDR]`: the live page.
    pub dashboard: Option<crate::output::dashboard::DashboardOptions>,
    /// `--control`: also take control requests over TCP, with a token.
    pub control: Option<crate::control::TcpOptions>,
    /// Whether the scenario was built here from the user's own sources:
    /// then its `handleSummary` may write files (see `output::handled`).
    pub own_sources: bool,
}

/// What a finished run returns.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub exit: ExitCode,
    /// Why the exit code is not 0, in one line.
    pub problem: Option<String>,
}

/// Runs `plan` to the end: targets and clients, setup, execute, drain,
/// teardown, report. Each phase is a function of its own module; this
/// driver only passes their results along.
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
    // Signals next, so setup and teardown can be interrupted too.
    let stop = Stop::default();
    let abort_reason: Arc<Mutex<Option<Abort>>> = Arc::default();
    let interrupt = tokio_util::sync::CancellationToken::new();
    let _signals = signals::watch(stop.clone(), interrupt.clone(), abort_reason.clone());
    let page = dashboard::start(
        opts.dashboard.as_ref(),
        &plan.thresholds,
        &stop,
        &abort_reason,
        &mut outputs,
    )
    .await?;

    // Targets first: their URLs become parameters and allowed hosts.
    let targets = Targets::start(&plan, opts.progress).await?;
    let mut params = targets.params.clone();
    params.extend(plan.params.clone());
    let metrics = Metrics::new();
    // Random per run unless the plan or --seed fixes it.
    let seed = plan.seed.unwrap_or_else(rand::random);
    let clients = clients::make(&plan, &targets, &metrics, seed)?;
    let shared = &clients.shared;
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        max_vus: plan.max_vus(),
        memory_limit: plan.memory_limit,
        pooling: !opts.no_pooling,
        cache: true,
    })?);
    // What `--watch` follows, as it is now: a change from here on is swapped to.
    let watched = match &opts.watch {
        Some(w) => Some((
            w.clone(),
            match opts.watch_since {
                Some(since) => since,
                None => crate::swap::fingerprint(w).await,
            },
        )),
        None => None,
    };
    let (components, scenario_components) = load_components(&plan, &runtime)?;

    let setup_data = once::setup(&components, shared, &params, &plan, &interrupt).await?;
    let live = Arc::new(Live::default());
    let prepared = execute::prepare(
        &plan,
        &scenario_components,
        &components,
        &setup_data,
        &params,
        shared,
        &live,
        opts.progress,
    )
    .await?;
    let watches = start_tracking(
        &clients.tracks,
        &clients.allow,
        &metrics,
        shared.start,
        opts.progress,
    )
    .await?;

    let started = Instant::now();
    let scenario_reports = scenario_reports(&plan);
    outputs.start(&RunInfo {
        scenarios: scenario_reports.clone(),
        goals: plan.scenarios.iter().map(execute::goal).collect(),
        seed,
    })?;
    let services = services::start(services::Inputs {
        plan: &plan,
        opts,
        targets: &targets,
        clients: &clients,
        metrics: &metrics,
        params: &params,
        runtime: &runtime,
        prepared: &prepared,
        live: &live,
        stop: &stop,
        abort: &abort_reason,
        watches,
        outputs,
        started,
        watched,
    })
    .await?;
    if let Some(page) = &page {
        page.attach(services.control());
    }

    let deployments: Vec<_> = prepared
        .iter()
        .map(|p| p.factory.deployment.clone())
        .collect();
    let executed = execute::execute(prepared, &stop, started).await;
    let mut drained = services
        .drain(&clients, &metrics, &stop, opts.progress)
        .await;
    let elapsed = started.elapsed();
    // From here on, what a hot swap committed is what the scenario is:
    // teardown and handleSummary are the new version's.
    let (components, setup_data) = ended_on(&deployments);

    let teardown_failed =
        once::teardown(&components, &setup_data, shared, &params, &plan, &interrupt).await;
    // Fan-out events still open now lost their missing receivers.
    drained.collector.last(started.elapsed());
    targets.shutdown(opts.progress).await;

    // Report: final thresholds, outputs, the verdict.
    let aggregate = metrics.total();
    let time = crate::output::ActiveTime::new(&executed.active, elapsed);
    let results = final_thresholds(&plan, &metrics, &aggregate, time);
    let aborted = abort_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if executed.interrupted > 0 && opts.progress {
        crate::output::log(
            "WARN",
            format_args!(
                "WARN  {} iterations were interrupted at the end of their graceful stop",
                executed.interrupted
            ),
        );
    }
    let mut report = Report {
        aggregate,
        elapsed,
        thresholds: results,
        scenarios: scenario_reports,
        active: executed.active,
        aborted: aborted.as_ref().map(Abort::to_string),
        seed,
        swaps: drained.swaps,
        faults: drained.collector.fault_report.take(),
        handled_summary: None,
    };
    // k6's `handleSummary`, unless the summary is off (as `--no-summary`
    // turns it off in k6).
    if opts.summary {
        report.handled_summary = handle_summary(
            &components,
            shared,
            &params,
            &plan,
            &report,
            opts.own_sources,
            &interrupt,
        )
        .await;
    }
    drained.collector.outputs.finish(&report)?;
    if let Some(page) = page {
        // Open pages get the final `stop` event before the process exits.
        page.close(Duration::from_secs(2)).await;
    }

    let verdict = verdict::verdict(&Facts {
        source: &plan.source,
        dropped_scenarios: &plan.dropped_scenarios,
        thresholds: &report.thresholds,
        aggregate: &report.aggregate,
        scenario_errors: &executed.problems,
        teardown: teardown_failed.as_ref(),
        tracking: drained.track_failed.as_deref(),
        aborted: aborted.as_ref(),
    });
    Ok(Outcome {
        report,
        exit: verdict.exit,
        problem: verdict.problem,
    })
}

/// Runs the scenarios' `handleSummary` and does what it asks (files,
/// stderr); what it gives for stdout, printed in place of the summary.
/// What fails is logged and the engine's summary printed: nothing is lost.
async fn handle_summary(
    components: &BTreeMap<ComponentId, Component>,
    shared: &Arc<crate::host::Shared>,
    params: &BTreeMap<String, String>,
    plan: &Plan,
    report: &Report,
    own_sources: bool,
    interrupt: &tokio_util::sync::CancellationToken,
) -> Option<Vec<u8>> {
    use std::io::IsTerminal;
    let data = crate::output::handled::data(
        report,
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    );
    let (outputs, mut errors) =
        once::handle_summary(components, shared, params, plan, &data, interrupt).await;
    let stdout = outputs.map(|outputs| {
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let trust = if own_sources {
            crate::output::handled::Trust::OwnSources
        } else {
            crate::output::handled::Trust::Prebuilt
        };
        let (stdout, failed) = crate::output::handled::apply(outputs, &here, trust);
        errors.extend(failed);
        stdout
    });
    for e in errors {
        crate::output::log("ERROR", format_args!("ERROR {e}"));
    }
    stdout
}

/// The components the scenarios ended on (a committed hot swap replaced
/// the one they started with), each with the setup data its VUs were given
/// (setup ran once, on the first version). A component two scenarios ended
/// on keeps the first one's.
fn ended_on(
    deployments: &[Arc<crate::swap::Deployment>],
) -> (BTreeMap<ComponentId, Component>, once::SetupData) {
    let mut components = BTreeMap::new();
    let mut setup_data = once::SetupData::new();
    for d in deployments {
        let v = d.stable();
        components
            .entry(v.id())
            .or_insert_with(|| v.component.clone());
        setup_data
            .entry(v.id())
            .or_insert_with(|| v.setup_data.clone());
    }
    (components, setup_data)
}

/// Loads each scenario's component once, keyed by what it is (its digest),
/// not where its file is; returns the components and each scenario's.
fn load_components(
    plan: &Plan,
    runtime: &Runtime,
) -> Result<(BTreeMap<ComponentId, Component>, Vec<ComponentId>), Error> {
    let mut components: BTreeMap<ComponentId, Component> = BTreeMap::new();
    let mut per_scenario = Vec::new();
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
        per_scenario.push(id);
    }
    Ok((components, per_scenario))
}

fn scenario_reports(plan: &Plan) -> Vec<ScenarioReport> {
    plan.scenarios
        .iter()
        .map(|s| ScenarioReport {
            name: s.name.clone(),
            executor: s.executor.name().into(),
            component: s.component.display().to_string(),
            max_vus: s.executor.max_vus(),
        })
        .collect()
}

/// Final evaluation, with custom metrics' kinds now known.
fn final_thresholds(
    plan: &Plan,
    metrics: &Metrics,
    aggregate: &crate::metrics::Aggregate,
    time: crate::output::ActiveTime<'_>,
) -> Vec<ThresholdResult> {
    plan.thresholds
        .evaluate_over(
            aggregate,
            |sel| time.of_selector(aggregate, sel),
            |n| metrics.kind_of(n),
        )
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
