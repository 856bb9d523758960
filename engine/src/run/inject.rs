//! Fault injection: each `[[fault]]` of the plan at its time, undone after
//! its `for`, every step recorded as an [`Event`] on the run's clock (the
//! clock the timeline and fault windows use).
//!
//! Embedded targets are faulted through their [`Controls`]; commands run
//! as argv (no shell), each with [`COMMAND_TIMEOUT`], killed past it. When
//! the run stops early, faults in effect are undone at once and faults not
//! yet due never start: a run never leaves a fault behind it can undo.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::embedded::fault::Controls;
use crate::plan::{Fault, FaultAction};

/// The longest a fault's command or undo may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of a failed command's stderr kept in its error.
const STDERR_KEPT: usize = 300;

/// One injected fault on the run's clock (seconds from the start).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Its `[[fault]]` entry, from 1.
    pub fault: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub action: String,
    /// When it took effect.
    pub at: f64,
    /// When it was undone (a command without undo: when it finished).
    pub ended: Option<f64>,
    /// It could not be injected (the command failed): no fault happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its undo failed: the fault may still be in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo_error: Option<String>,
}

/// The injected faults so far.
#[derive(Debug, Default)]
pub struct Injections(Mutex<Vec<Event>>);

impl Injections {
    pub fn push(&self, e: Event) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(e);
    }

    fn update(&self, fault: usize, f: impl FnOnce(&mut Event)) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = list.iter_mut().rev().find(|e| e.fault == fault) {
            f(e);
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The running injections.
pub struct Injector {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Injector {
    /// Schedules every fault from `started`.
    pub fn start(
        faults: &[Fault],
        controls: &BTreeMap<String, Arc<Controls>>,
        started: Instant,
        log: Arc<Injections>,
        progress: bool,
    ) -> Injector {
        let stop = CancellationToken::new();
        let tasks = faults
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let job = Job {
                    number: i + 1,
                    fault: f.clone(),
                    controls: f.target.as_ref().and_then(|t| controls.get(t)).cloned(),
                    started,
                    log: log.clone(),
                    progress,
                };
                tokio::spawn(job.run(stop.clone()))
            })
            .collect();
        Injector { stop, tasks }
    }

    /// Undoes what is in effect, cancels what is not due, and waits (each
    /// undo command is bounded by [`COMMAND_TIMEOUT`]).
    pub async fn finish(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

struct Job {
    number: usize,
    fault: Fault,
    controls: Option<Arc<Controls>>,
    started: Instant,
    log: Arc<Injections>,
    progress: bool,
}

impl Job {
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    async fn run(self, stop: CancellationToken) {
        tokio::select! {
            () = tokio::time::sleep_until((self.started + self.fault.at).into()) => {}
            () = stop.cancelled() => return,
        }
        let what = self.fault.action.describe();
        let on = self
            .fault
            .target
            .as_deref()
            .map_or(String::new(), |t| format!(" on `{t}`"));
        let error = self.apply(true).await.err();
        let at = self.now();
        if self.progress {
            let how = error
                .as_deref()
                .map_or(String::new(), |e| format!(": failed: {e}"));
            crate::output::log(
                "INFO",
                format_args!("fault #{} {what}{on} at {at:.1}s{how}", self.number),
            );
        }
        let failed = error.is_some();
        let one_shot = matches!(self.fault.action, FaultAction::Command { undo: None, .. });
        self.log.push(Event {
            fault: self.number,
            target: self.fault.target.clone(),
            action: what.clone(),
            at,
            ended: one_shot.then_some(at),
            error,
            undo_error: None,
        });
        if failed || one_shot {
            return;
        }
        if let Some(length) = self.fault.length {
            tokio::select! {
                () = tokio::time::sleep(length) => {}
                () = stop.cancelled() => {}
            }
        }
        let undo_error = self.apply(false).await.err();
        let ended = self.now();
        if self.progress || undo_error.is_some() {
            let how = undo_error
                .as_deref()
                .map_or(String::new(), |e| format!(": undo failed: {e}"));
            let level = if undo_error.is_some() { "WARN" } else { "INFO" };
            crate::output::log(
                level,
                format_args!(
                    "fault #{} {what}{on} ended at {ended:.1}s{how}",
                    self.number
                ),
            );
        }
        self.log.update(self.number, |e| {
            e.ended = Some(ended);
            e.undo_error = undo_error;
        });
    }

    /// Turns the fault on (`on`) or undoes it.
    async fn apply(&self, on: bool) -> Result<(), String> {
        let c = self.controls.as_deref();
        match (&self.fault.action, c) {
            (FaultAction::Command { run, undo }, _) => match (on, undo) {
                (true, _) => command(run).await,
                (false, Some(undo)) => command(undo).await,
                (false, None) => Ok(()),
            },
            (FaultAction::Stop, Some(c)) => {
                c.set_down(on);
                Ok(())
            }
            (FaultAction::Pause, Some(c)) => {
                c.set_paused(on);
                Ok(())
            }
            (FaultAction::Delay(d), Some(c)) => {
                c.set_delay(if on { *d } else { Duration::ZERO });
                Ok(())
            }
            (FaultAction::ErrorRate(r), Some(c)) => {
                c.set_error_rate(if on { *r } else { 0.0 });
                Ok(())
            }
            (_, None) => Err(
                "the target has no fault controls (embedded:http and embedded:auction have them)"
                    .into(),
            ),
        }
    }
}

/// Runs `argv` (no shell) to its end or [`COMMAND_TIMEOUT`].
async fn command(argv: &[String]) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("an empty command")?;
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("`{program}`: {e}"))?;
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("`{program}` ran past {COMMAND_TIMEOUT:?} and was killed"))?
        .map_err(|e| format!("`{program}`: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr: String = stderr.trim().chars().take(STDERR_KEPT).collect();
    Err(format!(
        "`{}` exited with {}: {stderr}",
        argv.join(" "),
        out.status
    ))
}
