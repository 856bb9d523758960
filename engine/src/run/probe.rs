//! Probes (`[[probe]]`): one task per probe GETs its endpoint every
//! `every` and records the number it reads as a gauge named after the
//! probe, so it shows in the summary and streamed outputs and thresholds
//! can use it (`processed: value>=1000`). A last sample is taken when the
//! load ends, so a threshold compares what the system finally saw.
//!
//! Requests go through the run's HTTP client: the allowlist applies (a
//! plan target is allowed; another host needs `--allow-host`). A probe
//! that fails is said once and counted in `probe_errors{probe:NAME}`; it
//! never stops the run.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::metrics::{Kind, Metrics, Tags};
use crate::plan::probe::{Endpoint, Pick, Probe};
use crate::protocol::http::{HttpClient, Request};

/// One GET, body included.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Counts failed samples, tagged with the probe's name.
const ERRORS: &str = "probe_errors";

/// Running probes.
pub struct Probes {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Declares the gauges and starts one task per probe. `params` holds the
/// targets' URLs (by target name).
pub fn start(
    probes: &[Probe],
    params: &BTreeMap<String, String>,
    http: &HttpClient,
    metrics: &Metrics,
) -> Result<Probes, Error> {
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    if !probes.is_empty() {
        metrics
            .declare(ERRORS, Kind::Counter)
            .map_err(|m| Error::Config(format!("probes: {m}")))?;
    }
    for p in probes {
        metrics
            .declare(&p.name, Kind::Gauge)
            .map_err(|m| Error::Config(format!("probe `{}`: {m}", p.name)))?;
        let url = match &p.endpoint {
            Endpoint::Url(u) => u.clone(),
            Endpoint::Target { name, path } => {
                let base = params.get(name).ok_or_else(|| {
                    Error::Config(format!("probe `{}`: target `{name}` has no URL", p.name))
                })?;
                format!("{}{path}", base.trim_end_matches('/'))
            }
        };
        let (p, http, metrics, stop) = (p.clone(), http.clone(), metrics.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let tags = Tags::new([("probe", p.name.as_str())]);
            let mut tick = tokio::time::interval(p.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut warned = false;
            loop {
                let last = tokio::select! {
                    _ = tick.tick() => false,
                    () = stop.cancelled() => true,
                };
                match sample(&http, &url, &p.pick).await {
                    Ok(v) => metrics.add(&p.name, Kind::Gauge, &Tags::default(), v),
                    Err(why) => {
                        metrics.add(ERRORS, Kind::Counter, &tags, 1.0);
                        if !std::mem::replace(&mut warned, true) {
                            crate::output::log(
                                "WARN",
                                format_args!("WARN  probe {}: {why} (said once)", p.name),
                            );
                        }
                    }
                }
                if last {
                    return;
                }
            }
        }));
    }
    Ok(Probes { stop, tasks })
}

impl Probes {
    /// Takes each probe's last sample (waiting at most a few seconds) and
    /// stops them.
    pub async fn stop(self) {
        self.stop.cancel();
        for mut t in self.tasks {
            if tokio::time::timeout(TIMEOUT + Duration::from_secs(1), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }
}

async fn sample(http: &HttpClient, url: &str, pick: &Pick) -> Result<f64, String> {
    let resp = http
        .send(Request {
            method: "GET".into(),
            url: url.to_string(),
            timeout: Some(TIMEOUT),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !(200..300).contains(&resp.status) {
        return Err(format!("{url} answered {}", resp.status));
    }
    let body = String::from_utf8_lossy(&resp.body);
    match pick {
        Pick::Prometheus { metric, labels } => prometheus_value(&body, metric, labels)
            .ok_or_else(|| format!("{url} has no series {metric} with {labels:?}")),
        Pick::Json(path) => json_value(&body, path).map_err(|m| format!("{url}: {m}")),
    }
}

/// The sum of every series of `metric` whose labels include `want`, in
/// Prometheus' text format; None when no series matches.
pub fn prometheus_value(text: &str, metric: &str, want: &[(String, String)]) -> Option<f64> {
    let mut sum = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
        if &line[..name_end] != metric {
            continue;
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            match parse_labels(&line[name_end + 1..]) {
                Some(x) => x,
                None => continue,
            }
        } else {
            (Vec::new(), &line[name_end..])
        };
        if !want
            .iter()
            .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        {
            continue;
        }
        let value = rest.split_whitespace().next()?;
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().ok()?,
        };
        *sum.get_or_insert(0.0) += v;
    }
    sum
}

/// `k="v",k2="v2"}rest` -> the labels and what follows the `}`.
fn parse_labels(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = s.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Some((labels, r));
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_string();
        let body = rest[eq + 1..].trim_start();
        let mut chars = body.char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => {
                    value.push('\n');
                    escaped = false;
                }
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        labels.push((key, value));
        rest = body[end? + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

/// The number at dot path `path` of a JSON document (a number, or a
/// string holding one).
fn json_value(text: &str, path: &[String]) -> Result<f64, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut at = &doc;
    for (i, step) in path.iter().enumerate() {
        let next = match at {
            serde_json::Value::Object(m) => m.get(step),
            serde_json::Value::Array(a) => step.parse::<usize>().ok().and_then(|n| a.get(n)),
            _ => None,
        };
        at = next.ok_or_else(|| format!("no `{}` in the answer", path[..=i].join(".")))?;
    }
    match at {
        serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".into()),
        serde_json::Value::String(s) => s
            .parse()
            .map_err(|_| format!("`{}` is \"{s}\", not a number", path.join("."))),
        serde_json::Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        other => Err(format!("`{}` is {other}, not a number", path.join("."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP processed_total Messages processed.
# TYPE processed_total counter
processed_total{stage="ingest",pod="a"} 10
processed_total{stage="ingest",pod="b"} 5 1700000000000
processed_total{stage="store",pod="a"} 7
queue_depth 3.5
odd{path="a\"b,c}"} 2
"#;

    fn want(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn prometheus_series_are_matched_by_labels_and_added() {
        let v = |m: &str, w: &[(&str, &str)]| prometheus_value(TEXT, m, &want(w));
        assert_eq!(v("processed_total", &[]), Some(22.0));
        assert_eq!(v("processed_total", &[("stage", "ingest")]), Some(15.0));
        assert_eq!(
            v("processed_total", &[("stage", "ingest"), ("pod", "b")]),
            Some(5.0)
        );
        assert_eq!(v("queue_depth", &[]), Some(3.5));
        assert_eq!(v("odd", &[("path", "a\"b,c}")]), Some(2.0));
        assert_eq!(v("processed_total", &[("stage", "none")]), None);
        assert_eq!(v("processed", &[]), None);
    }

    #[test]
    fn json_paths_reach_numbers() {
        let doc = r#"{"messages": 40, "a": {"b": [1, {"c": "2.5"}]}, "s": "x"}"#;
        let p = |s: &str| -> Vec<String> { s.split('.').map(str::to_string).collect() };
        assert_eq!(json_value(doc, &p("messages")), Ok(40.0));
        assert_eq!(json_value(doc, &p("a.b.1.c")), Ok(2.5));
        assert!(json_value(doc, &p("a.x")).unwrap_err().contains("no `a.x`"));
        assert!(
            json_value(doc, &p("s"))
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            json_value("<html>", &p("a"))
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
