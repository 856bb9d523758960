//! kafka-burst: a burst of orders, an analytics consumer group that falls
//! behind and catches up, and a replay of that group from the start.
//! The target `kafka` (the embedded mock cluster by default) gives the
//! bootstrap servers.
//!
//! Entries (the plan scenario's `exec`):
//! - `burst`: one iteration that enqueues `events` orders (10,000) to
//!   `topic` (`orders.raw`) as fast as the shared producer takes them,
//!   logging progress every `progress` (1,000), then waits for every ack.
//!   Order `i` is the same in every run, so totals are deterministic.
//! - `analytics`: a consumer in group `group` (`analytics`) that reads
//!   batches of `batch` (100) orders, adds them to `analytics_orders` and
//!   `analytics_amount_cents`, commits, then sleeps `throttle_ms` (100): a
//!   slow consumer whose lag (`[[lag]]`) grows during the burst and drains
//!   after. It stops reading once it has counted `events` orders.
//!
//! Run: `volley run scripts/kafka-burst` (plans: default, replay), or the
//! whole exercise with `scripts/kafka-burst/replay.sh`.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use volley_sdk::prelude::*;

thread_local! {
    static CONSUMER: RefCell<Option<kafka::Consumer>> = const { RefCell::new(None) };
    static COUNTED: Cell<u64> = const { Cell::new(0) };
}

fn param_or(name: &str, default: &str) -> String {
    vu::param(name).unwrap_or_else(|| default.to_string())
}

fn number(name: &str, default: u64) -> Result<u64, String> {
    param_or(name, &default.to_string())
        .parse()
        .map_err(|_| format!("param `{name}`: not a whole number"))
}

fn config() -> Result<kafka::Config, String> {
    let bootstrap = vu::param("kafka").ok_or("param `kafka` is missing: add it to [targets]")?;
    Ok(kafka::Config::new(&bootstrap))
}

/// Order `i`'s amount: the same in every run.
fn amount_cents(i: u64) -> u64 {
    100 + (i * 7919) % 50_000
}

struct Burst;

impl Scenario for Burst {
    fn run(entry: &str) -> Result<(), String> {
        match entry {
            "burst" | "default" => burst(),
            "analytics" => analytics(),
            other => Err(format!("unknown entry `{other}`: use burst or analytics")),
        }
    }
}

fn burst() -> Result<(), String> {
    let topic = param_or("topic", "orders.raw");
    let events = number("events", 10_000)?;
    let every = number("progress", 1_000)?.max(1);
    let producer = config()?.producer().map_err(|e| e.to_string())?;
    // One host call per progress step: `send_batch` enqueues the chunk.
    let mut start = 0;
    while start < events {
        let end = (start + every).min(events);
        let records = (start..end).map(|i| {
            let order = serde_json::json!({
                "order_id": format!("burst-{i}"),
                "customer": i % 1_000,
                "amount_cents": amount_cents(i),
            });
            kafka::Record::new(&topic, serde_json::to_vec(&order).unwrap_or_default())
                .key(format!("burst-{i}").into_bytes())
        });
        producer
            .send_batch(records)
            .map_err(|e| format!("order {} to {topic}: {e}", start + e.enqueued as u64))?;
        log::info(&format!("burst: {end} of {events} enqueued"));
        start = end;
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("waiting for acks: {e}"))?;
    log::info(&format!("burst: all {events} acked by the broker"));
    Ok(())
}

fn analytics() -> Result<(), String> {
    let topic = param_or("topic", "orders.raw");
    let group = param_or("group", "analytics");
    let events = number("events", 10_000)?;
    let batch = number("batch", 100)? as u32;
    let throttle = Duration::from_millis(number("throttle_ms", 100)?);
    if COUNTED.get() >= events {
        // Done: stay in the group, idle, until the scenario ends.
        vu::sleep(Duration::from_millis(500));
        return Ok(());
    }
    CONSUMER.with_borrow_mut(|slot| {
        if slot.is_none() {
            // A short session: a broker that misses the leave (the mock
            // cluster) frees the group soon after the run.
            *slot = Some(
                config()?
                    .set("session.timeout.ms", "6000")
                    .subscribe(&group, &[topic.as_str()])
                    .map_err(|e| e.to_string())?,
            );
        }
        let consumer = slot.as_ref().expect("opened above");
        let orders = consumer
            .poll(batch, Duration::from_millis(500))
            .map_err(|e| format!("poll {topic}: {e}"))?;
        if orders.is_empty() {
            return Ok(());
        }
        let (count, amount) = (
            Counter::new("analytics_orders"),
            Counter::new("analytics_amount_cents"),
        );
        for m in &orders {
            let order: serde_json::Value = serde_json::from_slice(&m.value)
                .map_err(|e| format!("an order that is not JSON: {e}"))?;
            count.add(1.0);
            amount.add(order["amount_cents"].as_u64().unwrap_or(0) as f64);
        }
        consumer.commit().map_err(|e| format!("commit: {e}"))?;
        let total = COUNTED.get() + orders.len() as u64;
        COUNTED.set(total);
        if total >= events {
            log::info(&format!("analytics: counted {total} orders"));
        }
        vu::sleep(throttle);
        Ok(())
    })
}

volley_sdk::export_scenario!(Burst);
