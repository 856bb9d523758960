//! `--dashboard`: starts the live page's server before the load, adds its
//! output to the run's, and wires its stop button to the run's graceful
//! stop (the path `volley stop` takes).

use std::sync::{Arc, Mutex};

use super::Abort;
use crate::Error;
use crate::metrics::Thresholds;
use crate::output::Outputs;
use crate::output::dashboard::{Dashboard, DashboardOptions, Hub, Server, serve};
use crate::schedule::Stop;

/// Serves the dashboard if asked for; the server stops when dropped.
pub(super) async fn start(
    opts: Option<&DashboardOptions>,
    thresholds: &Thresholds,
    stop: &Stop,
    abort_reason: &Arc<Mutex<Option<Abort>>>,
    outputs: &mut Outputs,
) -> Result<Option<Server>, Error> {
    let Some(opts) = opts else {
        return Ok(None);
    };
    let hub = Hub::new();
    let (stop, why) = (stop.clone(), abort_reason.clone());
    let on_stop = Arc::new(move || {
        why.lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(Abort::Stopped("stopped from the dashboard".into()));
        crate::output::log(
            "INFO",
            format_args!("stopped from the dashboard: finishing iterations in flight"),
        );
        stop.graceful.cancel();
    });
    let server = serve(opts, hub.clone(), on_stop).await?;
    outputs.push(Box::new(Dashboard::new(hub, thresholds.clone())));
    // Said even with --quiet: it is how to find the page.
    crate::output::log("INFO", format_args!("dashboard at {}", server.url()));
    Ok(Some(server))
}
