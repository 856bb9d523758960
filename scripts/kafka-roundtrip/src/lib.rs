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
//! Entry `raw`: `batch` (1) fixed `bytes`-byte (100) messages without key
//! per iteration to `topic` (`bench`), in one `send-batch` call of records
//! made once when `batch` is above 1: the produce-throughput benchmark
//! against kcat (`bench/kafka-compare.sh`).
//!
//! Run: `volley run scripts/kafka-roundtrip` (plans: default, million).

use std::cell::RefCell;

use volley_sdk::prelude::*;

thread_local! {
    static PRODUCER: RefCell<Option<kafka::Producer>> = const { RefCell::new(None) };
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static BATCH: RefCell<kafka::Records> = RefCell::new(kafka::Records::new());
    static RAW: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// The VU's producer (the run's shared one), opened on first use.
fn with_producer<R>(f: impl FnOnce(&kafka::Producer) -> Result<R, String>) -> Result<R, String> {
    PRODUCER.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(config()?.producer().map_err(|e| e.to_string())?);
        }
        f(slot.as_ref().expect("opened above"))
    })
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
            "raw" => raw(),
            other => Err(format!("unknown entry `{other}`: use produce or raw")),
        }
    }
}

fn produce() -> Result<(), String> {
    let topic = param_or("input", "orders.raw");
    with_producer(|producer| {
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

/// `raw`'s topic and batch size, read from the params once per VU.
fn raw_settings() -> Result<(String, u32), String> {
    RAW.with_borrow_mut(|settings| {
        if settings.is_none() {
            let batch = param_or("batch", "1")
                .parse()
                .map_err(|_| "param `batch`: not a number")?;
            *settings = Some((param_or("topic", "bench"), batch));
        }
        Ok(settings.clone().expect("read above"))
    })
}

fn raw() -> Result<(), String> {
    let (topic, batch) = raw_settings()?;
    PAYLOAD.with_borrow_mut(|payload| {
        if payload.is_empty() {
            let n: usize = param_or("bytes", "100")
                .parse()
                .map_err(|_| "param `bytes`: not a number")?;
            *payload = vec![b'x'; n.max(1)];
        }
        with_producer(|producer| {
            if batch <= 1 {
                return producer
                    .send(kafka::Record::new(&topic, payload.clone()))
                    .map_err(|e| format!("produce to {topic}: {e}"));
            }
            // One host call for the whole batch (`send-batch`), of records
            // made once: every batch is alike.
            BATCH.with_borrow_mut(|records| {
                if records.len() != batch as usize {
                    *records = (0..batch)
                        .map(|_| kafka::Record::new(&topic, payload.clone()))
                        .collect();
                }
                producer
                    .send_records(records)
                    .map_err(|e| format!("produce to {topic}: {e}"))
            })
        })
    })
}

volley_sdk::export_scenario!(Roundtrip);
