//! Metric kinds and their mergeable values.
//!
//! Every value merges losslessly with another of its kind: that is what lets
//! per-thread shards, per-second intervals and distributed shards combine.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The four k6 metric kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A sum that only grows (`http_reqs`, `iterations`).
    Counter,
    /// The last value set, with its min and max (`vus`).
    Gauge,
    /// The share of non-zero samples (`checks`, `http_req_failed`).
    Rate,
    /// A distribution (`http_req_duration`), kept in an HdrHistogram.
    Trend,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Rate => "rate",
            Kind::Trend => "trend",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trend's distribution. Samples are integers in milli-units of the
/// displayed unit: microseconds for time trends shown in milliseconds.
/// The histogram keeps three significant digits; count, sum, min and max are
/// exact.
#[derive(Clone, Debug)]
pub struct Trend {
    pub hist: Histogram<u64>,
    pub count: u64,
    pub sum: u128,
    pub min: u64,
    pub max: u64,
}

impl Default for Trend {
    fn default() -> Self {
        Self::new()
    }
}

impl Trend {
    pub fn new() -> Self {
        let mut hist = Histogram::new(3).expect("3 significant digits is a valid histogram");
        hist.auto(true);
        Trend {
            hist,
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    /// Records `v` `n` times.
    pub fn record_n(&mut self, v: u64, n: u64) {
        // Auto-resizing histograms only fail on values beyond u64 range limits.
        let _ = self.hist.record_n(v, n);
        self.count += n;
        self.sum += v as u128 * n as u128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Trend) {
        if other.count == 0 {
            return;
        }
        let _ = self.hist.add(&other.hist);
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Mean in milli-units (exact, from the sum).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// Percentile `p` in 0..=100, in milli-units.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let v = self.hist.value_at_quantile((p / 100.0).clamp(0.0, 1.0));
        // The histogram reports a bucket's upper edge; never above the true max.
        v.min(self.max).max(self.min) as f64
    }

    pub fn min_or_zero(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }

    /// The histogram in HdrHistogram's V2 compressed format, base64-encoded.
    pub fn encode(&self) -> String {
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.hist, &mut buf)
            .expect("serializing an in-memory histogram cannot fail");
        base64_encode(&buf)
    }

    /// Rebuilds a trend from [`Trend::encode`] output plus the exact summary
    /// values written beside it.
    pub fn decode(
        text: &str,
        count: u64,
        sum: u128,
        min: u64,
        max: u64,
    ) -> Result<Self, super::MetricError> {
        use hdrhistogram::serialization::Deserializer;
        let bytes = base64_decode(text).map_err(super::MetricError::Encoding)?;
        let mut hist: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| super::MetricError::Encoding(format!("not an HdrHistogram: {e}")))?;
        hist.auto(true);
        Ok(Trend {
            hist,
            count,
            sum,
            min: if count == 0 { u64::MAX } else { min },
            max,
        })
    }
}

/// A metric's accumulated value.
#[derive(Clone, Debug)]
pub enum Value {
    Counter {
        sum: f64,
    },
    Gauge {
        value: f64,
        min: f64,
        max: f64,
        /// When the value was set, to keep the latest across shards.
        at_us: u64,
    },
    Rate {
        trues: u64,
        total: u64,
    },
    Trend(Box<Trend>),
}

impl Value {
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Counter => Value::Counter { sum: 0.0 },
            Kind::Gauge => Value::Gauge {
                value: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                at_us: 0,
            },
            Kind::Rate => Value::Rate { trues: 0, total: 0 },
            Kind::Trend => Value::Trend(Box::default()),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Counter { .. } => Kind::Counter,
            Value::Gauge { .. } => Kind::Gauge,
            Value::Rate { .. } => Kind::Rate,
            Value::Trend(_) => Kind::Trend,
        }
    }

    /// Adds one sample. `at_us` orders gauge writes; other kinds ignore it.
    pub fn add(&mut self, sample: f64, at_us: u64) {
        self.add_n(sample, 1, at_us);
    }

    /// Adds `sample` `n` times, as `n` calls of [`Value::add`] would.
    pub fn add_n(&mut self, sample: f64, n: u64, at_us: u64) {
        match self {
            Value::Counter { sum } => *sum += sample * n as f64,
            Value::Gauge {
                value,
                min,
                max,
                at_us: at,
            } => {
                if at_us >= *at {
                    *value = sample;
                    *at = at_us;
                }
                *min = min.min(sample);
                *max = max.max(sample);
            }
            Value::Rate { trues, total } => {
                *total += n;
                if sample != 0.0 {
                    *trues += n;
                }
            }
            Value::Trend(t) => t.record_n(
                if sample <= 0.0 {
                    0
                } else {
                    sample.round() as u64
                },
                n,
            ),
        }
    }

    /// Merges `other` into `self`; a kind mismatch is ignored (callers keep
    /// kinds consistent through the registry).
    pub fn merge(&mut self, other: &Value) {
        match (self, other) {
            (Value::Counter { sum }, Value::Counter { sum: o }) => *sum += o,
            (
                Value::Gauge {
                    value,
                    min,
                    max,
                    at_us,
                },
                Value::Gauge {
                    value: ov,
                    min: omin,
                    max: omax,
                    at_us: oat,
                },
            ) => {
                if *oat >= *at_us && omin.is_finite() {
                    *value = *ov;
                    *at_us = *oat;
                }
                *min = min.min(*omin);
                *max = max.max(*omax);
            }
            (Value::Rate { trues, total }, Value::Rate { trues: t, total: n }) => {
                *trues += t;
                *total += n;
            }
            (Value::Trend(a), Value::Trend(b)) => a.merge(b),
            _ => {}
        }
    }

    /// Rate of a rate metric (0 when empty).
    pub fn rate(&self) -> f64 {
        match self {
            Value::Rate { trues, total } if *total > 0 => *trues as f64 / *total as f64,
            _ => 0.0,
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = B64
            .iter()
            .position(|&b| b == c)
            .ok_or_else(|| format!("invalid base64 character `{}`", c as char))?;
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_added_n_times_at_once_is_n_samples() {
        for kind in [Kind::Counter, Kind::Gauge, Kind::Rate, Kind::Trend] {
            let (mut once, mut each) = (Value::new(kind), Value::new(kind));
            for (sample, n) in [(3.0, 4), (0.0, 2), (250.0, 3), (7.0, 1)] {
                once.add_n(sample, n, 9);
                for _ in 0..n {
                    each.add(sample, 9);
                }
            }
            assert_eq!(format!("{once:?}"), format!("{each:?}"), "{kind:?}");
        }
    }

    #[test]
    fn trend_merge_is_lossless_and_roundtrips() {
        let mut a = Trend::new();
        let mut b = Trend::new();
        for v in 1..=1000 {
            a.record(v);
        }
        for v in 1001..=2000 {
            b.record(v * 10);
        }
        let encoded = b.encode();
        let b2 = Trend::decode(&encoded, b.count, b.sum, b.min, b.max).unwrap();
        assert_eq!(b2.hist.len(), 1000);
        let mut direct = a.clone();
        direct.merge(&b);
        a.merge(&b2);
        assert_eq!(a.count, 2000);
        assert_eq!(a.hist, direct.hist);
        assert_eq!(a.percentile(50.0), direct.percentile(50.0));
        assert_eq!(a.min, 1);
        assert_eq!(a.max, 20000);
    }

    #[test]
    fn percentiles_within_three_digits() {
        let mut t = Trend::new();
        for v in 1..=100_000u64 {
            t.record(v);
        }
        let p99 = t.percentile(99.0);
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.001, "{p99}");
        assert_eq!(t.percentile(100.0), 100_000.0);
        assert!((t.avg() - 50_000.5).abs() < 1e-9);
    }

    #[test]
    fn base64_roundtrip() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert!(base64_decode("@@").is_err());
    }

    #[test]
    fn gauge_keeps_latest_and_extremes() {
        let mut a = Value::new(Kind::Gauge);
        a.add(5.0, 10);
        let mut b = Value::new(Kind::Gauge);
        b.add(2.0, 20);
        b.add(9.0, 5);
        a.merge(&b);
        match a {
            Value::Gauge {
                value, min, max, ..
            } => {
                assert_eq!((value, min, max), (2.0, 2.0, 9.0));
            }
            _ => unreachable!(),
        }
    }
}
