//! `--out prometheus-rw=URL`: Prometheus remote write 1.0 (a protobuf
//! `WriteRequest`, snappy-compressed), one write a second.
//!
//! Every series carries the run so far (the collector's total), so the
//! last sample of each equals the summary. Counters are counters
//! (`http_reqs_total`), gauges gauges, a rate is a gauge `NAME_rate` plus
//! counters `NAME_passes_total` and `NAME_fails_total`, and a trend is a
//! set of percentile gauges `NAME{stat="p50|p90|p95|p99|max"}` (times in
//! milliseconds, as the summary shows them) plus `NAME_count_total`; or,
//! with `?histograms=native` on the URL, a native histogram `NAME` (same
//! unit), which only a receiver with native histograms on keeps: gauges
//! stay the default because they work with every receiver.
//! Names and tag keys are cut to Prometheus' alphabet. Sending is a
//! [`Remote`]: the collector never waits.

use http::{HeaderName, HeaderValue};

use super::remote::Remote;
use super::seam::{Output, Tick};
use crate::Error;
use crate::metrics::{Aggregate, Value};

/// The messages of `prompb/remote.proto` and `types.proto` that remote
/// write 1.0 needs (field numbers as there).
mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub histograms: Vec<Histogram>,
    }

    /// An integer native histogram. `count_int` and `zero_count_int` are
    /// members of `oneof`s upstream; one set member encodes the same.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub count_int: Option<u64>,
        #[prost(double, tag = "3")]
        pub sum: f64,
        #[prost(sint32, tag = "4")]
        pub schema: i32,
        #[prost(double, tag = "5")]
        pub zero_threshold: f64,
        #[prost(uint64, optional, tag = "6")]
        pub zero_count_int: Option<u64>,
        #[prost(message, repeated, tag = "11")]
        pub positive_spans: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "12")]
        pub positive_deltas: Vec<i64>,
        #[prost(int64, tag = "15")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        #[prost(uint32, tag = "2")]
        pub length: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

use prompb::{BucketSpan, Histogram, Label, Sample, TimeSeries, WriteRequest};

/// A trend's percentile gauges: the `stat` label and the percentile.
const STATS: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("max", 100.0),
];

/// How trends are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trends {
    PercentileGauges,
    NativeHistograms,
}

pub struct PrometheusRw {
    remote: Remote,
    trends: Trends,
}

/// The URL without volley's `histograms=` query parameter, and what it
/// asks for (gauges when absent).
fn trends_option(target: &str) -> Result<(String, Trends), Error> {
    let Some((url, query)) = target.split_once('?') else {
        return Ok((target.to_string(), Trends::PercentileGauges));
    };
    let mut trends = Trends::PercentileGauges;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("histograms=") {
            Some("native") => trends = Trends::NativeHistograms,
            Some("gauges") => trends = Trends::PercentileGauges,
            Some(other) => {
                return Err(Error::Config(format!(
                    "--out prometheus-rw={target}: histograms={other}: use histograms=native (the receiver must have native histograms on) or histograms=gauges (the default)"
                )));
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        url.to_string()
    } else {
        format!("{url}?{}", rest.join("&"))
    };
    Ok((url, trends))
}

/// Checks the URL and starts the sender before the run starts.
pub fn open(target: &str) -> Result<Box<dyn Output>, Error> {
    let (url, trends) = trends_option(target)?;
    let h = |k: &'static str, v: &'static str| {
        (HeaderName::from_static(k), HeaderValue::from_static(v))
    };
    let remote = Remote::start(
        "prometheus-rw",
        &url,
        vec![
            h("content-encoding", "snappy"),
            h("content-type", "application/x-protobuf"),
            h("x-prometheus-remote-write-version", "0.1.0"),
            h("user-agent", concat!("volley/", env!("CARGO_PKG_VERSION"))),
        ],
    )?;
    Ok(Box::new(PrometheusRw { remote, trends }))
}

impl Output for PrometheusRw {
    fn name(&self) -> &str {
        "prometheus-rw"
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let req = write_request(tick.total, ms, self.trends);
        if req.timeseries.is_empty() {
            return Ok(());
        }
        let body = prost::Message::encode_to_vec(&req);
        let body = snap::raw::Encoder::new()
            .compress_vec(&body)
            .map_err(|e| Error::Other(format!("prometheus-rw: compressing: {e}")))?;
        self.remote.send(body);
        Ok(())
    }

    fn finish(&mut self, _report: &super::Report) -> Result<(), Error> {
        self.remote.finish();
        Ok(())
    }
}

/// Every series of the run so far, stamped `ms`.
fn write_request(total: &Aggregate, ms: i64, trends: Trends) -> WriteRequest {
    let mut out = Vec::new();
    for (name, series) in &total.metrics {
        let base = sanitize(name);
        for (tags, v) in &series.by_tags {
            let labels = |metric: String, stat: Option<&str>| {
                let mut l: Vec<Label> = [Label {
                    name: "__name__".into(),
                    value: metric,
                }]
                .into_iter()
                .chain(stat.map(|s| Label {
                    name: "stat".into(),
                    value: s.into(),
                }))
                .chain(
                    tags.iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| Label {
                            name: label_name(k),
                            value: v.to_string(),
                        }),
                )
                .collect();
                // The protocol wants labels sorted by name, each once (the
                // stable sort keeps `stat` before a tag of that name).
                l.sort_by(|a, b| a.name.cmp(&b.name));
                l.dedup_by(|a, b| a.name == b.name);
                l
            };
            let mut push = |metric: String, stat: Option<&str>, value: f64| {
                if value.is_finite() {
                    out.push(TimeSeries {
                        labels: labels(metric, stat),
                        samples: vec![Sample {
                            value,
                            timestamp: ms,
                        }],
                        histograms: Vec::new(),
                    });
                }
            };
            match v {
                Value::Counter { sum } => push(counter(&base), None, *sum),
                Value::Gauge { value, .. } => push(base.clone(), None, *value),
                Value::Rate { trues, total } => {
                    if *total > 0 {
                        push(format!("{base}_rate"), None, v.rate());
                    }
                    push(format!("{base}_passes_total"), None, *trues as f64);
                    push(format!("{base}_fails_total"), None, (total - trues) as f64);
                }
                Value::Trend(t) if trends == Trends::NativeHistograms => {
                    if t.count > 0 {
                        out.push(TimeSeries {
                            labels: labels(base.clone(), None),
                            samples: Vec::new(),
                            histograms: vec![native(t, ms)],
                        });
                    }
                }
                Value::Trend(t) => {
                    push(format!("{base}_count_total"), None, t.count as f64);
                    if t.count > 0 {
                        for (stat, p) in STATS {
                            let us = if p == 100.0 {
                                t.max as f64
                            } else {
                                t.percentile(p)
                            };
                            push(base.clone(), Some(stat), us / 1000.0);
                        }
                    }
                }
            }
        }
    }
    WriteRequest { timeseries: out }
}

/// A trend, cumulative over the run so far (as Prometheus wants
/// histograms), in milliseconds like the percentile gauges.
fn native(t: &crate::metrics::Trend, ms: i64) -> Histogram {
    let b = super::native_histogram::buckets(t, 1.0 / 1000.0);
    Histogram {
        count_int: Some(b.count),
        sum: b.sum,
        schema: b.schema,
        zero_threshold: 0.0,
        zero_count_int: Some(b.zero_count),
        positive_spans: b
            .spans
            .iter()
            .map(|&(offset, length)| BucketSpan { offset, length })
            .collect(),
        positive_deltas: b.deltas,
        timestamp: ms,
    }
}

/// A counter's name ends in `_total`, once.
fn counter(base: &str) -> String {
    if base.ends_with("_total") {
        base.to_string()
    } else {
        format!("{base}_total")
    }
}

/// A metric name in `[a-zA-Z_:][a-zA-Z0-9_:]*`: anything else becomes `_`.
fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// A label name: a metric name without `:`, and never one of the reserved
/// `__` names.
fn label_name(key: &str) -> String {
    let s = sanitize(key).replace(':', "_");
    if s.starts_with("__") {
        format!("tag{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Kind, Tags};

    #[test]
    fn names_fit_prometheus() {
        assert_eq!(sanitize("http_req_duration"), "http_req_duration");
        assert_eq!(sanitize("my.metric-1"), "my_metric_1");
        assert_eq!(sanitize("9lives"), "_9lives");
        assert_eq!(label_name("__name__"), "tag__name__");
        assert_eq!(label_name("a:b"), "a_b");
        assert_eq!(counter("x_total"), "x_total");
    }

    #[test]
    fn histograms_native_is_taken_off_the_url() {
        let (url, t) = trends_option("http://h:9090/api/v1/write?histograms=native").unwrap();
        assert_eq!(
            (url.as_str(), t),
            ("http://h:9090/api/v1/write", Trends::NativeHistograms)
        );
        let (url, t) = trends_option("http://h/w?a=1&histograms=gauges&b=2").unwrap();
        assert_eq!(
            (url.as_str(), t),
            ("http://h/w?a=1&b=2", Trends::PercentileGauges)
        );
        let err = trends_option("http://h/w?histograms=yes")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("histograms=yes") && err.contains("histograms=native"),
            "{err}"
        );
    }

    #[test]
    fn a_trend_goes_as_one_native_histogram() {
        let mut agg = Aggregate::default();
        let mut d = Value::new(Kind::Trend);
        for us in [500.0, 1000.0, 1000.0, 2000.0] {
            d.add(us, 0);
        }
        agg.merge_value("http_req_duration", &Tags::new([("name", "a")]), &d);
        let req = write_request(&agg, 7, Trends::NativeHistograms);
        let wire = prost::Message::encode_to_vec(&req);
        let back: WriteRequest = prost::Message::decode(&wire[..]).unwrap();
        assert_eq!(back.timeseries.len(), 1);
        let ts = &back.timeseries[0];
        assert!(ts.samples.is_empty());
        let h = &ts.histograms[0];
        assert_eq!((h.count_int, h.schema, h.timestamp), (Some(4), 8, 7));
        assert!((h.sum - 4.5).abs() < 1e-9);
        // 0.5, 1 and 2 ms (exact in the HdrHistogram) are the tops of
        // buckets -256, 0 and 256.
        let spans: Vec<(i32, u32)> = h
            .positive_spans
            .iter()
            .map(|s| (s.offset, s.length))
            .collect();
        assert_eq!(spans, [(-256, 1), (255, 1), (255, 1)]);
        assert_eq!(h.positive_deltas, [1, 1, -1]);
    }

    #[test]
    fn kinds_map_to_series_and_survive_the_wire() {
        let mut agg = Aggregate::default();
        let tags = Tags::new([("name", "login"), ("__name__", "sneaky")]);
        let mut c = Value::new(Kind::Counter);
        c.add(5.0, 0);
        agg.merge_value("http_reqs", &tags, &c);
        let mut r = Value::new(Kind::Rate);
        r.add(1.0, 0);
        r.add(0.0, 0);
        r.add(0.0, 0);
        agg.merge_value("http_req_failed", &Tags::default(), &r);
        let mut d = Value::new(Kind::Trend);
        for us in [1000.0, 2000.0, 4000.0] {
            d.add(us, 0);
        }
        agg.merge_value("http_req_duration", &Tags::default(), &d);
        let req = write_request(&agg, 42, Trends::PercentileGauges);
        // Encoded, compressed and back: what the receiver will read.
        let wire = snap::raw::Encoder::new()
            .compress_vec(&prost::Message::encode_to_vec(&req))
            .unwrap();
        let back: WriteRequest =
            prost::Message::decode(&snap::raw::Decoder::new().decompress_vec(&wire).unwrap()[..])
                .unwrap();
        assert!(back == req);
        let find = |name: &str, stat: Option<&str>| -> f64 {
            back.timeseries
                .iter()
                .find(|t| {
                    t.labels
                        .iter()
                        .any(|l| l.name == "__name__" && l.value == name)
                        && stat.is_none_or(|s| {
                            t.labels.iter().any(|l| l.name == "stat" && l.value == s)
                        })
                })
                .unwrap_or_else(|| panic!("{name} {stat:?}"))
                .samples[0]
                .value
        };
        assert_eq!(find("http_reqs_total", None), 5.0);
        assert_eq!(find("http_req_failed_passes_total", None), 1.0);
        assert_eq!(find("http_req_failed_fails_total", None), 2.0);
        assert_eq!(find("http_req_duration", Some("max")), 4.0);
        assert_eq!(find("http_req_duration", Some("p50")), 2.0);
        assert_eq!(find("http_req_duration_count_total", None), 3.0);
        let reqs = back
            .timeseries
            .iter()
            .find(|t| t.labels.iter().any(|l| l.value == "http_reqs_total"))
            .unwrap();
        let names: Vec<&str> = reqs.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "name", "tag__name__"]);
        assert!(reqs.samples.iter().all(|s| s.timestamp == 42));
    }
}
