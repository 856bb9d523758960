//! What the streamed outputs (`--out json=`, `--out csv=`) share: one point
//! per metric, tag set and second, read from the collector's interval
//! aggregate, and the wall-clock time of the tick.
//!
//! volley aggregates each second where k6 writes one line per sample, so
//! a point carries the second's value: a counter's sum, a gauge's last
//! value, a rate's ratio with its count, a trend's mean (milliseconds for
//! times) with its count, min, max and percentiles. Summing a counter's
//! points gives the summary's count; memory stays flat whatever the
//! number of samples.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::{Aggregate, Kind, Tags, Value};

/// One metric's value for one tag set in one second.
pub struct Point<'a> {
    pub metric: &'a str,
    pub kind: Kind,
    pub tags: &'a Tags,
    /// The second's value (see the module comment).
    pub value: f64,
    /// Samples behind a rate or trend point; a counter's or gauge's is 1.
    pub count: u64,
    pub extra: Vec<(&'static str, f64)>,
}

/// Every point of one interval, metrics by name, tag sets in order.
pub fn points(interval: &Aggregate) -> Vec<Point<'_>> {
    let mut out = Vec::new();
    for (name, series) in &interval.metrics {
        let mut sets: Vec<_> = series.by_tags.iter().collect();
        sets.sort_by(|a, b| a.0.cmp(b.0));
        for (tags, v) in sets {
            let (value, count, extra) = match v {
                Value::Counter { sum } => (*sum, 1, Vec::new()),
                Value::Gauge { value, .. } => (*value, 1, Vec::new()),
                Value::Rate { total: 0, .. } => continue,
                Value::Rate { total, .. } => (v.rate(), *total, Vec::new()),
                Value::Trend(t) if t.count == 0 => continue,
                Value::Trend(t) => {
                    // Stored in microseconds; shown in milliseconds as k6 does.
                    let ms = |us: f64| us / 1000.0;
                    (
                        ms(t.avg()),
                        t.count,
                        vec![
                            ("min", ms(t.min_or_zero() as f64)),
                            ("max", ms(t.max as f64)),
                            ("p(95)", ms(t.percentile(95.0))),
                            ("p(99)", ms(t.percentile(99.0))),
                        ],
                    )
                }
            };
            out.push(Point {
                metric: name,
                kind: series.kind,
                tags,
                value,
                count,
                extra,
            });
        }
    }
    out
}

/// Now as RFC 3339 in UTC with milliseconds (`2026-12-02T06:40:00.123Z`)
/// and as Unix seconds.
pub fn now() -> (String, u64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (rfc3339(d.as_secs(), d.subsec_millis()), d.as_secs())
}

fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_796_193_600, 123), "2026-12-02T06:40:00.123Z");
    }

    #[test]
    fn points_carry_each_seconds_value() {
        let mut agg = Aggregate::default();
        let t = Tags::new([("name", "a")]);
        let mut c = Value::new(Kind::Counter);
        c.add(3.0, 0);
        agg.merge_value("http_reqs", &t, &c);
        let mut d = Value::new(Kind::Trend);
        d.add(1000.0, 0);
        d.add(3000.0, 0);
        agg.merge_value("http_req_duration", &t, &d);
        let mut r = Value::new(Kind::Rate);
        r.add(1.0, 0);
        r.add(0.0, 0);
        agg.merge_value("checks", &t, &r);
        let p = points(&agg);
        let find = |m: &str| p.iter().find(|x| x.metric == m).unwrap();
        assert_eq!(find("http_reqs").value, 3.0);
        assert_eq!(find("checks").value, 0.5);
        assert_eq!(find("checks").count, 2);
        let d = find("http_req_duration");
        assert_eq!((d.value, d.count), (2.0, 2));
        assert_eq!(d.extra[0], ("min", 1.0));
    }
}
