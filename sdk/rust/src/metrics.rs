//! Checks, custom metrics and correlation marks.

use crate::bindings::volley::scenario::metrics as wit;

/// Records a check (`checks` metric, tag `check=name`) and returns `ok`.
pub fn check(name: &str, ok: bool) -> bool {
    wit::check(name, ok)
}

fn pairs(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $call:path, $ty:ty, $conv:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            name: String,
        }

        impl $name {
            /// A handle on the metric `name` (created on first use).
            pub fn new(name: &str) -> Self {
                $name { name: name.to_string() }
            }

            /// Adds one sample.
            pub fn add(&self, value: $ty) {
                $call(&self.name, $conv(value), &[]);
            }

            /// Adds one sample with extra tags.
            pub fn add_tagged(&self, value: $ty, tags: &[(&str, &str)]) {
                $call(&self.name, $conv(value), &pairs(tags));
            }
        }
    };
}

handle!(
    /// A sum that only grows (k6 `Counter`).
    Counter, wit::counter_add, f64, |v| v
);
handle!(
    /// The last value set (k6 `Gauge`).
    Gauge, wit::gauge_set, f64, |v| v
);
handle!(
    /// The share of `true` samples (k6 `Rate`).
    Rate, wit::rate_add, bool, |v| v
);
handle!(
    /// A distribution with percentiles (k6 `Trend`); report times in milliseconds.
    Trend, wit::trend_add, f64, |v| v
);

/// Starts the event `key` now (engine clock, shared by all VUs). Its latency
/// goes to the trend `metric` when it [`arrive`]s, up to `expected` times.
pub fn mark(metric: &str, key: &str, expected: u32) {
    wit::mark(metric, key, expected);
}

/// The event `key` was observed now: records and returns its latency in
/// microseconds, or `None` if it was never marked.
pub fn arrive(key: &str) -> Option<u64> {
    wit::arrive(key)
}
