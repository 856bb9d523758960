//! The end-of-test summary and the once-a-second progress line, in k6's
//! layout: thresholds, checks, then every metric with its aggregates.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use super::format::{bytes, number, printable, time_us};
use super::{ActiveTime, Report};
use crate::metrics::{Aggregate, Kind, Selector, Value};

const WIDTH: usize = 32;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn ok(&self, ok: bool) -> String {
        if ok {
            self.paint("32", "✓")
        } else {
            self.paint("31", "✗")
        }
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn is_data(name: &str) -> bool {
    name.starts_with("data_") || name.ends_with("_bytes")
}

/// One metric's aggregates in k6's words, e.g. `avg=1.2ms min=...`;
/// counters' rates over `secs`, the time their series were active.
pub(super) fn describe(name: &str, v: &Value, secs: f64) -> String {
    let secs = secs.max(1e-9);
    match v {
        Value::Counter { sum } if is_data(name) => {
            format!("{:<10} {}/s", bytes(*sum), bytes(sum / secs))
        }
        Value::Counter { sum } => format!("{:<10} {:.2}/s", number(*sum), sum / secs),
        Value::Gauge {
            value, min, max, ..
        } => format!(
            "{:<10} min={} max={}",
            number(*value),
            number(if min.is_finite() { *min } else { 0.0 }),
            number(if max.is_finite() { *max } else { 0.0 })
        ),
        Value::Rate { trues, total } => format!(
            "{:>6.2}% {} {:<8} {} {}",
            v.rate() * 100.0,
            "✓",
            trues,
            "✗",
            total - trues
        ),
        Value::Trend(t) => {
            let stats = [
                ("avg", t.avg()),
                ("min", t.min_or_zero() as f64),
                ("med", t.percentile(50.0)),
                ("max", t.max as f64),
                ("p(90)", t.percentile(90.0)),
                ("p(95)", t.percentile(95.0)),
                ("p(99)", t.percentile(99.0)),
            ];
            stats
                .iter()
                .map(|(k, us)| format!("{k}={}", time_us(*us)))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

fn dotted(label: &str, indent: usize) -> String {
    let pad = WIDTH.saturating_sub(label.chars().count() + indent);
    format!("{}{label}{}:", " ".repeat(indent), ".".repeat(pad.max(2)))
}

/// Renders the end-of-test summary.
/// Per-version iterations and each swap, when the run swapped.
fn render_versions(out: &mut String, report: &Report) {
    if report.swaps.is_empty() {
        return;
    }
    let agg = &report.aggregate;
    let failed = agg.by_tag("iterations_failed", "version");
    let durations = agg.by_tag("iteration_duration", "version");
    let _ = writeln!(out, "\n  VERSIONS");
    for (version, v) in agg.by_tag("iterations", "version") {
        let n = match v {
            Value::Counter { sum } => sum,
            _ => 0.0,
        };
        let f = match failed.get(&version) {
            Some(Value::Counter { sum }) => *sum,
            _ => 0.0,
        };
        let p95 = match durations.get(&version) {
            Some(Value::Trend(t)) => format!(", iteration p(95)={}", time_us(t.percentile(95.0))),
            _ => String::new(),
        };
        let _ = writeln!(out, "    {version}: {n} iterations, {f} failed{p95}");
    }
    let _ = writeln!(out, "\n  SWAPS");
    for e in &report.swaps {
        let what = match &e.verdict {
            crate::swap::Verdict::Committed => "committed".to_string(),
            crate::swap::Verdict::RolledBack(why) => format!("rolled back: {why}"),
            crate::swap::Verdict::Refused(why) => format!("refused: {}", printable(why, 300)),
            crate::swap::Verdict::Unchanged => "unchanged".to_string(),
        };
        let _ = writeln!(
            out,
            "    at {:.1}s {} {} -> {} in {:.0}ms: {what}{}",
            e.at.as_secs_f64(),
            e.scenario,
            e.from,
            if e.to.is_empty() { "?" } else { &e.to },
            e.took.as_secs_f64() * 1e3,
            match e.interrupted {
                0 => String::new(),
                n => format!(" ({n} iterations interrupted by the swap)"),
            }
        );
    }
}

pub fn render_summary(report: &Report, color: bool) -> String {
    let st = Style { color };
    let agg = &report.aggregate;
    let mut out = String::new();
    let total_vus: u32 = report.scenarios.iter().map(|s| s.max_vus).sum();
    let _ = writeln!(
        out,
        "\n  scenarios: {} scenario{}, {} max VUs, {}",
        report.scenarios.len(),
        if report.scenarios.len() == 1 { "" } else { "s" },
        total_vus,
        super::super::plan::format_duration(report.elapsed)
    );
    for s in &report.scenarios {
        let active = match report.active.get(&s.name) {
            Some(span) => format!(", active {:.1}s-{:.1}s", span.start_s, span.end_s),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "           * {}: {}, {} max VUs ({}){active}",
            s.name, s.executor, s.max_vus, s.component
        );
    }
    let _ = writeln!(
        out,
        "       seed: {} (repeat with --seed {})",
        report.seed, report.seed
    );
    if let Some(why) = &report.aborted {
        let _ = writeln!(out, "\n  {} run stopped early: {why}", st.paint("33", "!"));
    }

    if !report.thresholds.is_empty() {
        let _ = writeln!(out, "\n  THRESHOLDS");
        let mut by_selector: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &report.thresholds {
            let t = &r.threshold;
            let line = if !r.metric_found {
                format!(
                    "{} '{}' no such metric: not built in and never recorded",
                    st.ok(false),
                    t.source
                )
            } else if r.no_data {
                let why = if r.ok {
                    "no data: no samples (noData = \"pass\")".to_string()
                } else {
                    format!(
                        "no data: no samples of {} in this run (if that is fine, write {{ threshold = \"{}\", noData = \"pass\" }})",
                        t.selector,
                        t.source.replace('"', "\\\"")
                    )
                };
                format!("{} '{}' {why}", st.ok(r.ok), t.source)
            } else {
                let shown = match agg.kind_of(&t.selector.metric) {
                    Some(Kind::Rate) => format!("{:.2}%", r.observed * 100.0),
                    Some(Kind::Trend) => time_us(r.observed * 1000.0),
                    _ => number(r.observed),
                };
                let lhs = t
                    .source
                    .split(['<', '>', '=', '!'])
                    .next()
                    .unwrap_or("")
                    .trim();
                format!("{} '{}' {lhs}={shown}", st.ok(r.ok), t.source)
            };
            by_selector
                .entry(t.selector.to_string())
                .or_default()
                .push(line);
        }
        for (sel, lines) in by_selector {
            let _ = writeln!(out, "    {sel}");
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
    }

    render_versions(&mut out, report);
    if let Some(f) = &report.faults {
        out.push_str(&super::faults::table(f));
    }

    let checks = checks_by_group(agg);
    if !checks.is_empty() {
        let _ = writeln!(out, "\n  CHECKS");
        let mut shown: &[String] = &[];
        for ((group, name), v) in &checks {
            // The headers of the groups this one is in that are not shown yet.
            let same = shown.iter().zip(group).take_while(|(a, b)| a == b).count();
            for (depth, g) in group.iter().enumerate().skip(same) {
                let _ = writeln!(out, "    {}█ {}", "  ".repeat(depth), printable(g, 200));
            }
            shown = group;
            let pad = "  ".repeat(group.len());
            if let Value::Rate { trues, total } = v {
                let ok = trues == total;
                let _ = writeln!(out, "    {pad}{} {}", st.ok(ok), printable(name, 200));
                if !ok {
                    let _ = writeln!(
                        out,
                        "      {pad}{}",
                        st.dim(&format!(
                            "↳ {:.0}% — ✓ {trues} / ✗ {}",
                            v.rate() * 100.0,
                            total - trues
                        ))
                    );
                }
            }
        }
    }

    let active = ActiveTime::new(&report.active, report.elapsed);
    out.push_str(&super::tables::requests(agg, active));
    out.push_str(&super::tables::errors(agg));

    // Sub-metrics that thresholds name are listed under their metric.
    let mut subs: BTreeMap<String, Vec<Selector>> = BTreeMap::new();
    for r in &report.thresholds {
        if !r.threshold.selector.filter.is_empty() {
            let list = subs.entry(r.threshold.selector.metric.clone()).or_default();
            if !list.contains(&r.threshold.selector) {
                list.push(r.threshold.selector.clone());
            }
        }
    }
    let _ = writeln!(out);
    for (name, series) in &agg.metrics {
        let v = series.total();
        let _ = writeln!(
            out,
            "    {} {}",
            dotted(name, 0),
            describe(name, &v, active.secs(series, &[]))
        );
        for sel in subs.get(name).into_iter().flatten() {
            let label = format!(
                "{{ {} }}",
                sel.filter
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let v = series.matching(&sel.filter);
            let _ = writeln!(
                out,
                "    {} {}",
                dotted(&label, 2),
                describe(name, &v, active.secs(series, &sel.filter))
            );
        }
        let listed = subs.get(name).map_or(&[][..], Vec::as_slice);
        split_by_tag(&mut out, agg, name, listed, active);
    }
    let _ = writeln!(out);
    out
}

/// The run's checks by group and name, as k6 lists them: those outside any
/// group first, then each group's (its path `::outer::inner` split into
/// names), each group after the one it is in.
fn checks_by_group(agg: &Aggregate) -> BTreeMap<(Vec<String>, String), Value> {
    let mut out: BTreeMap<(Vec<String>, String), Value> = BTreeMap::new();
    for (tags, v) in agg
        .metrics
        .get("checks")
        .map(|s| &s.by_tags)
        .into_iter()
        .flatten()
    {
        let Some(name) = tags.get("check") else {
            continue;
        };
        let group = tags.get("group").unwrap_or("");
        let path = group
            .split("::")
            .filter(|g| !g.is_empty())
            .map(String::from);
        (out.entry((path.collect(), name.to_string())))
            .or_insert_with(|| Value::new(Kind::Rate))
            .merge(v);
    }
    out
}

/// Metrics whose total mixes things apart, listed per value of a tag too
/// (two consumer groups' lags summed say nothing about either).
const SPLIT: &[(&str, &str)] = &[("kafka_consumer_lag", "group")];

fn split_by_tag(
    out: &mut String,
    agg: &Aggregate,
    name: &str,
    listed: &[Selector],
    active: ActiveTime<'_>,
) {
    let Some((_, tag)) = SPLIT.iter().find(|(m, _)| *m == name) else {
        return;
    };
    let parts = agg.by_tag(name, tag);
    if parts.len() < 2 {
        return;
    }
    let Some(series) = agg.metrics.get(name) else {
        return;
    };
    for (value, v) in parts {
        let shown = listed
            .iter()
            .any(|s| s.filter.len() == 1 && s.filter.iter().any(|(k, x)| k == tag && *x == value));
        if !shown {
            let label = format!("{{ {tag}:{value} }}");
            let _ = writeln!(
                out,
                "    {} {}",
                dotted(&printable(&label, 100), 2),
                describe(
                    name,
                    &v,
                    active.secs(series, &[(tag.to_string(), value.clone())])
                )
            );
        }
    }
}

/// The end-of-test summary on stdout.
#[derive(Debug)]
pub struct Summary {
    pub color: bool,
}

impl super::seam::Output for Summary {
    fn name(&self) -> &str {
        "summary"
    }

    fn finish(&mut self, report: &Report) -> Result<(), crate::Error> {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) must not fail the run.
        match &report.handled_summary {
            // The scenario's own summary (k6's `handleSummary`) instead.
            Some(own) => {
                let _ = out.write_all(own);
            }
            None => {
                let _ = out.write_all(render_summary(report, self.color).as_bytes());
            }
        }
        let _ = out.flush();
        Ok(())
    }
}

/// One progress line: elapsed, VUs, iterations (total and per second),
/// requests per second, failures, and a recent p95.
pub fn render_progress(
    elapsed: Duration,
    interval: &Aggregate,
    total: &Aggregate,
    vus: u64,
) -> String {
    let its = total.counter("iterations");
    let its_s = interval.counter("iterations");
    let reqs_s = interval.counter("http_reqs");
    let failed = total.counter("iterations_failed");
    let p95 = ["http_req_duration", "iteration_duration"]
        .iter()
        .find_map(|m| match interval.metrics.get(*m).map(|s| s.total()) {
            Some(Value::Trend(t)) if t.count > 0 => {
                Some(format!("{m} p(95)={}", time_us(t.percentile(95.0))))
            }
            _ => None,
        })
        .unwrap_or_default();
    let mut line = format!(
        "[{:>6.1}s] vus={vus:<5} iterations={} ({its_s:.0}/s)",
        elapsed.as_secs_f64(),
        number(its)
    );
    if reqs_s > 0.0 || total.counter("http_reqs") > 0.0 {
        let _ = write!(line, " http_reqs={reqs_s:.0}/s");
    }
    if failed > 0.0 {
        let _ = write!(line, " failed={}", number(failed));
    }
    if !p95.is_empty() {
        let _ = write!(line, " {p95}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Tags, Threshold, ThresholdResult, Thresholds};
    use crate::output::ScenarioReport;

    fn report() -> Report {
        let mut agg = Aggregate::default();
        let login = Tags::new([("name", "login")]);
        let mut d = Value::new(Kind::Trend);
        for us in [1000.0, 2000.0, 3000.0, 4000.0] {
            d.add(us, 0);
        }
        agg.merge_value("http_req_duration", &login, &d);
        let mut c = Value::new(Kind::Counter);
        c.add(4.0, 0);
        agg.merge_value("http_reqs", &login, &c);
        let mut pass = Value::new(Kind::Rate);
        for _ in 0..3 {
            pass.add(1.0, 0);
        }
        agg.merge_value("checks", &Tags::new([("check", "status is 200")]), &pass);
        let mut half = Value::new(Kind::Rate);
        half.add(1.0, 0);
        half.add(0.0, 0);
        agg.merge_value("checks", &Tags::new([("check", "body ok")]), &half);
        let sel = Selector::parse("http_req_duration{name:login}").unwrap();
        let ts = Thresholds {
            list: vec![
                Threshold::parse(sel.clone(), "p(95)<10").unwrap(),
                Threshold::parse(Selector::parse("checks").unwrap(), "rate>0.9").unwrap(),
            ],
        };
        let results: Vec<ThresholdResult> =
            ts.evaluate(&agg, Duration::from_secs(2), |n| agg.kind_of(n));
        Report {
            aggregate: agg,
            elapsed: Duration::from_secs(2),
            thresholds: results,
            scenarios: vec![ScenarioReport {
                name: "s".into(),
                executor: "constant-vus".into(),
                component: "x.wasm".into(),
                max_vus: 3,
            }],
            active: Default::default(),
            aborted: None,
            seed: 42,
            swaps: Vec::new(),
            faults: None,
            handled_summary: None,
        }
    }

    #[test]
    fn summary_shows_thresholds_checks_and_metrics() {
        let text = render_summary(&report(), false);
        assert!(text.contains("✓ 'p(95)<10'"), "{text}");
        assert!(text.contains("seed: 42 (repeat with --seed 42)"), "{text}");
        assert!(text.contains("✗ 'rate>0.9' rate=80.00%"), "{text}");
        assert!(text.contains("✓ status is 200"), "{text}");
        assert!(
            text.contains("✗ body ok") && text.contains("↳ 50% — ✓ 1 / ✗ 1"),
            "{text}"
        );
        assert!(text.contains("avg=2.50ms min=1.00ms"), "{text}");
        assert!(text.contains("{ name:login }"), "{text}");
        assert!(
            text.contains("http_reqs") && text.contains("2.00/s"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        assert!(render_summary(&report(), true).contains('\x1b'));
    }

    #[test]
    fn checks_are_listed_under_their_groups() {
        let mut r = report();
        for (group, check) in [
            ("::cart", "added"),
            ("::cart::pay", "paid"),
            ("::cart", "shown"),
            ("::browse", "listed"),
        ] {
            let mut v = Value::new(Kind::Rate);
            v.add(1.0, 0);
            let tags = Tags::new([("check", check), ("group", group)]);
            r.aggregate.merge_value("checks", &tags, &v);
        }
        let text = render_summary(&r, false);
        let at = text.find("  CHECKS\n").expect("a CHECKS section");
        let lines: Vec<&str> = text[at..].lines().skip(1).take(10).collect();
        assert_eq!(
            lines,
            [
                "    ✗ body ok",
                "      ↳ 50% — ✓ 1 / ✗ 1",
                "    ✓ status is 200",
                "    █ browse",
                "      ✓ listed",
                "    █ cart",
                "      ✓ added",
                "      ✓ shown",
                "      █ pay",
                "        ✓ paid",
            ],
            "{text}"
        );
    }

    #[test]
    fn consumer_lag_is_listed_per_group() {
        let mut r = report();
        for (group, lag) in [("billing", 7.0), ("search", 1200.0)] {
            let mut g = Value::new(Kind::Gauge);
            g.add(lag, 0);
            r.aggregate
                .merge_value("kafka_consumer_lag", &Tags::new([("group", group)]), &g);
        }
        let text = render_summary(&r, false);
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle}:\n{text}"))
                .to_string()
        };
        assert!(line("{ group:billing }").contains("7 "), "{text}");
        assert!(line("{ group:search }").contains("1200"), "{text}");
    }

    #[test]
    fn progress_is_one_line() {
        let r = report();
        let line = render_progress(Duration::from_secs(3), &r.aggregate, &r.aggregate, 7);
        assert!(!line.contains('\n'));
        assert!(
            line.contains("vus=7") && line.contains("http_reqs=4/s"),
            "{line}"
        );
    }
}
