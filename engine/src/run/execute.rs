//! The execute phase: every scenario's VUs instantiated before the clock
//! starts, then each scenario driven by its executor from its start time
//! until it ends or the run is stopped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::once::SetupData;
use crate::Error;
use crate::host::{ScenarioInfo, Shared};
use crate::metrics::Tags;
use crate::output::{Goal, Span};
use crate::plan::{Plan, Scenario};
use crate::schedule::{self, Live, Stop, VuFactory};
use crate::swap::{Deployment, Version};
use crate::wasm::{Component, ComponentId, Vu};

/// A scenario ready to start: its VU factory (and deployment, which a swap
/// changes) and the VUs it starts with.
pub struct Prepared {
    pub scenario: Scenario,
    pub factory: Arc<VuFactory>,
    vus: Vec<Vu>,
}

/// What the scenarios left behind.
#[derive(Debug, Default)]
pub struct Executed {
    /// One line per scenario that ended in an error.
    pub problems: Vec<String>,
    /// Iterations cut off at the end of their graceful stop.
    pub interrupted: u64,
    /// When each scenario that started was running, from `started`.
    pub active: crate::output::Spans,
}

/// Instantiates every VU each scenario starts with.
#[allow(clippy::too_many_arguments)] // reason: each is a distinct input of the phase
pub async fn prepare(
    plan: &Plan,
    scenario_components: &[ComponentId],
    components: &BTreeMap<ComponentId, Component>,
    setup_data: &SetupData,
    params: &BTreeMap<String, String>,
    shared: &Arc<Shared>,
    live: &Arc<Live>,
    progress: bool,
) -> Result<Vec<Prepared>, Error> {
    let mut prepared = Vec::new();
    for (s, id) in plan.scenarios.iter().zip(scenario_components) {
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
            iterations_started: Default::default(),
        });
        let n = schedule::initial_vus(&s.executor);
        if progress {
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
        let vus = factory.make_many(n).await.map_err(|e| Error::Init {
            scenario: s.name.clone(),
            message: e.to_string(),
        })?;
        prepared.push(Prepared {
            scenario: s.clone(),
            factory,
            vus,
        });
    }
    Ok(prepared)
}

/// Starts every scenario at its start time and waits for all of them.
pub async fn execute(prepared: Vec<Prepared>, stop: &Stop, started: Instant) -> Executed {
    let mut tasks = Vec::new();
    for Prepared {
        scenario,
        factory,
        vus,
    } in prepared
    {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(scenario.start_time) => {}
                _ = stop.graceful.cancelled() => return (scenario.name, schedule::Outcome::default(), None),
            }
            let start_s = started.elapsed().as_secs_f64();
            let out = schedule::run_scenario(&scenario, factory, vus, stop).await;
            let span = Span {
                start_s,
                end_s: started.elapsed().as_secs_f64(),
            };
            (scenario.name, out, Some(span))
        }));
    }
    let mut done = Executed::default();
    for t in tasks {
        match t.await {
            Ok((name, out, span)) => {
                done.interrupted += out.interrupted;
                if let Some(span) = span {
                    done.active.insert(name.clone(), span);
                }
                if let Some(e) = out.error {
                    done.problems.push(format!("scenario `{name}`: {e}"));
                }
            }
            Err(e) => done.problems.push(format!("a scenario task failed: {e}")),
        }
    }
    done
}

/// Where a scenario ends, as its progress bar measures it.
pub fn goal(s: &Scenario) -> Goal {
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
