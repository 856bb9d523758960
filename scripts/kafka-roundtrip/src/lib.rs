//! kafka-roundtrip: order messages through a Kafka pipeline, end to end.
//! The target `kafka` (the embedded mock cluster and its enricher by
//! default) gives the bootstrap servers.
//!
//! Entries (the plan scenario's `exec`):
//! - `produce`: one order per iteration to `input` (`orders.raw`), carrying
//!   a `volley-id` header; the event is marked (`kafka_e2e_latency`) just
//!   before it is enqueued. The producer is shared by every VU and batches.
//! - `track`: polls `output` (`orders.enriched`, partitions 0..`partitions`,
//!   from the earliest offset, no group) in batches and reports each
//!   `volley-id` it sees as the arrival of its mark. The engine records
//!   `kafka_e2e_latency` per message and counts `kafka_e2e_lost` for marks
//!   still open when the run ends (or after `markTimeout`);
//!   `kafka_e2e_unmatched` counts messages whose id was not open (duplicates,
//!   or another run's messages).
//!
//! Run: `volley run scripts/kafka-roundtrip` (plans: default, million).

use std::cell::RefCell;
use std::time::Duration;

use volley_sdk::prelude::*;

thread_local! {
    static PRODUCER: RefCell<Option<kafka::Producer>> = const { RefCell::new(None) };
    static CONSUMER: RefCell<Option<kafka::Consumer>> = const { RefCell::new(None) };
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
            "track" => track(),
            other => Err(format!("unknown entry `{other}`: use produce or track")),
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
        mark("kafka_e2e_latency", &id, 1);
        producer
            .send(
                kafka::Record::new(&topic, serde_json::to_vec(&order).unwrap_or_default())
                    .key(id.as_bytes())
                    .header("volley-id", id.as_bytes()),
            )
            .map_err(|e| format!("produce to {topic}: {e}"))
    })
}

fn track() -> Result<(), String> {
    let topic = param_or("output", "orders.enriched");
    let partitions: i32 = param_or("partitions", "32")
        .parse()
        .map_err(|_| "param `partitions`: not a number")?;
    CONSUMER.with_borrow_mut(|slot| {
        if slot.is_none() {
            let all: Vec<i32> = (0..partitions).collect();
            *slot = Some(
                config()?
                    .assign(&topic, &all, kafka::Position::Earliest)
                    .map_err(|e| e.to_string())?,
            );
        }
        let consumer = slot.as_ref().expect("opened above");
        let batch = consumer
            .poll(1000, Duration::from_millis(200))
            .map_err(|e| format!("poll {topic}: {e}"))?;
        let unmatched = Counter::new("kafka_e2e_unmatched");
        for m in batch {
            let id = m
                .headers
                .iter()
                .find(|h| h.key == "volley-id")
                .map(|h| String::from_utf8_lossy(&h.value).into_owned());
            match id {
                Some(id) if arrive(&id).is_some() => {}
                _ => unmatched.add(1.0),
            }
        }
        Ok(())
    })
}

volley_sdk::export_scenario!(Roundtrip);
