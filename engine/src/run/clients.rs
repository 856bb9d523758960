//! The clients phase: the protocol clients every VU of the run shares
//! (HTTP, WebSocket, Kafka, end-to-end trackers), each made with the run's
//! allowlist, and the [`Shared`] state that carries them into the VUs.

use std::sync::Arc;

use super::targets::Targets;
use crate::Error;
use crate::host::{DataSets, Shared};
use crate::metrics::{Marks, Metrics};
use crate::plan::Plan;
use crate::protocol::kafka::KafkaClient;
use crate::protocol::kafka::track::Trackers;
use crate::protocol::kafka::watch::kafka_config;
use crate::protocol::{Allowlist, http::HttpClient, ws::WsClient};

/// Open correlation marks scenarios may hold at once (a few hundred bytes
/// each with its key; 1,000,000 reached ~400 MiB): far more than a real
/// fan-out has in flight, far less than would hurt the engine.
const GUEST_MARKS: usize = 100_000;

/// The run's clients.
pub struct Clients {
    pub shared: Arc<Shared>,
    pub tracks: Arc<Trackers>,
    /// For the engine's own Kafka readers (lag, tracking).
    pub allow: Allowlist,
}

/// Makes every client; `seed` drives the VUs' random generators.
pub fn make(
    plan: &Plan,
    targets: &Targets,
    metrics: &Metrics,
    seed: u64,
) -> Result<Clients, Error> {
    let allow = Allowlist::parse(&targets.allow)?;
    let ws = WsClient::new(allow.clone(), plan.insecure_skip_tls_verify)
        .map_err(|e| Error::Other(format!("WebSocket client: {e}")))?;
    let tracks = Arc::new(
        Trackers::new(
            &plan.track,
            |name| kafka_config(&targets.kafka, name),
            plan.mark_timeout,
        )
        .map_err(|m| Error::Config(format!("{}: {m}", plan.source.display())))?,
    );
    // Every HTTP and Kafka target gets a timeline (fault windows); a
    // Kafka target is known by its bootstrap list.
    let kafka_urls: Vec<(&str, String)> = targets
        .kafka
        .iter()
        .map(|(n, t)| (n.as_str(), format!("kafka://{}", t.brokers)))
        .collect();
    let timeline = Arc::new(crate::metrics::Timeline::new(
        targets
            .http
            .iter()
            .map(|(n, u)| (n.as_str(), u.as_str()))
            .chain(kafka_urls.iter().map(|(n, u)| (*n, u.as_str()))),
    ));
    let kafka = KafkaClient::new(
        allow.clone(),
        crate::host::kafka_deliveries(metrics, tracks.clone(), timeline.clone()),
    )
    .with_targets(targets.kafka.iter().map(|(_, t)| t.clone()).collect());
    let http = HttpClient::new(allow.clone(), plan.insecure_skip_tls_verify)
        .map_err(|e| Error::Other(format!("HTTP client: {e}")))?
        .max_redirects(plan.max_redirects);
    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        http,
        ws,
        kafka,
        marks: Marks::with_limit(GUEST_MARKS),
        tracks: tracks.clone(),
        data: DataSets::load(&plan.data)?,
        start: metrics.start(),
        timeline,
        warned: Default::default(),
        seed,
    });
    Ok(Clients {
        shared,
        tracks,
        allow,
    })
}
