//! Streamed outputs (`--out`) through the binary against the embedded HTTP
//! target: what they stream adds up to the summary export.

use std::collections::HashSet;

use crate::support::*;

#[test]
fn json_and_csv_points_add_up_to_the_summary() {
    let dir = scratch("outputs", "json-csv");
    let (json, csv, export) = (
        dir.join("out.json"),
        dir.join("out.csv"),
        dir.join("export.json"),
    );
    let ingest = http_ingest();
    let (code, out, err) = volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "--iterations",
        "40",
        "--vus",
        "4",
        "--out",
        &format!("json={}", json.display()),
        "-o",
        &format!("csv={}", csv.display()),
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let count = |m: &str| doc["metrics"][m]["values"]["count"].as_f64().unwrap();
    assert_eq!(count("http_reqs"), 40.0);

    // JSON: one Metric line per metric before its points; the points of a
    // counter sum to the summary's count, a trend's counts to its count.
    let text = std::fs::read_to_string(&json).unwrap();
    let mut declared = HashSet::new();
    let mut sums = std::collections::HashMap::<String, f64>::new();
    let mut trend_counts = 0.0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON value a line");
        let metric = v["metric"].as_str().unwrap().to_string();
        match v["type"].as_str().unwrap() {
            "Metric" => {
                assert_eq!(v["data"]["name"], metric.as_str());
                assert!(declared.insert(metric), "declared twice: {line}");
            }
            "Point" => {
                assert!(
                    declared.contains(&metric),
                    "point before its Metric: {line}"
                );
                assert!(v["data"]["time"].as_str().unwrap().ends_with('Z'), "{line}");
                assert!(v["data"]["tags"].is_object(), "{line}");
                *sums.entry(metric.clone()).or_default() += v["data"]["value"].as_f64().unwrap();
                if metric == "http_req_duration" {
                    trend_counts += v["data"]["count"].as_f64().unwrap();
                }
            }
            other => panic!("unknown line type {other}: {line}"),
        }
    }
    for m in ["http_reqs", "iterations", "data_sent", "data_received"] {
        assert_eq!(sums[m], count(m), "{m} in {}", json.display());
    }
    assert_eq!(trend_counts, count("http_req_duration"));

    // CSV: k6's header, and the same sums.
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        &header[..4],
        ["metric_name", "timestamp", "metric_value", "check"]
    );
    assert_eq!(header.last().unwrap(), "metadata");
    let name_col = header.iter().position(|h| h == "name").unwrap();
    let mut http_reqs = 0.0;
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        if &row[0] == "http_reqs" {
            http_reqs += row[2].parse::<f64>().unwrap();
            assert_eq!(&row[name_col], "post message", "{row:?}");
        }
    }
    assert_eq!(http_reqs, 40.0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_out_kind_is_refused_before_the_run() {
    let fixture = fixture();
    let (code, out, err) = volley(&[
        "run",
        fixture.to_str().unwrap(),
        "--exec",
        "empty",
        "-i",
        "1",
        "--out",
        "influx=x",
    ]);
    assert_eq!(code, 104, "{out}\n{err}");
    assert!(
        err.contains("--out influx=x: no output `influx` (one of: json=..., csv=..., influxdb=..., prometheus-rw=..., hdr=...)"),
        "{err}"
    );
}
