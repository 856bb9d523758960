//! Checks, custom metrics and correlation marks.

use crate::bindings::volley::scenario::metrics as wit;

/// Records a check (`checks` metric, tag `check=name`) and returns `ok`.
pub fn check(name: &str, ok: bool) -> bool {
    wit::check(name, ok, &[])
}

/// Records a check with extra tags (k6's `group`, say) and returns `ok`.
pub fn check_tagged(name: &str, ok: bool, tags: &[(&str, &str)]) -> bool {
    wit::check(name, ok, &pairs(tags))
}

/// Runs `f` inside the group `name` and returns what it returns (k6's
/// `group`). What the VU records meanwhile (requests, checks, custom
/// metrics, WebSocket sockets it opens) carries the tag `group=::name`
/// (`::outer::name` when nested), and the group's time is recorded as a
/// `group_duration` sample with that tag.
pub fn group<R>(name: &str, f: impl FnOnce() -> R) -> R {
    wit::enter_group(name);
    let r = f();
    wit::leave_group();
    r
}

fn pairs(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $wit:ident, $call:ident, $ty:ty, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            inner: wit::$wit,
        }

        impl $name {
            #[doc = concat!("Declares the ", $kind, " `name` for the run (made on first declare).")]
            /// An error if `name` is already another kind of metric or is
            /// not a valid name (letters, digits, `_`, `.`, `-`).
            pub fn declare(name: &str) -> Result<Self, String> {
                wit::$wit::declare(name).map(|inner| $name { inner })
            }

            #[doc = concat!("Declares the ", $kind, " `name`, as [`", stringify!($name), "::declare`].")]
            /// Keep the handle (in a `static` or a struct) rather than
            /// declaring per sample.
            ///
            /// # Panics
            /// If `name` is already another kind of metric or is not a valid
            /// name: the iteration fails with that message.
            pub fn new(name: &str) -> Self {
                Self::declare(name).unwrap_or_else(|e| panic!("{e}"))
            }

            /// Adds one sample.
            pub fn add(&self, value: $ty) {
                self.inner.$call(value, &[]);
            }

            /// Adds one sample with extra tags.
            pub fn add_tagged(&self, value: $ty, tags: &[(&str, &str)]) {
                self.inner.$call(value, &pairs(tags));
            }
        }
    };
}

handle!(
    /// A sum that only grows (k6 `Counter`).
    Counter, Counter, add, f64, "counter"
);
handle!(
    /// The last value set (k6 `Gauge`); `add` sets it.
    Gauge, Gauge, set, f64, "gauge"
);
handle!(
    /// The share of `true` samples (k6 `Rate`).
    Rate, Rate, add, bool, "rate"
);
handle!(
    /// A distribution with percentiles (k6 `Trend`); report times in milliseconds.
    Trend, Trend, add, f64, "trend"
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
