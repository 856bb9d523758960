//! The summary's two tables: requests by name (what Locust users read
//! first) and the error breakdown (what failed, how, and where), both from
//! the aggregate's tags, so they cost nothing while the run goes.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::ActiveTime;
use super::format::{number, printable, time_us};
use crate::metrics::{Aggregate, Builtin, Value};

/// Rows a table shows; the rest are counted in one line.
const ROWS: usize = 30;

/// Per HTTP request name: count, failures, median, p95, p99 and rate.
/// Empty when the run made no HTTP request.
/// Each rate is over the time the scenarios that sent that name were active.
pub fn requests(agg: &Aggregate, active: ActiveTime<'_>) -> String {
    let counts = agg.by_tag(Builtin::HttpReqs.name(), "name");
    let Some(reqs) = agg.metrics.get(Builtin::HttpReqs.name()) else {
        return String::new();
    };
    if counts.is_empty() {
        return String::new();
    }
    let failed = agg.by_tag(Builtin::HttpReqFailed.name(), "name");
    let durations = agg.by_tag(Builtin::HttpReqDuration.name(), "name");
    let mut rows: Vec<(f64, String)> = counts
        .iter()
        .map(|(name, v)| {
            let count = match v {
                Value::Counter { sum } => *sum,
                _ => 0.0,
            };
            let fails = match failed.get(name) {
                Some(Value::Rate { trues, .. }) => *trues,
                _ => 0,
            };
            let pct = |p: f64| match durations.get(name) {
                Some(Value::Trend(t)) if t.count > 0 => time_us(t.percentile(p)),
                _ => "-".into(),
            };
            let row = format!(
                "    {:<40} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
                printable(name, 40),
                number(count),
                fails,
                pct(50.0),
                pct(95.0),
                pct(99.0),
                format!(
                    "{:.2}/s",
                    count / active.secs(reqs, &[("name".to_string(), name.clone())])
                ),
            );
            (count, row)
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = String::from("\n  REQUESTS\n");
    let _ = writeln!(
        out,
        "    {:<40} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "name", "count", "failed", "med", "p(95)", "p(99)", "rate"
    );
    write_rows(&mut out, rows.into_iter().map(|(_, r)| r).collect());
    out
}

/// Which metrics count failures, the tags that say how (first present
/// wins) and the tag that says where.
const FAILURES: &[(&str, Builtin, &[&str], &str)] = &[
    (
        "iteration",
        Builtin::IterationsFailed,
        &["class"],
        "scenario",
    ),
    ("http", Builtin::HttpReqFailed, &["error", "status"], "name"),
    (
        "kafka produce",
        Builtin::KafkaProduceFailed,
        &["class"],
        "topic",
    ),
    ("websocket", Builtin::WsErrors, &["class"], "scenario"),
];

/// One line of the error breakdown.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorRow {
    /// `http`, `iteration`, `kafka produce` or `websocket`.
    pub what: String,
    pub class: String,
    /// The request name, topic or scenario.
    pub target: String,
    pub count: f64,
    /// The first message seen for this class and target, if one was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Failed iterations, requests, produces and socket calls by class and
/// target, most frequent first, each with its first message.
pub fn error_rows(agg: &Aggregate) -> Vec<ErrorRow> {
    let mut rows: BTreeMap<(&str, String, String), (f64, Option<&str>)> = BTreeMap::new();
    for (what, metric, how, r#where) in FAILURES {
        let Some(series) = agg.metrics.get(metric.name()) else {
            continue;
        };
        let mut sets: Vec<_> = series.by_tags.iter().collect();
        sets.sort_by(|a, b| a.0.cmp(b.0));
        for (tags, v) in sets {
            let n = match v {
                Value::Counter { sum } => *sum,
                Value::Rate { trues, .. } => *trues as f64,
                _ => 0.0,
            };
            if n == 0.0 {
                continue;
            }
            let class = how
                .iter()
                .find_map(|k| tags.get(k).map(|c| format!("{k} {c}")))
                .unwrap_or_else(|| "unclassified".into());
            // `error refused`, `class trap` read better as the class alone.
            let class = class
                .strip_prefix("error ")
                .or_else(|| class.strip_prefix("class "))
                .map_or(class.clone(), str::to_string);
            let target = tags.get(r#where).unwrap_or("-").to_string();
            let row = rows.entry((what, class, target)).or_default();
            row.0 += n;
            if row.1.is_none() {
                row.1 = agg.first_errors.get(metric.name(), tags);
            }
        }
    }
    let mut rows: Vec<ErrorRow> = rows
        .into_iter()
        .map(|((what, class, target), (count, first))| ErrorRow {
            what: what.to_string(),
            class,
            target,
            count,
            first_error: first.map(str::to_string),
        })
        .collect();
    rows.sort_by(|a, b| b.count.total_cmp(&a.count));
    rows
}

/// The ERRORS table: [`error_rows`] with each first message under its
/// row. Empty when nothing failed.
pub fn errors(agg: &Aggregate) -> String {
    let rows = error_rows(agg);
    if rows.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut row = format!(
                "    {:<14} {:<20} {:>9}  {}",
                r.what,
                printable(&r.class, 20),
                number(r.count),
                printable(&r.target, 80)
            );
            if let Some(m) = &r.first_error {
                let _ = write!(row, "\n      first: {}", printable(m, 160));
            }
            row
        })
        .collect();
    let mut out = String::from("\n  ERRORS\n");
    let _ = writeln!(
        out,
        "    {:<14} {:<20} {:>9}  where",
        "what", "class", "count"
    );
    write_rows(&mut out, lines);
    out
}

fn write_rows(out: &mut String, rows: Vec<String>) {
    let more = rows.len().saturating_sub(ROWS);
    for r in rows.into_iter().take(ROWS) {
        let _ = writeln!(out, "{r}");
    }
    if more > 0 {
        let _ = writeln!(
            out,
            "    ... {more} more (all in --summary-export's series)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Tags;
    use std::time::Duration;

    fn add(agg: &mut Aggregate, m: Builtin, tags: &[(&str, &str)], samples: &[f64]) {
        let mut v = Value::new(m.kind());
        for s in samples {
            v.add(*s, 0);
        }
        agg.merge_value(m.name(), &Tags::new(tags.iter().copied()), &v);
    }

    #[test]
    fn requests_are_listed_by_name_busiest_first() {
        let mut agg = Aggregate::default();
        let login = [("name", "login"), ("status", "200")];
        let home = [("name", "home"), ("status", "200")];
        add(&mut agg, Builtin::HttpReqs, &login, &[1.0, 1.0]);
        add(&mut agg, Builtin::HttpReqs, &home, &[1.0, 1.0, 1.0]);
        add(&mut agg, Builtin::HttpReqFailed, &login, &[1.0, 0.0]);
        add(
            &mut agg,
            Builtin::HttpReqDuration,
            &login,
            &[1000.0, 3000.0],
        );
        let text = requests(
            &agg,
            ActiveTime::new(&Default::default(), Duration::from_secs(2)),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  REQUESTS");
        assert!(lines[2].contains("p(95)"), "{text}");
        assert!(lines[3].trim_start().starts_with("home"), "{text}");
        assert!(
            lines[3].contains("1.50/s") && lines[3].contains(" - "),
            "{text}"
        );
        let login = lines[4];
        assert!(
            login.contains("login") && login.contains("1.00/s"),
            "{text}"
        );
        assert!(login.contains(" 1 ") && login.contains("1.00ms"), "{text}");
        assert_eq!(
            requests(
                &Aggregate::default(),
                ActiveTime::new(&Default::default(), Duration::from_secs(1))
            ),
            ""
        );
    }

    #[test]
    fn errors_are_broken_down_by_class_and_target() {
        let mut agg = Aggregate::default();
        add(
            &mut agg,
            Builtin::HttpReqFailed,
            &[("name", "http://127.0.0.1:1/"), ("error", "refused")],
            &[1.0, 1.0, 1.0],
        );
        add(
            &mut agg,
            Builtin::HttpReqFailed,
            &[("name", "login"), ("status", "503")],
            &[1.0, 0.0],
        );
        add(
            &mut agg,
            Builtin::IterationsFailed,
            &[("scenario", "s"), ("class", "trap")],
            &[2.0],
        );
        let text = errors(&agg);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  ERRORS");
        assert!(
            lines[3].contains("http")
                && lines[3].contains("refused")
                && lines[3].contains(" 3 ")
                && lines[3].ends_with("http://127.0.0.1:1/"),
            "{text}"
        );
        assert!(
            lines[4].contains("iteration") && lines[4].contains("trap"),
            "{text}"
        );
        assert!(
            lines[5].contains("status 503") && lines[5].ends_with("login"),
            "{text}"
        );
        assert_eq!(lines.len(), 6, "{text}");
        let mut fine = Aggregate::default();
        add(&mut fine, Builtin::HttpReqFailed, &[("name", "x")], &[0.0]);
        add(&mut fine, Builtin::Iterations, &[], &[1.0]);
        assert_eq!(errors(&fine), "");
    }

    #[test]
    fn each_error_row_shows_its_first_message() {
        let mut agg = Aggregate::default();
        let refused = [("name", "login"), ("error", "not-allowed")];
        add(&mut agg, Builtin::HttpReqFailed, &refused, &[1.0, 1.0]);
        let tags = Tags::new(refused);
        agg.first_errors.insert(
            "http_req_failed",
            &tags,
            "10.1.2.3:80 is not an allowed host\x1b[2J",
        );
        let rows = error_rows(&agg);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].count, 2.0);
        let text = errors(&agg);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[3].contains("not-allowed"), "{text}");
        // Escape sequences from a peer never reach the terminal.
        assert_eq!(
            lines[4],
            "      first: 10.1.2.3:80 is not an allowed host\\u{1b}[2J"
        );
    }
}
