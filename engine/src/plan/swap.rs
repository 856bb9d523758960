//! `[swap]`: how a hot swap moves VUs (canary, waves, drain, tolerance).

use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_duration;
use crate::swap::Policy;

/// `[swap]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSwap {
    /// Iterations the canary VU must end on the new version (default 3).
    pub canary_iterations: Option<u64>,
    /// Longest the canary may take to end them (default 30s).
    pub canary_timeout: Option<String>,
    /// Share of the VUs each wave moves, (0, 1] (default 0.25: 4 waves).
    pub wave_fraction: Option<f64>,
    /// Longest one wave waits for its VUs to move (default 250ms).
    pub wave_timeout: Option<String>,
    /// How long iterations in flight on the replaced version may run on
    /// (default: `iterationTimeout`).
    pub drain: Option<String>,
    /// How much higher than the old version's the new version's failure
    /// rate may be before the swap rolls back, 0 to 1 (default 0: no worse).
    pub max_failure_ratio: Option<f64>,
}

/// `[swap]` with defaults; `drain` defaults to the iteration timeout.
pub(super) fn policy(raw: &RawSwap, iteration_timeout: Duration) -> Result<Policy, String> {
    let d = Policy::default();
    let dur = |field: &str, v: &Option<String>, default: Duration| {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|m| format!("swap.{field}: {m}"))
            .map(|x| x.unwrap_or(default))
    };
    let waves = match raw.wave_fraction {
        None => d.waves,
        Some(f) if f > 0.0 && f <= 1.0 => (1.0 / f).ceil() as u32,
        Some(f) => {
            return Err(format!(
                "swap.waveFraction ({f}): the share of VUs one wave moves, more than 0 and at most 1"
            ));
        }
    };
    let max_failure_ratio = match raw.max_failure_ratio {
        None => 0.0,
        Some(r) if (0.0..=1.0).contains(&r) => r,
        Some(r) => {
            return Err(format!(
                "swap.maxFailureRatio ({r}): a share of iterations, 0 to 1"
            ));
        }
    };
    let canary_iterations = match raw.canary_iterations {
        Some(0) => return Err("swap.canaryIterations: at least 1".into()),
        Some(n) => n,
        None => d.canary_iterations,
    };
    Ok(Policy {
        canary_iterations,
        canary_timeout: dur("canaryTimeout", &raw.canary_timeout, d.canary_timeout)?,
        waves,
        wave_time: dur("waveTimeout", &raw.wave_timeout, d.wave_time)?,
        drain: dur("drain", &raw.drain, iteration_timeout)?,
        max_failure_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = policy(&RawSwap::default(), Duration::from_secs(7)).unwrap();
        assert_eq!((p.canary_iterations, p.waves), (3, 4));
        assert_eq!(p.drain, Duration::from_secs(7));
        let raw = RawSwap {
            wave_fraction: Some(0.3),
            drain: Some("2s".into()),
            max_failure_ratio: Some(0.1),
            ..Default::default()
        };
        let p = policy(&raw, Duration::from_secs(7)).unwrap();
        assert_eq!((p.waves, p.drain), (4, Duration::from_secs(2)));
        assert_eq!(p.max_failure_ratio, 0.1);
        for bad in [
            RawSwap {
                wave_fraction: Some(0.0),
                ..Default::default()
            },
            RawSwap {
                max_failure_ratio: Some(2.0),
                ..Default::default()
            },
            RawSwap {
                canary_iterations: Some(0),
                ..Default::default()
            },
            RawSwap {
                drain: Some("soon".into()),
                ..Default::default()
            },
        ] {
            let e = policy(&bad, Duration::from_secs(1)).unwrap_err();
            assert!(e.starts_with("swap."), "{e}");
        }
    }
}
