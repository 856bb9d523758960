//! One load test from a validated [`Plan`] to a [`Report`]: start targets,
//! load components, run setup, drive every scenario, collect metrics once a
//! second, evaluate thresholds, run teardown.
//!
//! Nothing collected is lost on the way out: a failing scenario, an aborting
//! threshold or Ctrl-C still ends in a final merge, teardown and report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::embedded;
use crate::host::{DataSets, ScenarioInfo, Shared, VuState};
use crate::metrics::{Builtin, Kind, Marks, Metrics, Tags, ThresholdResult, mark};
use crate::output::{self, Report, ScenarioReport};
use crate::plan::{Plan, TargetKind};
use crate::protocol::kafka::track::Trackers;
use crate::protocol::kafka::watch::{finish_tracking, kafka_config, watch_goals, watch_lag};
use crate::protocol::kafka::{KafkaClient, Target as KafkaTarget};
use crate::protocol::{Allowlist, http::HttpClient, ws::WsClient};
use crate::schedule::{self, Live, Stop, VuFactory};
use crate::swap::{Deployment, Version};
use crate::wasm::{CallError, Component, ComponentId, Runtime, RuntimeConfig, Vu};
use crate::{Error, ExitCode};

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
    /// Swap to each new build of these sources or this component (`--watch`).
    pub watch: Option<crate::swap::Watch>,
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
    // Signals first, so setup and teardown can be interrupted too.
    let stop = Stop::default();
    let abort_reason: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    // Cancelled by a second signal only (abortOnFail cancels `stop.now`,
    // which must not cut teardown short).
    let interrupt = tokio_util::sync::CancellationToken::new();
    let signals = watch_signals(stop.clone(), interrupt.clone(), abort_reason.clone());
    let _signals = AbortOnDrop(signals);
    // Targets first: their URLs become parameters and allowed hosts.
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    let mut allow = plan.allow_hosts.clone();
    let mut servers = Vec::new();
    let mut kafka_targets = Vec::new();
    for target in &plan.targets {
        let url = match &target.kind {
            TargetKind::Url(u) => u.clone(),
            TargetKind::Embedded(kind) => {
                let server = embedded::start(*kind, "127.0.0.1:0".parse().expect("valid address"))
                    .await
                    .map_err(|e| {
                        Error::io(format!("starting embedded target `{}`", target.name), e)
                    })?;
                let url = server.url();
                if opts.progress {
                    eprintln!("embedded target `{}` at {url}", target.name);
                }
                servers.push(server);
                url
            }
        };
        // A Kafka target's parameter is its bootstrap list; every broker
        // in it is allowed.
        if let Some(rest) = url.strip_prefix("kafka://") {
            let t = KafkaTarget::parse(rest)
                .map_err(|m| Error::Config(format!("targets.{}: {m}", target.name)))?;
            allow.extend(t.brokers.split(',').map(|s| s.trim().to_string()));
            params.insert(target.name.clone(), t.brokers.clone());
            kafka_targets.push((target.name.clone(), t));
        } else {
            if let Some(host) = host_of(&url) {
                allow.push(host);
            }
            params.insert(target.name.clone(), url);
        }
    }
    params.extend(plan.params.clone());
    let allowlist = Allowlist::parse(&allow).map_err(Error::Config)?;
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
        });
        let n = schedule::initial_vus(&s.executor);
        if opts.progress {
            eprintln!(
                "scenario `{}`: {} ({} VUs to start)",
                s.name,
                s.executor.name(),
                n
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
            eprintln!("tracking {}", watch.tracker().name());
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
        crate::swap::Policy {
            drain: plan.iteration_timeout,
            ..Default::default()
        },
        shared.start,
    ));
    // Live control: `volley ps`, `stop`, `swap`, `rollback`.
    let _control = match crate::control::serve(crate::control::Context {
        plan: plan.source.display().to_string(),
        live: live.clone(),
        stop: stop.clone(),
        abort_reason: abort_reason.clone(),
        swapper: swapper.clone(),
        started,
    }) {
        Ok(endpoint) => Some(endpoint),
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

    // Once a second: merge recorders, report progress, watch thresholds.
    let collector = {
        let metrics = metrics.clone();
        let live = live.clone();
        let shared = shared.clone();
        let stop = stop.clone();
        let thresholds = plan.thresholds.clone();
        let mark_timeout = plan.mark_timeout;
        let abort_reason = abort_reason.clone();
        let progress = opts.progress;
        let checkpoint = opts.summary_export.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                record_vus(&metrics, &live);
                let snap = metrics.collect();
                for m in &snap.overflowed {
                    crate::output::log(
                        "WARN",
                        format_args!(
                            "WARN  metric `{m}` has more than {} tag sets (a tag with a new value every time?): samples with new tag sets are counted under {{overflow:true}}",
                            crate::metrics::MAX_SERIES
                        ),
                    );
                }
                mark::record_incomplete(&metrics, &shared.marks.expire(mark_timeout));
                if progress {
                    let line = metrics.with_total(|total| {
                        output::render_progress(
                            started.elapsed(),
                            &snap.interval,
                            total,
                            live.active.load(Ordering::Relaxed),
                        )
                    });
                    eprintln!("{line}");
                    for t in shared.tracks.all() {
                        eprintln!("  {}", t.progress());
                    }
                }
                let elapsed = started.elapsed();
                if let Some(path) = &checkpoint {
                    // Built under the lock, written outside it.
                    let mut export =
                        metrics.with_total(|total| output::build_export(total, elapsed, &[], None));
                    export.state.seed = Some(seed);
                    if let Err(e) = output::write_checkpoint(export, path) {
                        eprintln!("checkpoint: {e}");
                    }
                }
                let failed = metrics.with_total(|total| {
                    thresholds
                        .evaluate(total, elapsed, |n| metrics.kind_of(n))
                        .into_iter()
                        .find(|r| {
                            r.metric_found
                                && !r.no_data
                                && !r.ok
                                && r.threshold.abort_on_fail
                                && elapsed >= r.threshold.delay_abort_eval
                        })
                });
                if let Some(r) = failed {
                    let why = format!("threshold `{}` failed (abortOnFail)", r.threshold);
                    eprintln!("aborting: {why}");
                    abort_reason
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(why);
                    stop.graceful.cancel();
                    stop.now.cancel();
                }
            }
        })
    };

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
    collector.abort();
    lag_watch.abort();
    let elapsed = started.elapsed();
    record_vus(&metrics, &live);

    // teardown, once per component, with its setup data.
    // (what failed, whether it was the timeout)
    let mut teardown_failed: Option<(String, bool)> = None;
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
            teardown_failed
                .get_or_insert((format!("{}: `teardown` {e}", path.display()), timed_out));
        }
    }
    // Fan-out events still open now lost their missing receivers.
    mark::record_incomplete(&metrics, &shared.marks.finish());
    metrics.collect();
    for s in servers {
        if let Some(line) = s.report().filter(|_| opts.progress) {
            eprintln!("{line}");
        }
        s.shutdown().await;
    }

    let aggregate = metrics.total();
    let results = final_thresholds(&plan, &metrics, &aggregate, elapsed);
    let aborted = abort_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if interrupted > 0 && opts.progress {
        eprintln!("{interrupted} iterations were interrupted at the end of their graceful stop");
    }
    let report = Report {
        aggregate,
        elapsed,
        thresholds: results,
        scenarios: plan
            .scenarios
            .iter()
            .map(|s| ScenarioReport {
                name: s.name.clone(),
                executor: s.executor.name().into(),
                component: s.component.display().to_string(),
                max_vus: s.executor.max_vus(),
            })
            .collect(),
        aborted: aborted.clone(),
        seed,
        swaps: swapper.events(),
    };
    if opts.summary {
        let text = output::render_summary(&report, opts.color);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
    if let Some(path) = &opts.summary_export {
        output::write_export(&report, path)?;
    }

    let missing: Vec<String> = report
        .thresholds
        .iter()
        .filter(|r| !r.metric_found)
        .map(|r| r.threshold.selector.metric.clone())
        .collect();
    let failed = report.thresholds.iter().any(|r| !r.ok);
    let http_all_failed = all_requests_failed(&plan, &report.aggregate);
    let (exit, problem) = if !missing.is_empty() {
        (
            ExitCode::InvalidConfig,
            Some(format!(
                "{}: thresholds on metrics that do not exist: {} (not built in, and the scenario never recorded them{})",
                plan.source.display(),
                missing.join(", "),
                if plan.dropped_scenarios.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; --scenario left out {}, which may record them",
                        plan.dropped_scenarios.join(", ")
                    )
                }
            )),
        )
    } else if let Some(p) = problems.first() {
        (ExitCode::ScriptException, Some(p.clone()))
    } else if let Some((t, timed_out)) = teardown_failed {
        let code = if timed_out {
            ExitCode::TeardownTimeout
        } else {
            ExitCode::ScriptException
        };
        (code, Some(t))
    } else if let Some(t) = track_failed {
        (ExitCode::ThresholdsFailed, Some(t))
    } else if failed {
        let what = if aborted
            .as_deref()
            .is_some_and(|a| a.contains("abortOnFail"))
        {
            "thresholds failed; the run was aborted"
        } else {
            "some thresholds failed"
        };
        let empty: Vec<String> = report
            .thresholds
            .iter()
            .filter(|r| r.no_data && !r.ok)
            .map(|r| r.threshold.to_string())
            .collect();
        let what = if empty.is_empty() {
            what.to_string()
        } else {
            format!(
                "{what}; with no data: {} (nothing was measured: see the run's errors)",
                empty.join(", ")
            )
        };
        (ExitCode::ThresholdsFailed, Some(what))
    } else if let Some(why) = http_all_failed {
        (ExitCode::ThresholdsFailed, Some(why))
    } else if aborted.is_some() {
        (ExitCode::Interrupted, aborted)
    } else {
        (ExitCode::Ok, None)
    };
    Ok(Outcome {
        report,
        exit,
        problem,
    })
}

/// SIGINT or SIGTERM (how Kubernetes, systemd and CI stop a job): the first
/// stops starting iterations and lets those in flight finish; the second
/// interrupts them, and setup or teardown, at once; a third exits on the spot.
fn watch_signals(
    stop: Stop,
    interrupt: tokio_util::sync::CancellationToken,
    abort_reason: Arc<std::sync::Mutex<Option<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(mut signals) = Signals::new() else {
            return;
        };
        let name = signals.next().await;
        eprintln!("\ninterrupted ({name}): finishing iterations in flight (again to stop now)");
        abort_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(format!("interrupted ({name})"));
        stop.graceful.cancel();
        let name = signals.next().await;
        eprintln!("interrupted ({name}) again: stopping now (a third time exits at once)");
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

fn record_vus(metrics: &Metrics, live: &Live) {
    let none = Tags::default();
    // The peak first, so the gauge's max sees it; the current count last wins.
    metrics.builtin(Builtin::Vus, &none, live.take_peak() as f64);
    metrics.builtin(
        Builtin::Vus,
        &none,
        live.active.load(Ordering::Relaxed) as f64,
    );
    metrics.builtin(
        Builtin::VusMax,
        &none,
        live.allocated.load(Ordering::Relaxed) as f64,
    );
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

/// A run whose every HTTP request failed is a failed run, thresholds or
/// not; a plan with its own threshold on `http_req_failed` decides itself.
fn all_requests_failed(plan: &Plan, agg: &crate::metrics::Aggregate) -> Option<String> {
    if plan
        .thresholds
        .list
        .iter()
        .any(|t| t.selector.metric == Builtin::HttpReqFailed.name())
    {
        return None;
    }
    let series = agg.metrics.get(Builtin::HttpReqFailed.name())?;
    let crate::metrics::Value::Rate { trues, total } = series.total() else {
        return None;
    };
    if total == 0 || trues < total {
        return None;
    }
    let mut why: Vec<String> = agg
        .by_tag(Builtin::HttpReqFailed.name(), "error")
        .into_keys()
        .collect();
    why.extend(
        agg.by_tag(Builtin::HttpReqFailed.name(), "status")
            .into_keys()
            .map(|s| format!("status {s}")),
    );
    Some(format!(
        "every HTTP request failed ({total} of {total}: {}); add a threshold on http_req_failed if failures are expected",
        why.join(", ")
    ))
}

/// `host:port` of a URL, for the allowlist.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_urls() {
        assert_eq!(
            host_of("http://127.0.0.1:8080/x?y").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host_of("https://u:p@api.example.com").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(host_of("nope"), None);
    }
}
