//! Kafka scenarios (scripts/kafka-roundtrip) against the embedded mock
//! cluster and its enricher, on their own runtime: every order is produced,
//! acked, enriched and tracked end to end; lost ones are counted.

use crate::support::*;
use volley::embedded::kafka::{self, KafkaServer, PipelineOptions};

/// A runtime for the broker side (the pipeline), apart from the run's.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn pipeline(opts: PipelineOptions) -> (tokio::runtime::Runtime, KafkaServer) {
    let rt = runtime();
    let server = rt.block_on(kafka::start(opts)).unwrap();
    (rt, server)
}

/// `orders` orders from 10 VUs, tracked from orders.raw to orders.enriched
/// (`track` adds lines to the `[[track]]` table).
fn roundtrip_plan(bootstrap: &str, orders: u32, track: &str) -> String {
    format!(
        r#"
        [targets]
        kafka = "kafka://{bootstrap}"
        [[track]]
        target = "kafka"
        input = "orders.raw"
        output = "orders.enriched"
        {track}
        [scenarios.producers]
        executor = "shared-iterations"
        exec = "produce"
        vus = 10
        iterations = {orders}
        "#
    )
}

#[test]
fn every_order_is_acked_enriched_and_tracked() {
    let (rt, server) = pipeline(PipelineOptions::default());
    let csv = std::env::temp_dir().join(format!("volley-e2e-{}.csv", std::process::id()));
    let track = format!(
        "until = 2000\ntimeout = \"30s\"\nsamples = \"{}\"",
        csv.display()
    );
    let out = run_plan(plan(
        &roundtrip_plan(server.bootstrap(), 2000, &track),
        &kafka_roundtrip(),
    ));
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    assert_eq!(counter(&out, "kafka_produced"), 2000.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    assert_eq!(trend_count(&out, "kafka_produce_ack"), 2000);
    assert_eq!(counter(&out, "kafka_produce_failed"), 0.0);
    assert_eq!(trend_count(&out, "kafka_e2e_latency"), 2000);
    assert_eq!(counter(&out, "kafka_tracked_seen"), 2000.0);
    assert_eq!(counter(&out, "kafka_tracked_lost"), 0.0);
    assert_eq!(counter(&out, "kafka_tracked_duplicates"), 0.0);
    assert_eq!(counter(&out, "kafka_tracked_unmatched"), 0.0);
    assert!(counter(&out, "kafka_bytes_produced") > 0.0);
    // The pipeline's own count matches.
    assert_eq!(server.stats().processed, 2000);
    // One CSV row per sample, and the histogram beside it.
    let rows = std::fs::read_to_string(&csv).unwrap();
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("seen_ms,latency_us,partition,offset,id"));
    let ids: std::collections::HashSet<&str> =
        lines.map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(ids.len(), 2000);
    let hgrm = std::fs::read_to_string(csv.with_extension("hgrm")).unwrap();
    assert!(hgrm.contains("Total count = 2000"), "{hgrm}");
    // The histogram holds the latencies the summary shows (ms, not clamped).
    let max_ms: f64 = hgrm
        .lines()
        .find_map(|l| l.strip_prefix("#[Max = "))
        .and_then(|l| l.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(max_ms > 0.05, "{hgrm}");
    let _ = std::fs::remove_file(csv.with_extension("hgrm"));
    let _ = std::fs::remove_file(&csv);
    rt.block_on(server.shutdown());
}

/// `send-batch` hands plain messages to librdkafka from the guest's memory;
/// a tracked topic's messages take the path that stamps them.
#[test]
fn batched_orders_are_stamped_and_tracked_too() {
    let (rt, server) = pipeline(PipelineOptions::default());
    let text = format!(
        r#"
        [targets]
        kafka = "kafka://{}"
        [[track]]
        target = "kafka"
        input = "orders.raw"
        output = "orders.enriched"
        until = 400
        timeout = "30s"
        [scenarios.batches]
        executor = "shared-iterations"
        exec = "raw"
        vus = 2
        iterations = 40
        params = {{ topic = "orders.raw", batch = "10" }}
        "#,
        server.bootstrap()
    );
    let out = run_plan(plan(&text, &kafka_roundtrip()));
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    assert_eq!(counter(&out, "kafka_produced"), 400.0);
    assert_eq!(trend_count(&out, "kafka_produce_ack"), 400);
    assert_eq!(counter(&out, "kafka_tracked_seen"), 400.0);
    assert_eq!(counter(&out, "kafka_tracked_lost"), 0.0);
    assert_eq!(counter(&out, "kafka_tracked_duplicates"), 0.0);
    assert_eq!(server.stats().processed, 400);
    rt.block_on(server.shutdown());
}

#[test]
fn ids_in_the_key_or_a_json_field_are_tracked_too() {
    let (rt, server) = pipeline(PipelineOptions::default());
    for id in ["key", "json:order_id"] {
        let track = format!("id = \"{id}\"\nuntil = 300\ntimeout = \"30s\"");
        let out = run_plan(plan(
            &roundtrip_plan(server.bootstrap(), 300, &track),
            &kafka_roundtrip(),
        ));
        assert_eq!(out.exit, volley::ExitCode::Ok, "{id}: {:?}", out.problem);
        assert_eq!(counter(&out, "kafka_tracked_seen"), 300.0, "{id}");
        assert_eq!(counter(&out, "kafka_tracked_lost"), 0.0, "{id}");
    }
    rt.block_on(server.shutdown());
}

#[test]
fn orders_the_pipeline_drops_are_counted_lost() {
    let (rt, server) = pipeline(PipelineOptions {
        failure_rate: 1.0,
        ..Default::default()
    });
    let out = run_plan(plan(
        &roundtrip_plan(server.bootstrap(), 300, "grace = \"6s\""),
        &kafka_roundtrip(),
    ));
    assert_eq!(trend_count(&out, "kafka_produce_ack"), 300);
    assert_eq!(trend_count(&out, "kafka_e2e_latency"), 0);
    assert_eq!(counter(&out, "kafka_tracked_seen"), 0.0);
    assert_eq!(counter(&out, "kafka_tracked_lost"), 300.0);
    assert_eq!(server.stats().dropped, 300);
    assert_eq!(out.exit, volley::ExitCode::Ok, "no goal, no threshold");

    // With a goal, the timeout fails the run and says how far it got.
    let out = run_plan(plan(
        &roundtrip_plan(server.bootstrap(), 50, "until = 50\ntimeout = \"3s\""),
        &kafka_roundtrip(),
    ));
    assert_eq!(out.exit, volley::ExitCode::ThresholdsFailed);
    let problem = out.problem.unwrap_or_default();
    assert!(
        problem.contains("0 of 50 tracked messages seen by its timeout (3s) (50 lost"),
        "{problem}"
    );
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
            # Keeps the run going while the enricher lags.
            [[track]]
            target = "kafka"
            input = "orders.raw"
            output = "orders.enriched"
            grace = "6s"
            [scenarios.producers]
            executor = "shared-iterations"
            exec = "produce"
            vus = 4
            iterations = 400
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

/// `volley kafka ...` against the pipeline: (exit code, stdout + stderr).
fn kafka_cli(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_volley"))
        .arg("kafka")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("volley runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// scripts/kafka-burst's `analytics` entry as the whole plan: the target,
/// the group's lag watch, one throttled consumer counting up to `events`.
fn analytics_plan(bootstrap: &str, events: u32, throttle_ms: u32, duration: &str) -> String {
    format!(
        r#"
        [targets]
        kafka = "kafka://{bootstrap}"
        [[lag]]
        target = "kafka"
        group = "analytics"
        topic = "orders.raw"
        [scenarios.analytics]
        executor = "constant-vus"
        exec = "analytics"
        vus = 1
        duration = "{duration}"
        [scenarios.analytics.params]
        events = "{events}"
        throttle_ms = "{throttle_ms}"
        "#
    )
}

/// The `burst` scenario, to add to [`analytics_plan`].
fn burst_scenario(events: u32) -> String {
    format!(
        r#"
        [scenarios.burst]
        executor = "per-vu-iterations"
        exec = "burst"
        vus = 1
        iterations = 1
        [scenarios.burst.params]
        events = "{events}"
        "#
    )
}

/// `volley kafka lag --json` for group `analytics` on orders.raw.
fn analytics_lag(bootstrap: &str) -> serde_json::Value {
    let (code, text) = kafka_cli(&[
        "lag",
        "--json",
        "-b",
        bootstrap,
        "-g",
        "analytics",
        "-t",
        "orders.raw",
    ]);
    assert_eq!(code, 0, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_burst_is_replayed_after_a_reset_with_the_same_totals() {
    let (rt, server) = pipeline(PipelineOptions::default());
    let b = server.bootstrap().to_string();
    let first = run_plan(plan(
        &(analytics_plan(&b, 2000, 20, "12s") + &burst_scenario(2000)),
        &kafka_burst(),
    ));
    let want_amount: f64 = (0..2000u64)
        .map(|i| (100 + (i * 7919) % 50_000) as f64)
        .sum();
    assert_eq!(counter(&first, "kafka_produced"), 2000.0);
    assert_eq!(counter(&first, "analytics_orders"), 2000.0);
    assert_eq!(counter(&first, "analytics_amount_cents"), want_amount);

    let conn = ["-b", b.as_str(), "-g", "analytics", "-t", "orders.raw"];
    assert_eq!(analytics_lag(&b)["lag"], 0);
    // The mock refuses an outside commit on a group it knows, and says how.
    let (code, text) = kafka_cli(&[&["reset-offsets"], &conn[..], &["--to-earliest"]].concat());
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("--join"), "{text}");
    let (code, text) =
        kafka_cli(&[&["reset-offsets"], &conn[..], &["--to-earliest", "--join"]].concat());
    assert_eq!(code, 0, "{text}");
    assert_eq!(analytics_lag(&b)["lag"], 2000);

    let replay = run_plan(plan(&analytics_plan(&b, 2000, 20, "25s"), &kafka_burst()));
    assert_eq!(counter(&replay, "kafka_produced"), 0.0);
    assert_eq!(counter(&replay, "analytics_orders"), 2000.0);
    assert_eq!(counter(&replay, "analytics_amount_cents"), want_amount);
    rt.block_on(server.shutdown());
}

/// A tansu broker (Kafka-compatible, its own process, memory storage) on a
/// free loopback port. Installed by `VOLLEY_TANSU=1 ./setup.sh` (`cargo
/// install tansu`, about 8 minutes); `$VOLLEY_TANSU_BIN` overrides where.
struct Tansu {
    child: std::process::Child,
    bootstrap: String,
}

impl Tansu {
    fn start() -> Tansu {
        let bin = std::env::var("VOLLEY_TANSU_BIN").unwrap_or_else(|_| {
            format!(
                "{}/.cache/volley/tansu/bin/tansu",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        assert!(
            std::path::Path::new(&bin).exists(),
            "{bin} is missing: run `VOLLEY_TANSU=1 ./setup.sh` (cargo install tansu)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        // Output to null: a child holding the test's pipes can hang cargo.
        let child = std::process::Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tansu starts");
        let bootstrap = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&bootstrap).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Tansu { child, bootstrap }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs tansu: `VOLLEY_TANSU=1 ./setup.sh`; test.sh runs it when installed"]
fn tansu_roundtrip_burst_and_replay() {
    let broker = Tansu::start();
    let b = broker.bootstrap.clone();
    let rt = runtime();
    rt.block_on(kafka::create_topics(&b)).unwrap();
    let pipeline = rt.block_on(async { kafka::Pipeline::start(&b, PipelineOptions::default()) });

    // The million-order plan's shape, smaller: every order seen, none lost.
    let out = run_plan(plan(
        &roundtrip_plan(&b, 2000, "until = 2000\ntimeout = \"60s\""),
        &kafka_roundtrip(),
    ));
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    assert_eq!(counter(&out, "kafka_tracked_seen"), 2000.0);
    assert_eq!(counter(&out, "kafka_tracked_lost"), 0.0);
    assert_eq!(counter(&out, "kafka_tracked_duplicates"), 0.0);
    assert_eq!(pipeline.stats().processed, 2000);

    // Burst, lag, reset (a real broker takes the outside commit once the
    // group is empty), replay.
    let analytics = analytics_plan(&b, 3000, 10, "20s");
    let first = run_plan(plan(
        &(analytics.clone() + &burst_scenario(1000)),
        &kafka_burst(),
    ));
    // The group reads orders.raw from the start: the round trip's 2,000
    // orders and the burst's 1,000.
    assert_eq!(counter(&first, "analytics_orders"), 3000.0);
    let conn = ["-b", b.as_str(), "-g", "analytics", "-t", "orders.raw"];
    assert_eq!(analytics_lag(&b)["lag"], 0);
    let (code, text) = kafka_cli(
        &[
            &["reset-offsets"],
            &conn[..],
            &["--to-earliest", "--wait", "60s"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{text}");
    // Every partition back at 0. (tansu 0.6.0's memory storage reports
    // high watermarks below the records it holds, so the total lag it
    // shows is not 3,000; the replay below counts them all.)
    let lag = analytics_lag(&b);
    let parts = lag["partitions"].as_array().expect("partitions");
    assert_eq!(parts.len(), 32, "{lag}");
    assert!(parts.iter().all(|p| p["committed"] == 0), "{lag}");
    let replay = run_plan(plan(&analytics, &kafka_burst()));
    assert_eq!(counter(&replay, "analytics_orders"), 3000.0);
    assert_eq!(
        counter(&replay, "analytics_amount_cents"),
        counter(&first, "analytics_amount_cents")
    );
    rt.block_on(pipeline.shutdown());
}

#[test]
fn a_dead_broker_fails_tracking_with_a_clear_error() {
    // Nothing listens on port 1.
    let p = plan(
        &roundtrip_plan("127.0.0.1:1", 10, "until = 10"),
        &kafka_roundtrip(),
    );
    let e = try_run_plan(p).expect_err("no broker").to_string();
    assert!(
        e.contains(
            "track orders.raw -> orders.enriched: cannot read `orders.enriched` on 127.0.0.1:1"
        ),
        "{e}"
    );
}
