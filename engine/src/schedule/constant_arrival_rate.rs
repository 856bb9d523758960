//! `constant-arrival-rate`: `rate` iterations per `timeUnit`, evenly spaced,
//! for `duration`, whatever the target's response time. `volley scale
//! --rate` changes the rate live: the spacing restarts from that moment.

use std::sync::Arc;
use std::time::Duration;

use super::{Pacer, Scale};

#[derive(Debug)]
pub struct ConstantRate {
    interval: Duration,
    duration: Duration,
    /// Iteration `n` is due at `base + n * interval`.
    base: Duration,
    n: u64,
    scale: Option<Arc<Scale>>,
    /// The live rate in force (iterations per second).
    live: Option<f64>,
}

impl ConstantRate {
    pub fn new(rate: u64, time_unit: Duration, duration: Duration) -> Self {
        ConstantRate {
            interval: time_unit.div_f64(rate.max(1) as f64),
            duration,
            base: Duration::ZERO,
            n: 0,
            scale: None,
            live: None,
        }
    }

    /// Follows `scale`'s live rate.
    pub fn scaled(mut self, scale: Arc<Scale>) -> Self {
        self.scale = Some(scale);
        self
    }
}

impl Pacer for ConstantRate {
    fn next(&mut self) -> Option<Duration> {
        let at = self.base + self.interval.mul_f64(self.n as f64);
        if at >= self.duration {
            return None;
        }
        self.n += 1;
        Some(at)
    }

    fn retime(&mut self, now: Duration) -> bool {
        let rate = self.scale.as_ref().and_then(|s| s.rate());
        match rate {
            Some(r) if Some(r) != self.live => {
                self.live = Some(r);
                self.interval = Duration::from_secs_f64(1.0 / r);
                self.base = now;
                self.n = 0;
                true
            }
            _ => false,
        }
    }

    fn end(&self) -> Duration {
        self.duration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_exact_count() {
        let mut p = ConstantRate::new(50, Duration::from_secs(1), Duration::from_secs(2));
        let times: Vec<_> = std::iter::from_fn(|| p.next()).collect();
        assert_eq!(times.len(), 100);
        assert_eq!(times[1], Duration::from_millis(20));
        assert_eq!(times[99], Duration::from_millis(1980));
        let mut p = ConstantRate::new(30, Duration::from_secs(60), Duration::from_secs(60));
        assert_eq!(std::iter::from_fn(|| p.next()).count(), 30);
    }

    #[test]
    fn a_live_rate_respaces_from_now() {
        let cfg = crate::plan::ExecutorConfig::ConstantArrivalRate {
            rate: 10,
            time_unit: Duration::from_secs(1),
            duration: Duration::from_secs(10),
            pre_allocated_vus: 1,
            max_vus: 1,
        };
        let scale = Arc::new(Scale::new("s", &cfg));
        let mut p = ConstantRate::new(10, Duration::from_secs(1), Duration::from_secs(10))
            .scaled(scale.clone());
        assert_eq!(p.next(), Some(Duration::ZERO));
        assert_eq!(p.next(), Some(Duration::from_millis(100)));
        assert!(!p.retime(Duration::from_millis(150)), "nothing changed");
        scale.set_rate(100.0).unwrap();
        assert!(p.retime(Duration::from_secs(2)));
        assert_eq!(p.next(), Some(Duration::from_secs(2)));
        assert_eq!(p.next(), Some(Duration::from_millis(2010)));
        // 8 s left at 100/s.
        assert_eq!(std::iter::from_fn(|| p.next()).count(), 798);
    }
}
