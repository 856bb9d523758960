//! `ramping-arrival-rate`: the arrival rate follows stages linearly; the
//! n-th iteration starts when the integral of the rate reaches n.

use std::time::Duration;

use super::Pacer;
use crate::plan::Stage;

#[derive(Debug)]
pub struct RampingRate {
    /// Segments as (start s, length s, rate/s at start, rate/s at end).
    segments: Vec<(f64, f64, f64, f64)>,
    end: Duration,
    n: u64,
    /// Arrivals before the current segment, and its index.
    before: f64,
    seg: usize,
}

impl RampingRate {
    pub fn new(start_rate: u64, time_unit: Duration, stages: Vec<Stage>) -> Self {
        let per_sec = |r: u64| r as f64 / time_unit.as_secs_f64();
        let mut segments = Vec::with_capacity(stages.len());
        let mut t0 = 0.0;
        let mut a = per_sec(start_rate);
        for s in &stages {
            let d = s.duration.as_secs_f64();
            let b = per_sec(s.target);
            segments.push((t0, d, a, b));
            t0 += d;
            a = b;
        }
        RampingRate {
            segments,
            end: Duration::from_secs_f64(t0),
            n: 0,
            before: 0.0,
            seg: 0,
        }
    }
}

impl Pacer for RampingRate {
    fn next(&mut self) -> Option<Duration> {
        // The first arrival happens at t=0 only if the rate is positive there;
        // arrival k (0-based) is where the cumulative count reaches k.
        let want = self.n as f64;
        while self.seg < self.segments.len() {
            let (t0, d, a, b) = self.segments[self.seg];
            let total = (a + b) / 2.0 * d;
            if want < self.before + total || (want == self.before && a > 0.0) {
                let k = want - self.before;
                // Solve a*x + (b-a)/(2d)*x^2 = k for x in [0, d].
                let x = if d == 0.0 {
                    0.0
                } else if (b - a).abs() < 1e-12 {
                    k / a
                } else {
                    let c2 = (b - a) / (2.0 * d);
                    let disc = (a * a + 4.0 * c2 * k).max(0.0);
                    (-a + disc.sqrt()) / (2.0 * c2)
                };
                self.n += 1;
                return Some(Duration::from_secs_f64((t0 + x.clamp(0.0, d)).max(0.0)));
            }
            self.before += total;
            self.seg += 1;
        }
        None
    }

    fn end(&self) -> Duration {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: u64, target: u64) -> Stage {
        Stage {
            duration: Duration::from_secs(secs),
            target,
        }
    }

    #[test]
    fn counts_follow_the_integral() {
        // 0 -> 100/s over 10 s: 500 arrivals; then 100/s for 5 s: 500 more.
        let mut p = RampingRate::new(
            0,
            Duration::from_secs(1),
            vec![stage(10, 100), stage(5, 100)],
        );
        let times: Vec<_> = std::iter::from_fn(|| p.next()).collect();
        assert!((999..=1001).contains(&times.len()), "{}", times.len());
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // Half of the ramp's arrivals come in its last ~29% (sqrt(1/2)).
        let t250 = times[250].as_secs_f64();
        assert!((t250 - 10.0 * 0.5f64.sqrt()).abs() < 0.05, "{t250}");
        assert!(times.last().unwrap() < &Duration::from_secs(15));
    }

    #[test]
    fn constant_segment_is_even() {
        let mut p = RampingRate::new(10, Duration::from_secs(1), vec![stage(2, 10)]);
        let times: Vec<_> = std::iter::from_fn(|| p.next()).collect();
        assert_eq!(times.len(), 20);
        assert_eq!(times[0], Duration::ZERO);
        assert!((times[1].as_secs_f64() - 0.1).abs() < 1e-9);
    }
}
