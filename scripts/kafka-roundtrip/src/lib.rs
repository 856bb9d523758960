//! kafka-roundtrip: order messages through a Kafka pipeline, end to end.
//! The target `kafka` (the embedded mock cluster and its enricher by
//! default) gives the bootstrap servers.
//!
//! Entry `produce` (the default): one order per iteration to `input`
//! (`orders.raw`), keyed by its id, through the producer every VU shares
//! (librdkafka batches across them). The plan's `[[track]]` does the rest:
//! the engine stamps each order with a `volley-id` header, reads
//! `orders.enriched` with a consumer of its own and records
//! `kafka_e2e_latency`, `kafka_tracked_seen`, `kafka_tracked_lost` and
//! `kafka_tracked_duplicates`.
//!
//! Run: `volley run scripts/kafka-roundtrip` (plans: default, million).

use std::cell::RefCell;

use volley_sdk::prelude::*;

thread_local! {
    static PRODUCER: RefCell<Option<kafka::Producer>> = const { RefCell::new(None) };
}

fn param_or(name: &str, default: &str) -> String {
    vu::param(name).unwrap_or_else(|| default.to_string())
}

fn config() -> Result<kafka::Config, String> {
    let bootstrap = vu::param("kafka").ok_or("param `kafka` is missing: add it to [targets]")?;
    Ok(kafka::Config::new(&bootstrap))
}

struct Roundtrip;

impl Scenario for Roundtrip {
    fn run(entry: &str) -> Result<(), String> {
        match entry {
            "produce" | "default" => produce(),
            other => Err(format!("unknown entry `{other}`: use produce")),
        }
    }
}

fn produce() -> Result<(), String> {
    let topic = param_or("input", "orders.raw");
    PRODUCER.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(config()?.producer().map_err(|e| e.to_string())?);
        }
        let producer = slot.as_ref().expect("opened above");
        let id = format!("{}-{}", vu::id(), vu::iteration());
        let order = serde_json::json!({
            "order_id": id,
            "customer": vu::random_range(1..=100_000),
            "amount_cents": vu::random_range(100..=50_000),
        });
        producer
            .send(
                kafka::Record::new(&topic, serde_json::to_vec(&order).unwrap_or_default())
                    .key(id.as_bytes()),
            )
            .map_err(|e| format!("produce to {topic}: {e}"))
    })
}

volley_sdk::export_scenario!(Roundtrip);
