//! Criterion benches for the engine's hot paths: VU instantiation, an empty
//! iteration, Kafka produce through the host, an iteration of the same
//! scenario in each guest language, and recording samples. Run:
//! `cargo bench -p volley --bench engine` (`-- lang_` for the languages).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use volley::host::{DataSets, ScenarioInfo, Shared, VuState};
use volley::metrics::{Builtin, Marks, Metrics, Tags, Timeline, Trend};
use volley::protocol::kafka::track::Trackers;
use volley::protocol::{Allowlist, http::HttpClient, kafka::KafkaClient, ws::WsClient};
use volley::wasm::{Runtime, RuntimeConfig, Vu};

fn fixture() -> std::path::PathBuf {
    build(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/fixture"))
}

fn build(dir: std::path::PathBuf) -> std::path::PathBuf {
    try_build(&dir).expect("the scenario builds")
}

/// `dir`'s component, built if its sources changed.
fn try_build(dir: &Path) -> Result<std::path::PathBuf, volley::Error> {
    let options = volley::build::BuildOptions {
        force: false,
        quiet: true,
    };
    volley::build::build(dir, &options).map(|b| b.component)
}

fn shared() -> Arc<Shared> {
    shared_with(|_, _, _| KafkaClient::new(Allowlist::default(), Arc::new(|_: &_, _: &_| {})))
}

/// The run's shared state with the Kafka client `kafka` makes from the
/// run's metrics, trackers and timeline.
fn shared_with(
    kafka: impl FnOnce(&Metrics, &Arc<Trackers>, &Arc<Timeline>) -> KafkaClient,
) -> Arc<Shared> {
    let metrics = Metrics::new();
    let tracks: Arc<Trackers> = Default::default();
    let timeline: Arc<Timeline> = Default::default();
    Arc::new(Shared {
        start: metrics.start(),
        // Benches reach only the servers they start on loopback.
        http: HttpClient::new(Allowlist::parse(&["127.0.0.1"]).unwrap(), false).unwrap(),
        ws: WsClient::new(Allowlist::default(), false).unwrap(),
        kafka: kafka(&metrics, &tracks, &timeline),
        metrics,
        marks: Marks::default(),
        tracks,
        data: DataSets::default(),
        warned: Default::default(),
        timeline,
        seed: 0,
    })
}

/// A single-threaded tokio runtime to drive VUs on.
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A VU (id 1) of `component` in scenario `bench` with `params`.
fn bench_vu(
    rt: &tokio::runtime::Runtime,
    component: &volley::wasm::Component,
    shared: &Arc<Shared>,
    params: &[(&str, &str)],
) -> Vu {
    let info = Arc::new(ScenarioInfo {
        name: "bench".into(),
        tags: Tags::new([("scenario", "bench")]),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    });
    let state = VuState::new(1, shared.clone(), info, 64 << 20);
    rt.block_on(Vu::new(component, state))
        .map_err(|(e, _)| e)
        .unwrap()
}

fn vu_benches(c: &mut Criterion) {
    let rt = current_thread();
    let runtime = Runtime::new(RuntimeConfig {
        max_vus: 64,
        ..Default::default()
    })
    .unwrap();
    let component = runtime.load(&fixture()).unwrap();
    let shared = shared();
    let info = Arc::new(ScenarioInfo {
        name: "bench".into(),
        tags: Tags::new([("scenario", "bench")]),
        params: Default::default(),
    });
    let limit = 64 << 20;

    c.bench_function("vu_instantiate", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for i in 0..iters {
                let state = VuState::new(i as u32, shared.clone(), info.clone(), limit);
                let t = Instant::now();
                let vu = rt
                    .block_on(Vu::new(&component, state))
                    .map_err(|(e, _)| e)
                    .unwrap();
                total += t.elapsed();
                drop(vu);
            }
            total
        })
    });

    let mut vu = bench_vu(&rt, &component, &shared, &[]);
    let timeout = std::time::Duration::from_secs(10);
    c.bench_function("empty_iteration", |b| {
        b.iter(|| rt.block_on(vu.iterate("empty", timeout)).unwrap())
    });
}

/// Kafka produce as the benchmark against kcat sends it (`scripts/kafka-roundtrip`,
/// entry `raw`: 100-byte messages without key), to librdkafka's mock cluster:
/// one iteration sends 1,000 messages in one `send-batch` call, or one
/// message through `produce`. Delivery reports are recorded as in a run;
/// the producer is flushed between samples, outside the timed part.
fn kafka_benches(c: &mut Criterion) {
    let rt = current_thread();
    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let runtime = Runtime::new(RuntimeConfig {
        max_vus: 4,
        ..Default::default()
    })
    .unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let component = runtime
        .load(&build(repo.join("scripts/kafka-roundtrip")))
        .unwrap();
    // Delivery reports recorded as in a run.
    let shared = shared_with(|metrics, tracks, timeline| {
        KafkaClient::new(
            Allowlist::parse(&["127.0.0.1"]).unwrap(),
            volley::host::kafka_deliveries(metrics, tracks.clone(), timeline.clone()),
        )
    });
    // The run's producer for this bootstrap list: the one the scenario's
    // `kafka::Config::new(bootstrap)` shares.
    let config = shared
        .kafka
        .guest_config(bootstrap.clone(), vec![])
        .unwrap();
    let producer = shared.kafka.producer(&config).unwrap();
    let timeout = std::time::Duration::from_secs(10);
    for (name, batch) in [("kafka_send_batch_1000", "1000"), ("kafka_produce_1", "1")] {
        let params = [
            ("kafka", bootstrap.as_str()),
            ("topic", name),
            ("batch", batch),
        ];
        let mut vu = bench_vu(&rt, &component, &shared, &params);
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for i in 0..iters {
                    let t = Instant::now();
                    rt.block_on(vu.iterate("raw", timeout)).unwrap();
                    total += t.elapsed();
                    // Bounded in-flight: the queue holds 1,000,000.
                    if i % 50 == 49 {
                        rt.block_on(producer.flush(timeout)).unwrap();
                    }
                }
                rt.block_on(producer.flush(timeout)).unwrap();
                total
            })
        });
    }
}

/// The language benchmark's scenario (`bench/lang/<lang>`, as
/// `bench/languages.sh` runs it) in each guest language: an empty
/// iteration (entering the guest and its SDK's glue) and `GET` + check
/// against the embedded HTTP target on loopback (the request record
/// lowered, the response lifted, the check's host call). A language whose
/// toolchain is missing (`./setup.sh` installs them) is skipped, named.
fn language_benches(c: &mut Criterion) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_rt
        .block_on(volley::embedded::start(
            volley::embedded::Kind::Http,
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let url = format!("{}/health", server.url());
    let rt = current_thread();
    let runtime = Runtime::new(RuntimeConfig {
        max_vus: 8,
        ..Default::default()
    })
    .unwrap();
    let shared = shared();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let timeout = std::time::Duration::from_secs(10);
    for lang in ["rust", "js", "python", "c"] {
        let component = match try_build(&repo.join("bench/lang").join(lang)) {
            Ok(path) => runtime.load(&path).unwrap(),
            Err(e) => {
                eprintln!("lang_{lang}: skipped, its scenario does not build here: {e}");
                continue;
            }
        };
        let mut vu = bench_vu(&rt, &component, &shared, &[("url", &url)]);
        rt.block_on(vu.init(&[], timeout)).unwrap();
        for (bench, entry) in [("empty_iteration", "empty"), ("get_check", "default")] {
            c.bench_function(&format!("lang_{lang}_{bench}"), |b| {
                b.iter(|| rt.block_on(vu.iterate(entry, timeout)).unwrap())
            });
        }
    }
    server_rt.block_on(server.shutdown());
}

fn metric_benches(c: &mut Criterion) {
    c.bench_function("histogram_record", |b| {
        let mut t = Trend::new();
        let mut v = 1u64;
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1);
            t.record(v % 2_000_000);
        })
    });
    let m = Metrics::new();
    let tags = Tags::new([("scenario", "bench"), ("name", "login")]);
    c.bench_function("metrics_add_trend_sample", |b| {
        b.iter(|| m.builtin(Builtin::HttpReqDuration, &tags, 1234.0))
    });
}

criterion_group!(
    benches,
    vu_benches,
    kafka_benches,
    language_benches,
    metric_benches
);
criterion_main!(benches);
