//! `volley report --html`: one self-contained HTML file from a summary
//! export (a final one or a checkpoint). Charts are SVG drawn by the engine
//! and inlined; no script, no stylesheet or font is fetched, so the file
//! opens anywhere, offline, and mails as one attachment.
//!
//! Reads an [`Export`]; every name in it (metrics, checks, tags come from
//! scenarios) is escaped on the way into the page.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::chart::{Line, LineChart, escape};
use super::export::{Export, aggregate_of};
use super::timeline::Point;
use crate::metrics::{Aggregate, Value};

const WIDTH: u32 = 880;
const HEIGHT: u32 = 260;

/// Key trends drawn over time and as histograms, in this order, when the
/// run has them.
const KEY_TRENDS: &[&str] = &[
    "http_req_duration",
    "iteration_duration",
    "kafka_e2e_latency",
    "ws_fanout_latency",
];

/// Bins of the histograms in the page.
const BINS: usize = 60;

/// The whole page.
pub fn html(export: &Export) -> Result<String, super::ExportError> {
    let agg = aggregate_of(export)?;
    let tl = &export.timeline;
    let mut page = String::with_capacity(256 << 10);
    page.push_str(HEAD);
    header(&mut page, export);
    thresholds(&mut page, export);
    checks(&mut page, export);

    section(&mut page, "throughput", "Throughput");
    let markers = swap_markers(export);
    let chart = |title: &str, unit: &str, lines: Vec<Line>| LineChart {
        title: title.into(),
        unit: unit.into(),
        lines,
        markers: markers.clone(),
        width: WIDTH,
        height: HEIGHT,
    };
    let per_sec = |f: fn(&Point) -> u64| -> Vec<(f64, f64)> {
        tl.iter()
            .map(|p| (p.t, f(p) as f64 / p.span.max(1e-9)))
            .collect()
    };
    let mut lines = vec![Line {
        name: "iterations/s".into(),
        points: per_sec(|p| p.iterations),
    }];
    if tl.iter().any(|p| p.http_reqs > 0) {
        lines.insert(
            0,
            Line {
                name: "http_reqs/s".into(),
                points: per_sec(|p| p.http_reqs),
            },
        );
    }
    page.push_str(&chart("Requests and iterations per second", "", lines).svg());
    let vus = vec![Line {
        name: "VUs".into(),
        points: tl.iter().map(|p| (p.t, p.vus as f64)).collect(),
    }];
    page.push_str(&chart("Active VUs", "", vus).svg());
    page.push_str("</section>");

    section(&mut page, "latency", "Latency over time");
    for name in trends_over_time(tl) {
        let pick = |f: fn(&super::timeline::Percentiles) -> f64| -> Vec<(f64, f64)> {
            tl.iter()
                .filter_map(|p| p.trends.get(&name).map(|v| (p.t, f(v))))
                .collect()
        };
        let lines = vec![
            Line {
                name: "p50".into(),
                points: pick(|v| v.p50),
            },
            Line {
                name: "p95".into(),
                points: pick(|v| v.p95),
            },
            Line {
                name: "p99".into(),
                points: pick(|v| v.p99),
            },
            Line {
                name: "max".into(),
                points: pick(|v| v.max),
            },
        ];
        page.push_str(&chart(&name, "ms", lines).svg());
    }
    page.push_str("</section>");

    errors(&mut page, tl, &chart);
    kafka(&mut page, export, tl, &chart);

    section(&mut page, "histograms", "Latency histograms");
    for name in KEY_TRENDS
        .iter()
        .filter(|n| has_samples(&agg, n))
        .map(|s| s.to_string())
        .chain(custom_trends(export))
    {
        if let Ok(svg) = super::picture::histogram(export, &name, BINS, (WIDTH, HEIGHT)) {
            page.push_str(&svg);
        }
    }
    page.push_str("</section>");

    scenarios(&mut page, &agg, export);
    versions(&mut page, &agg, export);
    metrics(&mut page, export);
    page.push_str("</body></html>\n");
    Ok(page)
}

/// The page is polyglot: valid HTML and well-formed XML (every element
/// closed, only XML's entities), so tools, and the tests, can parse it as XML.
const HEAD: &str = r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>
<meta name="generator" content="volley report"/>
<title>volley report</title>
<style>
body{font-family:"DejaVu Sans",sans-serif;margin:24px auto;max-width:920px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37}.fail{color:#c62828;font-weight:bold}
svg{display:block;margin:10px 0}
.meta{color:#555}
</style></head><body>
<h1>volley report</h1>
"#;

fn section(page: &mut String, id: &str, title: &str) {
    let _ = write!(page, r#"<section id="{id}"><h2>{title}</h2>"#);
}

fn header(page: &mut String, e: &Export) {
    let secs = e.state.test_run_duration_ms / 1000.0;
    let _ = write!(page, r#"<p class="meta" id="run">duration {secs:.1}s"#);
    if let Some(seed) = e.state.seed {
        let _ = write!(page, ", seed {seed}");
    }
    if e.state.checkpoint {
        page.push_str(", <b>checkpoint</b> (the run had not ended when this was written)");
    }
    if let Some(why) = &e.state.aborted {
        let _ = write!(
            page,
            r#", <span class="fail">stopped early: {}</span>"#,
            escape(why)
        );
    }
    let failed = e
        .metrics
        .values()
        .flat_map(|m| m.thresholds.values())
        .filter(|t| !t.ok)
        .count();
    let total: usize = e.metrics.values().map(|m| m.thresholds.len()).sum();
    if total > 0 {
        let (class, verdict) = if failed == 0 {
            ("ok", format!("all {total} thresholds passed"))
        } else {
            ("fail", format!("{failed} of {total} thresholds failed"))
        };
        let _ = write!(page, r#", <span class="{class}">{verdict}</span>"#);
    }
    page.push_str("</p>");
}

fn thresholds(page: &mut String, e: &Export) {
    section(page, "thresholds", "Thresholds");
    let rows: Vec<_> = e
        .metrics
        .iter()
        .flat_map(|(key, m)| m.thresholds.iter().map(move |(expr, o)| (key, expr, o, m)))
        .collect();
    if rows.is_empty() {
        page.push_str("<p>none</p></section>");
        return;
    }
    page.push_str("<table><tr><th></th><th>metric</th><th>threshold</th><th>value</th></tr>");
    for (key, expr, o, m) in rows {
        let (class, mark) = if o.ok { ("ok", "✓") } else { ("fail", "✗") };
        let no_data = if o.no_data { " (no data)" } else { "" };
        let _ = write!(
            page,
            r#"<tr class="{class}"><td>{mark}</td><td>{}</td><td>{}{no_data}</td><td>{}</td></tr>"#,
            escape(key),
            escape(expr),
            escape(&m.summary),
        );
    }
    page.push_str("</table></section>");
}

fn checks(page: &mut String, e: &Export) {
    section(page, "checks", "Checks");
    let checks = &e.root_group.checks;
    if checks.is_empty() {
        page.push_str("<p>none</p></section>");
        return;
    }
    page.push_str("<table><tr><th>check</th><th>passes</th><th>fails</th><th>rate</th></tr>");
    for c in checks.values() {
        let total = (c.passes + c.fails).max(1) as f64;
        let class = if c.fails == 0 { "ok" } else { "fail" };
        let _ = write!(
            page,
            r#"<tr class="{class}"><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.2}%</td></tr>"#,
            escape(&c.name),
            c.passes,
            c.fails,
            c.passes as f64 / total * 100.0
        );
    }
    page.push_str("</table></section>");
}

fn errors(page: &mut String, tl: &[Point], chart: &dyn Fn(&str, &str, Vec<Line>) -> LineChart) {
    section(page, "errors", "Errors over time");
    let per_sec = |f: &dyn Fn(&Point) -> u64| -> Vec<(f64, f64)> {
        tl.iter()
            .map(|p| (p.t, f(p) as f64 / p.span.max(1e-9)))
            .collect()
    };
    let mut lines = vec![
        Line {
            name: "failed iterations/s".into(),
            points: per_sec(&|p| p.iterations_failed),
        },
        Line {
            name: "failed requests/s".into(),
            points: per_sec(&|p| p.http_failed),
        },
    ];
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for p in tl {
        for (k, v) in &p.errors {
            *totals.entry(k).or_default() += v;
        }
    }
    let mut top: Vec<_> = totals.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    for (class, _) in top.iter().take(4) {
        let class = class.to_string();
        lines.push(Line {
            name: class.clone(),
            points: per_sec(&|p| p.errors.get(&class).copied().unwrap_or(0)),
        });
    }
    page.push_str(&chart("Failures per second", "", lines).svg());
    if !totals.is_empty() {
        page.push_str("<table><tr><th>class</th><th>count</th></tr>");
        for (class, n) in top {
            let _ = write!(
                page,
                r#"<tr><td>{}</td><td class="n">{n}</td></tr>"#,
                escape(class)
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

fn kafka(
    page: &mut String,
    e: &Export,
    tl: &[Point],
    chart: &dyn Fn(&str, &str, Vec<Line>) -> LineChart,
) {
    let rows: Vec<_> = e
        .metrics
        .iter()
        .filter(|(k, _)| !k.contains('{') && is_kafka_or_fan_out(k))
        .collect();
    let groups: Vec<&String> = {
        let mut g: Vec<&String> = tl.iter().flat_map(|p| p.lag.keys()).collect();
        g.sort();
        g.dedup();
        g
    };
    if rows.is_empty() && groups.is_empty() {
        return;
    }
    section(page, "kafka", "Kafka and fan-out");
    if !groups.is_empty() {
        let lines = groups
            .iter()
            .map(|g| Line {
                name: (*g).clone(),
                points: tl
                    .iter()
                    .filter_map(|p| p.lag.get(*g).map(|v| (p.t, *v)))
                    .collect(),
            })
            .collect();
        page.push_str(&chart("Consumer lag by group (messages)", "", lines).svg());
    }
    page.push_str("<table><tr><th>metric</th><th>value</th></tr>");
    for (k, m) in rows {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(k),
            escape(&m.summary)
        );
    }
    page.push_str("</table></section>");
}

fn is_kafka_or_fan_out(name: &str) -> bool {
    name.starts_with("kafka_")
        || [
            "_delivered",
            "_complete",
            "_incomplete",
            "_lost",
            "_fanout_latency",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

fn scenarios(page: &mut String, agg: &Aggregate, e: &Export) {
    section(page, "scenarios", "Scenarios");
    per_tag(page, agg, e, "scenario");
    page.push_str("</section>");
}

fn versions(page: &mut String, agg: &Aggregate, e: &Export) {
    if agg.by_tag("iterations", "version").is_empty() && e.swaps.is_empty() {
        return;
    }
    section(page, "versions", "Versions");
    per_tag(page, agg, e, "version");
    if !e.swaps.is_empty() {
        page.push_str(
            "<table><tr><th>at</th><th>scenario</th><th>from</th><th>to</th><th>result</th></tr>",
        );
        for s in &e.swaps {
            let f = |k: &str| escape(&s[k].as_str().map(String::from).unwrap_or_default());
            let _ = write!(
                page,
                r#"<tr><td class="n">{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                s["at"].as_f64().unwrap_or(0.0),
                f("scenario"),
                f("from"),
                f("to"),
                f("result"),
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

/// One row per value of `tag`: iterations, failures, requests, latency;
/// the rate over the time the row's scenarios were active.
fn per_tag(page: &mut String, agg: &Aggregate, e: &Export, tag: &str) {
    let elapsed =
        std::time::Duration::from_secs_f64(e.state.test_run_duration_ms.max(0.0) / 1000.0);
    let active = super::ActiveTime::new(&e.active, elapsed);
    let secs = |k: &str| match agg.metrics.get("iterations") {
        Some(series) => active.secs(series, &[(tag.to_string(), k.to_string())]),
        None => elapsed.as_secs_f64().max(1e-9),
    };
    let iterations = agg.by_tag("iterations", tag);
    let failed = agg.by_tag("iterations_failed", tag);
    let reqs = agg.by_tag("http_reqs", tag);
    let duration = agg.by_tag("iteration_duration", tag);
    let http = agg.by_tag("http_req_duration", tag);
    let mut keys: Vec<&String> = iterations.keys().chain(reqs.keys()).collect();
    keys.sort();
    keys.dedup();
    let _ = write!(
        page,
        "<table><tr><th>{tag}</th><th>iterations</th><th>failed</th><th>iterations/s</th><th>iteration p95</th><th>http_reqs</th><th>http p95</th></tr>"
    );
    let sum = |m: &BTreeMap<String, Value>, k: &str| match m.get(k) {
        Some(Value::Counter { sum }) => *sum,
        _ => 0.0,
    };
    let p95 = |m: &BTreeMap<String, Value>, k: &str| match m.get(k) {
        Some(Value::Trend(t)) if t.count > 0 => super::format::time_us(t.percentile(95.0)),
        _ => "-".into(),
    };
    for k in keys {
        let _ = write!(
            page,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.2}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(k),
            sum(&iterations, k),
            sum(&failed, k),
            sum(&iterations, k) / secs(k),
            p95(&duration, k),
            sum(&reqs, k),
            p95(&http, k),
        );
    }
    page.push_str("</table>");
}

fn metrics(page: &mut String, e: &Export) {
    section(page, "metrics", "All metrics");
    page.push_str("<table><tr><th>metric</th><th>type</th><th>value</th></tr>");
    for (k, m) in &e.metrics {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(k),
            m.kind.as_str(),
            escape(&m.summary)
        );
    }
    page.push_str("</table></section>");
}

fn swap_markers(e: &Export) -> Vec<(f64, String)> {
    e.swaps
        .iter()
        .filter_map(|s| {
            let at = s["at"].as_f64()?;
            let to = s["to"].as_str().unwrap_or("?");
            let result = s["result"].as_str().unwrap_or("");
            Some((at, format!("swap → {to} {result}")))
        })
        .collect()
}

/// Trends the timeline has, key ones first.
fn trends_over_time(tl: &[Point]) -> Vec<String> {
    let mut names: Vec<String> = tl.iter().flat_map(|p| p.trends.keys().cloned()).collect();
    names.sort();
    names.dedup();
    names.sort_by_key(|n| KEY_TRENDS.iter().position(|k| k == n).unwrap_or(usize::MAX));
    names
}

fn has_samples(agg: &Aggregate, name: &str) -> bool {
    matches!(agg.metrics.get(name).map(|s| s.total()), Some(Value::Trend(t)) if t.count > 0)
}

/// Custom trends of the run (not built in), at most a few.
fn custom_trends(e: &Export) -> impl Iterator<Item = String> + '_ {
    let builtin = |n: &str| crate::metrics::Builtin::ALL.iter().any(|b| b.name() == n);
    e.metrics
        .iter()
        .filter(move |(k, m)| {
            m.kind == crate::metrics::Kind::Trend
                && !k.contains('{')
                && !builtin(k)
                && !KEY_TRENDS.contains(&k.as_str())
                && m.values.get("count").is_some_and(|c| *c > 0.0)
        })
        .map(|(k, _)| k.clone())
        .take(6)
}
