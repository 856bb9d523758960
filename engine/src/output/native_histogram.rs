//! A trend's HdrHistogram as a Prometheus native histogram: exponential
//! buckets whose boundaries are powers of `2^(2^-schema)`, bucket `i`
//! holding the values in `(base^(i-1), base^i]`, zeros in the zero bucket,
//! and the buckets sent as spans of consecutive indexes with each count
//! given as the difference from the previous bucket's.

use std::collections::BTreeMap;

use crate::metrics::Trend;

/// The finest schema Prometheus accepts (256 buckets per power of two).
const MAX_SCHEMA: i32 = 8;

/// The exponential buckets of one histogram, ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub schema: i32,
    pub count: u64,
    /// In the output's unit (the trend's values times the scale).
    pub sum: f64,
    pub zero_count: u64,
    /// `(offset, length)`: the first offset is the first bucket's index,
    /// each later one the gap after the previous span.
    pub spans: Vec<(i32, u32)>,
    /// Each bucket's count minus the previous bucket's (the first's minus 0).
    pub deltas: Vec<i64>,
}

/// The finest schema no finer than the histogram's own precision: an
/// HdrHistogram of `d` significant digits splits each power of two into
/// at least `2^ceil(log2(2 * 10^d)) / 2` equal buckets; more native buckets
/// than that would only split its buckets.
pub fn schema_for(trend: &Trend) -> i32 {
    let per_octave = (2.0 * 10f64.powi(trend.hist.sigfig() as i32)).log2().ceil() - 1.0;
    (per_octave as i32).clamp(0, MAX_SCHEMA)
}

/// The index of the bucket holding `x` (> 0) in `schema`.
pub fn bucket_index(x: f64, schema: i32) -> i32 {
    (x.log2() * 2f64.powi(schema)).ceil() as i32
}

/// `trend` in native buckets, each value multiplied by `scale` (1/1000
/// for microseconds as milliseconds).
pub fn buckets(trend: &Trend, scale: f64) -> Buckets {
    let schema = schema_for(trend);
    let mut zero_count = 0;
    let mut counts: BTreeMap<i32, u64> = BTreeMap::new();
    for v in trend.hist.iter_recorded() {
        let n = v.count_at_value();
        // The middle of the HdrHistogram bucket stands for its values.
        let x = trend.hist.median_equivalent(v.value_iterated_to()) as f64 * scale;
        if x > 0.0 {
            *counts.entry(bucket_index(x, schema)).or_default() += n;
        } else {
            zero_count += n;
        }
    }
    let (spans, deltas) = spans_and_deltas(&counts);
    Buckets {
        schema,
        count: trend.count,
        sum: trend.sum as f64 * scale,
        zero_count,
        spans,
        deltas,
    }
}

fn spans_and_deltas(counts: &BTreeMap<i32, u64>) -> (Vec<(i32, u32)>, Vec<i64>) {
    let mut spans: Vec<(i32, u32)> = Vec::new();
    let mut deltas = Vec::with_capacity(counts.len());
    let mut next: Option<i32> = None;
    let mut previous = 0i64;
    for (&index, &count) in counts {
        match next {
            Some(n) if n == index => {
                if let Some(last) = spans.last_mut() {
                    last.1 += 1;
                }
            }
            Some(n) => spans.push((index - n, 1)),
            None => spans.push((index, 1)),
        }
        next = Some(index + 1);
        deltas.push(count as i64 - previous);
        previous = count as i64;
    }
    (spans, deltas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(values: &[u64]) -> Trend {
        let mut t = Trend::new();
        for v in values {
            t.record(*v);
        }
        t
    }

    #[test]
    fn three_digits_give_the_finest_schema() {
        assert_eq!(schema_for(&Trend::new()), 8);
    }

    #[test]
    fn buckets_are_upper_inclusive_powers_of_the_base() {
        // Schema 0: bucket i holds (2^(i-1), 2^i].
        assert_eq!(bucket_index(1.0, 0), 0);
        assert_eq!(bucket_index(1.5, 0), 1);
        assert_eq!(bucket_index(2.0, 0), 1);
        assert_eq!(bucket_index(0.3, 0), -1);
        assert_eq!(bucket_index(4.0, 8), 512);
    }

    #[test]
    fn counts_become_spans_and_deltas_that_add_back_up() {
        let t = trend(&[0, 1000, 1000, 1001, 1003, 2000, 2000, 2000, 5000]);
        let b = buckets(&t, 1.0 / 1000.0);
        assert_eq!(b.count, 9);
        assert_eq!(b.zero_count, 1);
        assert!((b.sum - 15.004).abs() < 1e-9, "{}", b.sum);
        // Back to absolute counts per index.
        let mut index = 0;
        let mut count = 0i64;
        let mut got = BTreeMap::new();
        let mut d = b.deltas.iter();
        for (i, (offset, length)) in b.spans.iter().enumerate() {
            index += offset;
            for _ in 0..*length {
                count += d.next().unwrap();
                got.insert(index, count);
                index += 1;
            }
            if i == 0 {
                assert_eq!(*offset, 0, "1 ms is the top of bucket 0");
            }
        }
        assert!(d.next().is_none());
        let want: BTreeMap<i32, i64> = [
            (0, 2),
            (bucket_index(1.001, 8), 1),
            (bucket_index(1.003, 8), 1),
            (256, 3),
            (bucket_index(5.0, 8), 1),
        ]
        .into();
        assert_eq!(got, want);
        assert_eq!(got.values().sum::<i64>() + b.zero_count as i64, 9);
    }
}
