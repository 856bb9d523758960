//! Criterion benches for the engine's hot paths: VU instantiation, an empty
//! iteration, and recording samples. Run: `cargo bench -p volley --bench engine`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use volley::host::{DataSets, ScenarioInfo, Shared, VuState};
use volley::metrics::{Builtin, Marks, Metrics, Tags, Trend};
use volley::protocol::{Allowlist, http::HttpClient, kafka::KafkaClient, ws::WsClient};
use volley::wasm::{Runtime, RuntimeConfig, Vu};

fn fixture() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/fixture");
    volley::build::build(
        &dir,
        &volley::build::BuildOptions {
            force: false,
            quiet: true,
        },
    )
    .expect("fixture builds")
    .component
}

fn shared() -> Arc<Shared> {
    let metrics = Metrics::new();
    Arc::new(Shared {
        start: metrics.start(),
        metrics,
        http: HttpClient::new(Allowlist::default(), false).unwrap(),
        ws: WsClient::new(Allowlist::default(), false).unwrap(),
        kafka: KafkaClient::new(Allowlist::default(), Arc::new(|_: &_| {})),
        marks: Marks::default(),
        tracks: Default::default(),
        data: DataSets::default(),
        warned: Default::default(),
        timeline: Default::default(),
        seed: 0,
    })
}

fn vu_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
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

    let state = VuState::new(1, shared.clone(), info.clone(), limit);
    let mut vu = rt
        .block_on(Vu::new(&component, state))
        .map_err(|(e, _)| e)
        .unwrap();
    let timeout = std::time::Duration::from_secs(10);
    c.bench_function("empty_iteration", |b| {
        b.iter(|| rt.block_on(vu.iterate("empty", timeout)).unwrap())
    });
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

criterion_group!(benches, vu_benches, metric_benches);
criterion_main!(benches);
