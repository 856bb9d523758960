//! `constant-arrival-rate`: `rate` iterations per `timeUnit`, evenly spaced,
//! for `duration`, whatever the target's response time.

use std::time::Duration;

use super::Pacer;

#[derive(Debug)]
pub struct ConstantRate {
    interval: Duration,
    duration: Duration,
    n: u64,
}

impl ConstantRate {
    pub fn new(rate: u64, time_unit: Duration, duration: Duration) -> Self {
        ConstantRate {
            interval: time_unit.div_f64(rate.max(1) as f64),
            duration,
            n: 0,
        }
    }
}

impl Pacer for ConstantRate {
    fn next(&mut self) -> Option<Duration> {
        let at = self.interval.mul_f64(self.n as f64);
        if at >= self.duration {
            return None;
        }
        self.n += 1;
        Some(at)
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
}
