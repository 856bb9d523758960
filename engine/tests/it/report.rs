//! The timeline in the summary export and `volley report` (HTML, PNG, SVG)
//! from real runs of the binary against the embedded HTTP target.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// The report starts with `<!DOCTYPE html>`, which XML calls a DTD.
fn html_options<'a>() -> roxmltree::ParsingOptions<'a> {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: u32::MAX,
        ..Default::default()
    }
}

fn read(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// A 3-second run of the ingest scenario with thresholds, its export at `export`.
fn run_with_export(export: &Path) {
    let ingest = http_ingest();
    let (code, out, err) = volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "-u",
        "4",
        "-d",
        "3s",
        "--threshold",
        "http_req_duration:p(99)<5000",
        "--threshold",
        "http_req_failed:rate<0.5",
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
        "--no-summary",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
}

fn count(doc: &serde_json::Value, metric: &str) -> u64 {
    doc["metrics"][metric]["values"]["count"].as_f64().unwrap() as u64
}

#[test]
fn the_export_has_a_timeline_that_adds_up_and_merges_by_second() {
    let dir = scratch("report", "timeline");
    let export = dir.join("export.json");
    run_with_export(&export);
    let doc = read(&export).unwrap();
    let tl = doc["timeline"].as_array().expect("a timeline");
    assert!(tl.len() >= 3, "{} points", tl.len());
    let sum = |doc: &serde_json::Value, k: &str| {
        doc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[k].as_u64().unwrap())
            .sum::<u64>()
    };
    // Every request of the summary is in exactly one second.
    assert_eq!(sum(&doc, "http_reqs"), count(&doc, "http_reqs"));
    assert_eq!(sum(&doc, "iterations"), count(&doc, "iterations"));
    let busy = &tl[1];
    assert_eq!(busy["span"], 1.0);
    // The second's peak: all 4 VUs, even if one was between iterations at the tick.
    assert_eq!(busy["vus"].as_u64(), Some(4), "{busy}");
    assert!(busy["rps"].as_f64().unwrap() > 0.0, "{busy}");
    let d = &busy["trends"]["http_req_duration"];
    let (p50, p99, max) = (
        d["p50"].as_f64().unwrap(),
        d["p99"].as_f64().unwrap(),
        d["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{d}");
    assert!(busy["trends"]["iteration_duration"]["count"].as_u64() > Some(0));

    // Merged with itself: the same seconds, twice the counts.
    let merged = dir.join("merged.json");
    let e = export.to_str().unwrap();
    let (code, out, err) = volley(&["merge", e, e, "-o", merged.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let m = read(&merged).unwrap();
    let mt = m["timeline"].as_array().unwrap();
    assert_eq!(mt.len(), tl.len());
    assert_eq!(sum(&m, "http_reqs"), 2 * count(&doc, "http_reqs"));
    assert_eq!(mt[1]["vus"].as_u64(), busy["vus"].as_u64().map(|v| v * 2));
    let md = &mt[1]["trends"]["http_req_duration"];
    assert_eq!(md["count"].as_u64(), d["count"].as_u64().map(|c| c * 2));
    assert!(
        (md["p99"].as_f64().unwrap() - p99).abs() < 1e-9,
        "{md} vs {d}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn report_draws_html_png_and_svg_from_a_real_export() {
    let dir = scratch("report", "draw");
    let export = dir.join("export.json");
    run_with_export(&export);
    let doc = read(&export).unwrap();
    let (html, png, svg) = (
        dir.join("report.html"),
        dir.join("hist.png"),
        dir.join("hist.svg"),
    );
    let (code, out, err) = volley(&[
        "report",
        export.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--bins",
        "30",
        "--size",
        "640x400",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");

    // The HTML: one well-formed document, nothing to fetch, small.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.len() < 1 << 20, "{} bytes", page.len());
    for outside in ["src=", "href=", "<script", "@import", "url("] {
        assert!(
            !page.contains(outside),
            "the page fetches something: {outside}"
        );
    }
    let xml =
        roxmltree::Document::parse_with_options(&page, html_options()).expect("the report parses");
    let by_id = |id: &str| {
        xml.descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no #{id}"))
    };
    let text_of = |n: roxmltree::Node| {
        n.descendants()
            .filter_map(|d| d.text())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let svgs = |id: &str| {
        by_id(id)
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .count()
    };
    assert_eq!(svgs("throughput"), 2);
    assert!(
        svgs("latency") >= 2,
        "http_req_duration and iteration_duration"
    );
    assert_eq!(svgs("errors"), 1);
    assert!(svgs("histograms") >= 2);
    // Each chart has its lines drawn from the timeline's points.
    let throughput_line = by_id("throughput")
        .descendants()
        .find(|n| n.attribute("data-name") == Some("http_reqs/s"))
        .expect("a requests line");
    let vertices = throughput_line.attribute("d").unwrap().matches('L').count() + 1;
    assert_eq!(vertices, doc["timeline"].as_array().unwrap().len());
    // Thresholds and checks, with the run's verdicts and numbers.
    let thresholds = text_of(by_id("thresholds"));
    assert!(thresholds.contains("p(99)<5000"), "{thresholds}");
    assert!(thresholds.contains("rate<0.5"), "{thresholds}");
    assert_eq!(
        by_id("thresholds")
            .descendants()
            .filter(|n| n.attribute("class") == Some("ok"))
            .count(),
        2
    );
    let checks = text_of(by_id("checks"));
    let passes = doc["root_group"]["checks"]["status is 201"]["passes"]
        .as_u64()
        .unwrap();
    assert!(checks.contains("status is 201"), "{checks}");
    assert!(checks.contains(&passes.to_string()), "{checks}");
    let scenarios = text_of(by_id("scenarios"));
    assert!(scenarios.contains("default"), "{scenarios}");
    assert!(
        scenarios.contains(&count(&doc, "iterations").to_string()),
        "{scenarios}"
    );
    let metrics = text_of(by_id("metrics"));
    assert!(
        metrics.contains(&count(&doc, "http_reqs").to_string()),
        "{metrics}"
    );

    // The PNG decodes at the asked size.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (640, 400));

    // The SVG: 30 bars whose counts add up to the trend's count.
    let svg = std::fs::read_to_string(&svg).unwrap();
    let svg = roxmltree::Document::parse(&svg).expect("the SVG parses");
    let bars: Vec<u64> = svg
        .descendants()
        .filter(|n| n.attribute("class") == Some("bin"))
        .map(|n| n.attribute("data-count").unwrap().parse().unwrap())
        .collect();
    assert_eq!(bars.len(), 30);
    assert_eq!(bars.iter().sum::<u64>(), count(&doc, "http_req_duration"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn report_names_what_is_wrong() {
    let dir = scratch("report", "errors");
    let export = dir.join("export.json");
    run_with_export(&export);
    let e = export.to_str().unwrap();
    let png = dir.join("x.png");
    for (args, says) in [
        (vec!["report", e], "--html FILE, --png FILE or --svg FILE"),
        (
            vec![
                "report",
                e,
                "--png",
                png.to_str().unwrap(),
                "--metric",
                "nope",
            ],
            "--metric nope: not in the export (its trends: ",
        ),
        (
            vec![
                "report",
                e,
                "--png",
                png.to_str().unwrap(),
                "--metric",
                "http_reqs",
            ],
            "--metric http_reqs: not a trend",
        ),
        (
            vec![
                "report",
                e,
                "--svg",
                png.to_str().unwrap(),
                "--size",
                "10x10",
            ],
            "--size 10x10: write WIDTHxHEIGHT",
        ),
    ] {
        let (code, out, err) = volley(&args);
        assert_eq!(code, 104, "{args:?}\n{out}\n{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = volley(&["report", "Cargo.toml", "--html", "x.html"]);
    assert_eq!(code, 104);
    assert!(err.contains("not a volley summary export"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_of_a_running_test_makes_a_report() {
    let dir = scratch("report", "checkpoint");
    let export = dir.join("export.json");
    let ingest = http_ingest();
    let child = spawn_volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "-u",
        "2",
        "-d",
        "60s",
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ]);
    let child = Reap(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let snapshot = loop {
        assert!(Instant::now() < deadline, "no checkpoint with 2 points");
        if let Some(d) = read(&export)
            && d["timeline"].as_array().is_some_and(|t| t.len() >= 2)
        {
            break d;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(child);
    assert_eq!(snapshot["state"]["checkpoint"], true);
    let copy = dir.join("checkpoint.json");
    std::fs::write(&copy, snapshot.to_string()).unwrap();
    let html = dir.join("report.html");
    let (code, out, err) = volley(&[
        "report",
        copy.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    roxmltree::Document::parse_with_options(&page, html_options()).expect("the report parses");
    assert!(page.contains("<b>checkpoint</b>"));
    assert!(page.contains("data-name=\"http_reqs/s\""));
    std::fs::remove_dir_all(&dir).ok();
}

/// A plan of two scenarios that are each idle for part of the run: `late`
/// starts at 2 s, `early` ends at 1 s; the run lasts about 4 s.
fn staggered_plan(dir: &Path) -> std::path::PathBuf {
    let plan = dir.join("plan.toml");
    let text = format!(
        r#"
        [options]
        component = "{}"
        [targets]
        api = "embedded:http"
        [scenarios.late]
        executor = "constant-vus"
        vus = 2
        duration = "2s"
        startTime = "2s"
        [scenarios.early]
        executor = "constant-vus"
        vus = 2
        duration = "1s"
        [thresholds]
        "http_reqs{{scenario:late}}" = ["count>0", "rate>0"]
        "http_reqs{{scenario:early}}" = ["count>0"]
        "#,
        http_ingest().display()
    );
    std::fs::write(&plan, text).unwrap();
    plan
}

/// A scenario's count (a counter with that `scenario` tag) in an export.
fn scenario_count(doc: &serde_json::Value, metric: &str, scenario: &str) -> f64 {
    doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == metric && s["tags"]["scenario"] == scenario)
        .map(|s| s["sum"].as_f64().unwrap())
        .sum()
}

fn span_secs(doc: &serde_json::Value, scenario: &str) -> f64 {
    let span = &doc["active"][scenario];
    span["end_s"].as_f64().unwrap() - span["start_s"].as_f64().unwrap()
}

/// The `N.NN/s` rate on the summary line of `label`.
fn printed_rate(summary: &str, label: &str) -> f64 {
    let line = summary
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label} in\n{summary}"));
    let rate = line
        .split_whitespace()
        .find_map(|w| w.strip_suffix("/s"))
        .unwrap_or_else(|| panic!("no rate in {line}"));
    rate.parse().unwrap()
}

/// The number in the 4th column (iterations/s) of the HTML report's
/// scenario row `name`.
fn html_rate(page: &str, name: &str) -> f64 {
    let row = page
        .split("<tr>")
        .find(|r| r.starts_with(&format!("<td>{name}</td>")))
        .unwrap_or_else(|| panic!("no row {name}"));
    let cells: Vec<&str> = row
        .split("<td")
        .skip(1)
        .map(|c| c.split('>').nth(1).unwrap().trim_end_matches("</td"))
        .collect();
    cells[3].parse().unwrap()
}

#[test]
fn rates_are_over_each_scenarios_active_time_and_survive_a_merge() {
    let dir = scratch("report", "active");
    let export = dir.join("export.json");
    let plan = staggered_plan(&dir);
    let (code, out, err) = volley(&[
        "run",
        plan.to_str().unwrap(),
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc = read(&export).unwrap();
    let run_s = doc["state"]["testRunDurationMs"].as_f64().unwrap() / 1000.0;
    let late_start = doc["active"]["late"]["start_s"].as_f64().unwrap();
    assert!(late_start >= 2.0, "late started at {late_start}s");
    let (late_s, early_s) = (span_secs(&doc, "late"), span_secs(&doc, "early"));
    assert!(late_s < 0.8 * run_s && early_s < 0.5 * run_s, "{doc:#}");

    for (name, secs) in [("late", late_s), ("early", early_s)] {
        let n = scenario_count(&doc, "http_reqs", name);
        assert!(n > 0.0, "{name} sent nothing");
        let want = n / secs;
        let key = format!("http_reqs{{scenario:{name}}}");
        let exported = doc["metrics"][&key]["values"]["rate"].as_f64().unwrap();
        assert!(
            (exported - want).abs() < 1e-6 * want,
            "{key}: {exported} != {want}"
        );
        // Printed with two decimals: equal up to their rounding, and far
        // from the count over the whole run.
        let printed = printed_rate(&out, &format!("{{ scenario:{name} }}"));
        assert!(
            (printed - want).abs() <= 0.006,
            "{name}: {printed} != {want}\n{out}"
        );
        assert!(
            printed > 1.2 * n / run_s,
            "{name}: {printed} is over the run"
        );
        if name == "late" {
            // A threshold on the rate judges the same number.
            let line = out
                .lines()
                .find(|l| l.contains("'rate>0' rate="))
                .unwrap_or_else(|| panic!("no rate threshold in\n{out}"));
            let judged: f64 = line.rsplit("rate=").next().unwrap().trim().parse().unwrap();
            assert!((judged - want).abs() <= 0.006, "{line} != {want}");
        }
    }
    // The run's total: over the union of both spans, which leaves out the
    // idle second between them.
    let all = count(&doc, "http_reqs") as f64;
    let total_rate = doc["metrics"]["http_reqs"]["values"]["rate"]
        .as_f64()
        .unwrap();
    let want = all / (late_s + early_s);
    assert!(
        (total_rate - want).abs() < 1e-6 * want,
        "{total_rate} != {want}"
    );

    // The HTML report's scenario table: iterations over the same spans.
    let html = dir.join("report.html");
    let (code, o, e) = volley(&[
        "report",
        export.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{o}\n{e}");
    let page = std::fs::read_to_string(&html).unwrap();
    for (name, secs) in [("late", late_s), ("early", early_s)] {
        let want = scenario_count(&doc, "iterations", name) / secs;
        let shown = html_rate(&page, name);
        assert!((shown - want).abs() <= 0.006, "{name}: {shown} != {want}");
    }

    // Two shards of one run side by side (the export twice): twice the
    // count over the same span.
    let merged = dir.join("merged.json");
    let e = export.to_str().unwrap();
    let (code, o, err) = volley(&["merge", e, e, "-o", merged.to_str().unwrap()]);
    assert_eq!(code, 0, "{o}\n{err}");
    let m = read(&merged).unwrap();
    assert_eq!(m["active"], doc["active"]);
    let rate = m["metrics"]["http_reqs{scenario:late}"]["values"]["rate"]
        .as_f64()
        .unwrap();
    let want = 2.0 * scenario_count(&doc, "http_reqs", "late") / late_s;
    assert!(
        (rate - want).abs() < 1e-6 * want,
        "merged: {rate} != {want}"
    );

    // An export from before spans were kept still merges: its rates are
    // over the run's elapsed time.
    let mut old = doc.clone();
    old.as_object_mut().unwrap().remove("active");
    let old_path = dir.join("old.json");
    std::fs::write(&old_path, old.to_string()).unwrap();
    let (code, o, err) = volley(&[
        "merge",
        old_path.to_str().unwrap(),
        old_path.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{o}\n{err}");
    let m = read(&merged).unwrap();
    assert!(m.get("active").is_none());
    let rate = m["metrics"]["http_reqs"]["values"]["rate"]
        .as_f64()
        .unwrap();
    let want = 2.0 * all / run_s;
    assert!(
        (rate - want).abs() < 1e-6 * want,
        "old merged: {rate} != {want}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
