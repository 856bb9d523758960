//! Kafka scenarios (scripts/kafka-roundtrip) against the embedded mock
//! cluster and its enricher, on their own runtime: every order is produced,
//! acked, enriched and tracked end to end; lost ones are counted.

use crate::support::*;
use volley::embedded::kafka::{self, KafkaServer, PipelineOptions};

fn pipeline(opts: PipelineOptions) -> (tokio::runtime::Runtime, KafkaServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(kafka::start(opts)).unwrap();
    (rt, server)
}

fn roundtrip_plan(bootstrap: &str, orders: u32) -> String {
    format!(
        r#"
        [targets]
        kafka = "kafka://{bootstrap}"
        [scenarios.producers]
        executor = "shared-iterations"
        exec = "produce"
        vus = 10
        iterations = {orders}
        [scenarios.tracker]
        executor = "constant-vus"
        exec = "track"
        vus = 1
        duration = "8s"
        "#
    )
}

#[test]
fn every_order_is_acked_enriched_and_tracked() {
    let (rt, server) = pipeline(PipelineOptions::default());
    let out = run_plan(plan(
        &roundtrip_plan(server.bootstrap(), 2000),
        &kafka_roundtrip(),
    ));
    assert_eq!(counter(&out, "kafka_produced"), 2000.0);
    assert_eq!(trend_count(&out, "kafka_produce_ack"), 2000);
    assert_eq!(counter(&out, "kafka_produce_failed"), 0.0);
    assert_eq!(trend_count(&out, "kafka_e2e_latency"), 2000);
    assert_eq!(counter(&out, "kafka_e2e_lost"), 0.0);
    assert_eq!(counter(&out, "kafka_e2e_unmatched"), 0.0);
    assert_eq!(counter(&out, "kafka_consumed"), 2000.0);
    assert!(counter(&out, "kafka_bytes_produced") > 0.0);
    // The pipeline's own count matches.
    assert_eq!(server.stats().processed, 2000);
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    rt.block_on(server.shutdown());
}

#[test]
fn orders_the_pipeline_drops_are_counted_lost() {
    let (rt, server) = pipeline(PipelineOptions {
        failure_rate: 1.0,
        ..Default::default()
    });
    let out = run_plan(plan(
        &roundtrip_plan(server.bootstrap(), 300),
        &kafka_roundtrip(),
    ));
    assert_eq!(trend_count(&out, "kafka_produce_ack"), 300);
    assert_eq!(trend_count(&out, "kafka_e2e_latency"), 0);
    assert_eq!(counter(&out, "kafka_e2e_lost"), 300.0);
    assert_eq!(server.stats().dropped, 300);
    rt.block_on(server.shutdown());
}

#[test]
fn a_broker_outside_the_allowlist_is_refused() {
    let p = plan(
        r#"
        [options]
        allowHosts = ["127.0.0.1:1"]
        [scenarios.producers]
        executor = "per-vu-iterations"
        exec = "produce"
        vus = 1
        iterations = 2
        [scenarios.producers.params]
        kafka = "10.9.9.9:9092"
        "#,
        &kafka_roundtrip(),
    );
    let out = run_plan(p);
    assert_eq!(counter(&out, "iterations_failed"), 2.0);
    assert_eq!(counter(&out, "kafka_produced"), 0.0);
}

#[test]
fn a_throttled_groups_lag_is_watched() {
    // The enricher takes 20 ms per message: 400 orders pile up.
    let (rt, server) = pipeline(PipelineOptions {
        delay: std::time::Duration::from_millis(20),
        ..Default::default()
    });
    let p = plan(
        &format!(
            r#"
            [targets]
            kafka = "kafka://{}"
            [[lag]]
            target = "kafka"
            group = "enricher"
            topic = "orders.raw"
            [scenarios.producers]
            executor = "shared-iterations"
            exec = "produce"
            vus = 4
            iterations = 400
            [scenarios.wait]
            executor = "constant-vus"
            exec = "track"
            vus = 1
            duration = "6s"
            "#,
            server.bootstrap()
        ),
        &kafka_roundtrip(),
    );
    let out = run_plan(p);
    let lag = out
        .report
        .aggregate
        .metrics
        .get("kafka_consumer_lag")
        .map(|s| s.total());
    let Some(volley::metrics::Value::Gauge { max, .. }) = lag else {
        panic!("no kafka_consumer_lag gauge: {lag:?}");
    };
    // Offsets are committed every 100 messages; at 20 ms each the group
    // is hundreds behind for seconds.
    assert!(max >= 100.0, "max lag {max}");
    rt.block_on(server.shutdown());
}
