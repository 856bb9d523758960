//! The setup and teardown phases: each component's `setup` runs once before
//! the load, in a VU of its own, and its bytes go to every VU; `teardown`
//! runs once after the load with those bytes. A second signal interrupts
//! either at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::TeardownFailure;
use crate::Error;
use crate::host::{ScenarioInfo, Shared, VuState};
use crate::metrics::Tags;
use crate::plan::Plan;
use crate::wasm::{CallError, Component, ComponentId, Vu};

/// What each component's `setup` returned.
pub type SetupData = BTreeMap<ComponentId, Arc<[u8]>>;

/// Runs `setup` once per component.
pub async fn setup(
    components: &BTreeMap<ComponentId, Component>,
    shared: &Arc<Shared>,
    params: &BTreeMap<String, String>,
    plan: &Plan,
    interrupt: &CancellationToken,
) -> Result<SetupData, Error> {
    let mut out = SetupData::new();
    for (id, component) in components {
        let scenario = component.path().display().to_string();
        let mut vu = new_vu(component, shared, "setup", params, plan)
            .await
            .map_err(|message| Error::Setup {
                scenario: scenario.clone(),
                message,
            })?;
        let data = tokio::select! {
            r = vu.setup(plan.setup_timeout) => r.map_err(|e| match e {
                CallError::Timeout => Error::SetupTimeout {
                    scenario: scenario.clone(),
                    timeout: plan.setup_timeout,
                },
                e => Error::Setup {
                    scenario: scenario.clone(),
                    message: e.to_string(),
                },
            })?,
            () = interrupt.cancelled() => {
                return Err(Error::Interrupted(format!("{scenario}: `setup` interrupted")));
            }
        };
        out.insert(*id, data.into());
    }
    Ok(out)
}

/// Runs `teardown` once per component; the first failure is returned (the
/// others still run).
pub async fn teardown(
    components: &BTreeMap<ComponentId, Component>,
    setup_data: &SetupData,
    shared: &Arc<Shared>,
    params: &BTreeMap<String, String>,
    plan: &Plan,
    interrupt: &CancellationToken,
) -> Option<TeardownFailure> {
    let mut failed: Option<TeardownFailure> = None;
    for (id, component) in components {
        // (what failed, whether it was the timeout)
        let result = match new_vu(component, shared, "teardown", params, plan).await {
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
            failed.get_or_insert(TeardownFailure {
                message: format!("{}: `teardown` {e}", component.path().display()),
                timed_out,
            });
        }
    }
    failed
}

/// Runs each component's `handle-summary` (k6's `handleSummary`) with the
/// run's summary `data`, in a VU of its own: what the first that has a
/// summary of its own asks for (`None` when none has), and what failed
/// (logged by the caller; the engine's summary is printed then).
pub async fn handle_summary(
    components: &BTreeMap<ComponentId, Component>,
    shared: &Arc<Shared>,
    params: &BTreeMap<String, String>,
    plan: &Plan,
    data: &str,
    interrupt: &CancellationToken,
) -> (Option<crate::wasm::SummaryOutputs>, Vec<String>) {
    let mut errors = Vec::new();
    // Only a component that has the export gets a VU for it.
    let has_it = |c: &&Component| {
        c.info()
            .exports
            .iter()
            .any(|e| e.split(' ').next() == Some("handle-summary"))
    };
    for component in components.values().filter(has_it) {
        let name = component.path().display();
        let mut vu = match new_vu(component, shared, "handleSummary", params, plan).await {
            Ok(vu) => vu,
            Err(e) => {
                errors.push(format!("{name}: `handleSummary` {e}"));
                continue;
            }
        };
        let result = tokio::select! {
            r = vu.handle_summary(data, plan.teardown_timeout) => r,
            () = interrupt.cancelled() => Some(Err(CallError::Guest("interrupted".into()))),
        };
        match result {
            // No such export, or no summary of its own: the next component's.
            None | Some(Ok(None)) => {}
            Some(Ok(Some(outputs))) => return (Some(outputs), errors),
            Some(Err(CallError::Timeout)) => errors.push(format!(
                "{name}: `handleSummary` ran past its {:?} (raise teardownTimeout in the plan's [options])",
                plan.teardown_timeout
            )),
            Some(Err(e)) => errors.push(format!("{name}: `handleSummary` {e}")),
        }
    }
    (None, errors)
}

/// A VU of its own for `setup` or `teardown`, tagged `scenario=<phase>`.
async fn new_vu(
    component: &Component,
    shared: &Arc<Shared>,
    phase: &str,
    params: &BTreeMap<String, String>,
    plan: &Plan,
) -> Result<Vu, String> {
    let info = Arc::new(ScenarioInfo {
        name: phase.into(),
        tags: Tags::new([("scenario", phase)]),
        params: params.clone(),
    });
    let state = VuState::new(0, shared.clone(), info, plan.memory_limit as usize);
    Vu::new(component, state)
        .await
        .map_err(|(e, _)| e.to_string())
}
