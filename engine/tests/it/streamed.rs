//! Streamed outputs to real receivers (`--out influxdb=`,
//! `--out prometheus-rw=`) and to HdrHistogram interval logs (`--out hdr=`),
//! read back and compared with the run's summary export.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::receivers::*;
use crate::support::*;

/// Runs http-ingest against the embedded target with `out`, writing the
/// summary export into `dir`; returns the export.
fn run_with(dir: &Path, iterations: &str, out: &[String]) -> serde_json::Value {
    let export = dir.join("export.json");
    let ingest = http_ingest();
    let mut args = vec![
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "--iterations",
        iterations,
        "--vus",
        "4",
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ];
    for o in out {
        args.extend(["--out", o.as_str()]);
    }
    let (code, stdout, err) = volley(&args);
    assert_eq!(code, 0, "{stdout}\n{err}");
    assert!(!err.contains("WARN  output"), "{err}");
    serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap()
}

fn count(export: &serde_json::Value, metric: &str) -> f64 {
    export["metrics"][metric]["values"]["count"]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric} has no count in the export"))
}

/// Sums of every exported series' values, by metric name, from
/// VictoriaMetrics' `/api/v1/export` (one JSON object a line).
fn vm_sums(port: u16) -> HashMap<String, f64> {
    let _ = try_get(port, "/internal/force_flush");
    let body = get(
        port,
        &format!(
            "/api/v1/export?match[]={}",
            query_escape(r#"{__name__=~".+",db="volley"}"#)
        ),
    );
    let mut sums = HashMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = v["metric"]["__name__"].as_str().unwrap().to_string();
        let total: f64 = v["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        *sums.entry(name).or_default() += total;
    }
    sums
}

#[test]
fn influxdb_lines_reach_victoria_metrics_and_add_up_to_the_summary() {
    let dir = scratch("streamed", "influxdb");
    let vm = victoria_metrics(&dir);
    let export = run_with(
        &dir,
        "60",
        &[format!("influxdb=http://127.0.0.1:{}/volley", vm.port)],
    );
    assert_eq!(count(&export, "http_reqs"), 60.0);
    let want = [
        ("http_reqs_value", count(&export, "http_reqs")),
        ("iterations_value", count(&export, "iterations")),
        ("data_sent_value", count(&export, "data_sent")),
        (
            "http_req_duration_count",
            count(&export, "http_req_duration"),
        ),
    ];
    // VictoriaMetrics makes new samples searchable within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sums = vm_sums(vm.port);
        let got: Vec<_> = want
            .iter()
            .map(|(m, _)| sums.get(*m).copied().unwrap_or(0.0))
            .collect();
        if want.iter().map(|w| w.1).collect::<Vec<_>>() == got {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "victoria-metrics has {got:?}, the summary {want:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(vm);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_receiver_that_is_down_is_said_once_and_the_run_still_passes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ingest = http_ingest();
    let (code, out, err) = volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "--duration",
        "3s",
        "--vus",
        "2",
        "--out",
        &format!("influxdb=http://127.0.0.1:{port}/volley"),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let said = err
        .lines()
        .filter(|l| l.contains("WARN  output influxdb:"))
        .count();
    assert_eq!(said, 1, "{err}");
    // The end says how much was lost, and the run's own results are whole.
    assert!(err.contains("0 writes sent"), "{err}");
    assert!(out.contains("http_reqs"), "{out}");
}

/// The value of an instant query that must return one series.
fn prom_value(port: u16, query: &str) -> Option<f64> {
    let body = get(
        port,
        &format!("/api/v1/query?query={}", query_escape(query)),
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    let result = v["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{query}: {body}");
    result
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

#[test]
fn prometheus_remote_write_matches_the_summary() {
    let dir = scratch("streamed", "prometheus-rw");
    let prom = prometheus(&dir);
    let export = run_with(
        &dir,
        "60",
        &[format!(
            "prometheus-rw=http://127.0.0.1:{}/api/v1/write",
            prom.port
        )],
    );
    let values = |m: &str| export["metrics"][m]["values"].clone();
    let d = values("http_req_duration");
    let want = [
        ("http_reqs_total", count(&export, "http_reqs")),
        ("iterations_total", count(&export, "iterations")),
        (
            "http_req_duration_count_total",
            count(&export, "http_req_duration"),
        ),
        (
            "http_req_failed_fails_total",
            values("http_req_failed")["fails"].as_f64().unwrap(),
        ),
        (
            r#"http_req_duration{stat="p50"}"#,
            d["med"].as_f64().unwrap(),
        ),
        (
            r#"http_req_duration{stat="p95"}"#,
            d["p(95)"].as_f64().unwrap(),
        ),
        (
            r#"http_req_duration{stat="p99"}"#,
            d["p(99)"].as_f64().unwrap(),
        ),
        (
            r#"http_req_duration{stat="max"}"#,
            d["max"].as_f64().unwrap(),
        ),
    ];
    assert_eq!(want[0].1, 60.0);
    for (query, value) in want {
        // Several series per name (one per tag set): the run's total is
        // their sum, as the summary's is; a percentile has one tag set here.
        let q = if query.contains('{') {
            query.to_string()
        } else {
            format!("sum({query})")
        };
        assert_eq!(prom_value(prom.port, &q), Some(value), "{q}");
    }
    drop(prom);
    std::fs::remove_dir_all(&dir).ok();
}

/// The one native histogram an instant query returns: its count and the
/// median PromQL interpolates from its buckets.
fn prom_histogram(port: u16, selector: &str) -> (f64, f64) {
    let body = get(
        port,
        &format!("/api/v1/query?query={}", query_escape(selector)),
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{selector} is one series: {body}");
    let count = result[0]["histogram"][1]["count"]
        .as_str()
        .unwrap_or_else(|| panic!("{selector} is no native histogram: {body}"))
        .parse()
        .unwrap();
    let median = prom_value(port, &format!("histogram_quantile(0.5, {selector})")).unwrap();
    (count, median)
}

/// The native bucket (schema 8) holding `x`.
fn bucket_of(x: f64) -> i64 {
    (x.log2() * 256.0).ceil() as i64
}

#[test]
fn prometheus_remote_write_sends_trends_as_native_histograms_on_request() {
    let dir = scratch("streamed", "prometheus-native");
    let prom = prometheus_with(&dir, &["--enable-feature=native-histograms"]);
    let export = run_with(
        &dir,
        "200",
        &[format!(
            "prometheus-rw=http://127.0.0.1:{}/api/v1/write?histograms=native",
            prom.port
        )],
    );
    let reqs = count(&export, "http_reqs");
    assert_eq!(reqs, 200.0);
    // Summed over tag sets (one series each), as the summary's total is.
    let (n, median) = prom_histogram(prom.port, "sum(http_req_duration)");
    assert_eq!(n, reqs);
    let med = export["metrics"]["http_req_duration"]["values"]["med"]
        .as_f64()
        .unwrap();
    assert!(
        (bucket_of(median) - bucket_of(med)).abs() <= 1,
        "Prometheus' median {median} ms, the summary's {med} ms"
    );
    // No percentile gauges beside the histograms.
    assert_eq!(
        prom_value(prom.port, "count(http_req_duration_count_total)"),
        None
    );
    drop(prom);
    std::fs::remove_dir_all(&dir).ok();
}

/// Every interval of `tag` in an interval log, added together, and how
/// many intervals there were.
fn hlog_total(path: &Path, tag: &str) -> (hdrhistogram::Histogram<u64>, usize) {
    use base64::Engine as _;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let bytes = std::fs::read(path).unwrap();
    let mut total = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    total.auto(true);
    let mut n = 0;
    let mut base_seen = false;
    for e in IntervalLogIterator::new(&bytes) {
        match e.expect("a well-formed interval log") {
            LogEntry::BaseTime(_) => base_seen = true,
            LogEntry::StartTime(_) => {}
            LogEntry::Interval(i) if i.tag().map(|t| t.as_str()) == Some(tag) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .unwrap();
                let h: hdrhistogram::Histogram<u64> =
                    Deserializer::new().deserialize(&mut &raw[..]).unwrap();
                total.add(&h).unwrap();
                n += 1;
            }
            LogEntry::Interval(_) => {}
        }
    }
    assert!(base_seen, "{} has no BaseTime", path.display());
    (total, n)
}

/// The summary export's own histogram of `metric` over all its tag sets.
fn export_trend(export: &serde_json::Value, metric: &str) -> volley::metrics::Trend {
    let e: volley::output::Export = serde_json::from_value(export.clone()).unwrap();
    let agg = volley::output::aggregate_of(&e).unwrap();
    match agg.metrics[metric].total() {
        volley::metrics::Value::Trend(t) => *t,
        other => panic!("{metric} is not a trend: {other:?}"),
    }
}

#[test]
fn the_hdr_log_adds_up_to_the_summary_and_shards_merge() {
    let dir = scratch("streamed", "hdr");
    // Two shards at once, as a distributed run has them.
    let shards: Vec<_> = (0..2)
        .map(|i| {
            let d = dir.join(format!("shard{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::thread::spawn(move || {
                let log = d.join("latency.hlog");
                let export = run_with(&d, "80", &[format!("hdr={}", log.display())]);
                (log, export)
            })
        })
        .collect();
    let shards: Vec<_> = shards.into_iter().map(|t| t.join().unwrap()).collect();
    let mut all = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    all.auto(true);
    for (log, export) in &shards {
        let (merged, n) = hlog_total(log, "http_req_duration");
        assert!(n >= 1, "{}", log.display());
        let summary = export_trend(export, "http_req_duration");
        // The same histograms: count and every percentile are exact.
        assert_eq!(merged.len(), summary.count);
        assert_eq!(merged.len() as f64, count(export, "http_req_duration"));
        for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
            assert_eq!(
                merged.value_at_quantile(q),
                summary.hist.value_at_quantile(q),
                "quantile {q}"
            );
        }
        let d = &export["metrics"]["http_req_duration"]["values"];
        let p95 = (merged
            .value_at_quantile(0.95)
            .clamp(summary.min, summary.max)) as f64;
        assert_eq!(p95 / 1000.0, d["p(95)"].as_f64().unwrap());
        all.add(&merged).unwrap();
    }
    // `volley merge` of the two logs: per second, both shards' intervals.
    let out = dir.join("merged.hlog");
    let (code, stdout, err) = volley(&[
        "merge",
        shards[0].0.to_str().unwrap(),
        shards[1].0.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{err}");
    assert!(stdout.contains("merged 2 interval logs"), "{stdout}");
    let (merged, _) = hlog_total(&out, "http_req_duration");
    assert_eq!(merged.len(), 160);
    for q in [0.5, 0.95, 0.99, 1.0] {
        assert_eq!(merged.value_at_quantile(q), all.value_at_quantile(q));
    }
    // A log and an export do not mix.
    let (code, _, err) = volley(&[
        "merge",
        shards[0].0.to_str().unwrap(),
        dir.join("shard1/export.json").to_str().unwrap(),
        "-o",
        dir.join("x").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("not an HdrHistogram interval log"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
