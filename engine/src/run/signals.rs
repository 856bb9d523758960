//! Stopping a run from outside: SIGINT and SIGTERM (how Kubernetes,
//! systemd and CI stop a job) behave alike. The first stops starting
//! iterations and lets those in flight finish; the second interrupts them,
//! and setup or teardown, at once; a third exits on the spot.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::Abort;
use crate::ExitCode;
use crate::schedule::Stop;

/// Watches for signals until the run ends (the handle aborts the task when
/// dropped). `interrupt` is cancelled by a second signal only: abortOnFail
/// cancels `stop.now`, which must not cut teardown short.
pub fn watch(stop: Stop, interrupt: CancellationToken, abort: Arc<Mutex<Option<Abort>>>) -> Guard {
    Guard(tokio::spawn(async move {
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
        abort
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
    }))
}

/// Aborts the signal watcher when the run ends, however it ends.
pub struct Guard(tokio::task::JoinHandle<()>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
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
