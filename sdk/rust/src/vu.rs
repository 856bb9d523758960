//! The virtual user: identity, parameters, time, randomness, shared data.

use std::time::Duration;

use crate::bindings::volley::scenario::vu as wit;

/// This VU's number, from 1, unique in the run.
pub fn id() -> u32 {
    wit::id()
}

/// This VU's iteration number in its scenario, from 0.
pub fn iteration() -> u64 {
    wit::iteration()
}

/// This iteration's number across its scenario, from 0: every VU's
/// iterations counted as they start, so no two iterations share one
/// (k6's `exec.scenario.iterationInTest`).
pub fn iteration_in_scenario() -> u64 {
    wit::iteration_in_scenario()
}

/// The scenario this VU runs for.
pub fn scenario() -> String {
    wit::scenario()
}

/// A parameter: plan `params`, `-e KEY=VALUE`, or a target's URL.
pub fn param(name: &str) -> Option<String> {
    wit::param(name)
}

/// All parameters.
pub fn params() -> Vec<(String, String)> {
    wit::params()
}

/// Pauses this VU without holding a thread.
pub fn sleep(d: Duration) {
    wit::sleep_ms(d.as_millis().min(u64::MAX as u128) as u64);
}

/// Time on the engine's monotonic clock since the run started.
pub fn now() -> Duration {
    Duration::from_micros(wit::now_us())
}

/// A random 64-bit number.
pub fn random_u64() -> u64 {
    wit::random_u64()
}

/// A uniformly random number in `range` (inclusive).
pub fn random_range(range: std::ops::RangeInclusive<u64>) -> u64 {
    let (lo, hi) = (*range.start(), *range.end());
    if hi <= lo {
        return lo;
    }
    let span = hi - lo;
    if span == u64::MAX {
        return random_u64();
    }
    lo + random_u64() % (span + 1)
}

/// Shared data sets (`[data]` in the plan): loaded once, never copied per VU.
pub mod data {
    use super::wit;

    /// Rows in data set `name` (0 if there is none).
    pub fn len(name: &str) -> u64 {
        wit::data_len(name)
    }

    /// Row `index` of `name` as a JSON object.
    pub fn row(name: &str, index: u64) -> Option<serde_json::Value> {
        wit::data_row(name, index).and_then(|s| serde_json::from_str(&s).ok())
    }

    /// Row `index` of `name` as raw JSON text.
    pub fn row_text(name: &str, index: u64) -> Option<String> {
        wit::data_row(name, index)
    }
}
