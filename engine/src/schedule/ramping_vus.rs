//! `ramping-vus`: the number of looping VUs follows stages linearly. Slot `s`
//! is wanted while the target is above `s`; a slot no longer wanted finishes
//! its iteration within `gracefulRampDown`. With `spawnRate`, slot `s` is
//! wanted no earlier than `s / spawnRate` seconds, however fast the stages
//! rise. `volley scale --vus` overrides the stages from then on (up to
//! `maxVUs`), with the same graceful ramp-down.

use std::sync::Arc;
use std::time::Duration;

use super::{Decision, Gate, Scale, spawn_due};
use crate::plan::Stage;

#[derive(Debug)]
pub struct RampingVus {
    start_vus: u32,
    stages: Vec<Stage>,
    graceful_ramp_down: Duration,
    end: Duration,
    spawn_rate: Option<f64>,
    /// A live VU target and the slots it may use.
    scale: Option<(Arc<Scale>, u32)>,
}

impl RampingVus {
    pub fn new(start_vus: u32, stages: Vec<Stage>, graceful_ramp_down: Duration) -> Self {
        let end = stages.iter().map(|s| s.duration).sum();
        RampingVus {
            start_vus,
            stages,
            graceful_ramp_down,
            end,
            spawn_rate: None,
            scale: None,
        }
    }

    /// Follows `scale`'s VU target, once set, up to `max` VUs.
    pub fn scaled(mut self, scale: Arc<Scale>, max: u32) -> Self {
        self.scale = Some((scale, max));
        self
    }

    /// The VU target set live, if any.
    fn live(&self) -> Option<u32> {
        self.scale.as_ref().and_then(|(s, _)| s.vus())
    }

    /// Starts slot `n` no earlier than `n / rate` seconds.
    pub fn spawning(mut self, rate: Option<f64>) -> Self {
        self.spawn_rate = rate;
        self
    }

    /// Whether the stages alone want `slot` at `t`.
    fn target_wants(&self, slot: u32, t: Duration) -> bool {
        match self.live() {
            Some(n) => slot < n,
            None => self.target(t).floor() >= slot as f64 + 1.0,
        }
    }

    /// When the stages alone next change their mind about `slot` after `from`.
    fn target_change(&self, slot: u32, from: Duration) -> Option<Duration> {
        if self.live().is_some() {
            // Only another `volley scale` changes it now.
            return None;
        }
        let h = slot as f64 + 1.0;
        let wanted = self.target_wants(slot, from);
        for (t0, d, a, b) in self.segments() {
            if t0 + d <= from {
                continue;
            }
            let cross = |x: f64| {
                if d.is_zero() || a == b {
                    t0
                } else {
                    t0 + d.mul_f64(((x - a) / (b - a)).clamp(0.0, 1.0))
                }
            };
            if wanted && b < h {
                // Drops below h just after the crossing.
                return Some(cross(h).max(from) + Duration::from_millis(1));
            }
            if !wanted && b >= h {
                return Some(cross(h).max(from));
            }
        }
        None
    }

    /// Segments as (start, duration, from, to).
    fn segments(&self) -> impl Iterator<Item = (Duration, Duration, f64, f64)> + '_ {
        let mut t0 = Duration::ZERO;
        let mut a = self.start_vus as f64;
        self.stages.iter().map(move |s| {
            let seg = (t0, s.duration, a, s.target as f64);
            t0 += s.duration;
            a = s.target as f64;
            seg
        })
    }

    /// The (fractional) VU target at `t`.
    pub fn target(&self, t: Duration) -> f64 {
        let mut last = self.start_vus as f64;
        for (t0, d, a, b) in self.segments() {
            if t < t0 + d {
                if d.is_zero() {
                    return b;
                }
                let f = (t - t0).as_secs_f64() / d.as_secs_f64();
                return a + (b - a) * f;
            }
            last = b;
        }
        last
    }
}

impl Gate for RampingVus {
    fn slots(&self) -> u32 {
        let planned = self
            .stages
            .iter()
            .map(|s| s.target.min(u32::MAX as u64) as u32)
            .fold(self.start_vus, u32::max);
        self.scale
            .as_ref()
            .map_or(planned, |(_, max)| planned.max(*max))
    }

    fn decide(&self, slot: u32, _done: u64, elapsed: Duration) -> Decision {
        if elapsed >= self.end {
            return Decision::Done;
        }
        if self.wanted(slot, elapsed) {
            return Decision::Start;
        }
        match self.next_change(slot, elapsed) {
            Some(at) if at < self.end => Decision::WaitUntil(at),
            // A scale change may want it again: it wakes the slot.
            _ if self.scale.is_some() => Decision::WaitUntil(self.end),
            _ => Decision::Done,
        }
    }

    fn end(&self) -> Duration {
        self.end
    }

    fn wanted(&self, slot: u32, elapsed: Duration) -> bool {
        elapsed >= spawn_due(slot, self.spawn_rate) && self.target_wants(slot, elapsed)
    }

    fn graceful_ramp_down(&self) -> Duration {
        self.graceful_ramp_down
    }

    fn next_change(&self, slot: u32, from: Duration) -> Option<Duration> {
        let due = spawn_due(slot, self.spawn_rate);
        if from < due {
            // Not started yet: at its due time if the stages want it then,
            // else when they first do after it.
            return if self.target_wants(slot, due) {
                Some(due)
            } else {
                self.target_change(slot, due)
            };
        }
        self.target_change(slot, from)
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
    fn follows_stages_linearly() {
        let g = RampingVus::new(
            0,
            vec![stage(10, 10), stage(10, 10), stage(10, 0)],
            Duration::from_secs(5),
        );
        assert_eq!(g.slots(), 10);
        assert_eq!(g.end(), Duration::from_secs(30));
        assert!((g.target(Duration::from_secs(5)) - 5.0).abs() < 1e-9);
        assert!((g.target(Duration::from_secs(15)) - 10.0).abs() < 1e-9);
        assert!((g.target(Duration::from_secs(25)) - 5.0).abs() < 1e-9);
        // Slot 4 is wanted from t=5s (target reaches 5) until t=25s.
        assert!(!g.wanted(4, Duration::from_millis(4900)));
        assert!(g.wanted(4, Duration::from_secs(5)));
        assert_eq!(
            g.decide(4, 0, Duration::from_secs(1)),
            Decision::WaitUntil(Duration::from_secs(5))
        );
        let drop = g.next_change(4, Duration::from_secs(12)).unwrap();
        assert!(
            drop > Duration::from_secs(25) && drop < Duration::from_millis(25_010),
            "{drop:?}"
        );
        assert!(!g.wanted(4, drop));
        assert_eq!(g.decide(4, 0, Duration::from_secs(30)), Decision::Done);
        // Slot 9 is wanted only at the plateau.
        assert_eq!(g.decide(9, 0, Duration::from_secs(27)), Decision::Done);
    }

    #[test]
    fn step_stages_jump() {
        let g = RampingVus::new(2, vec![stage(0, 6), stage(5, 6)], Duration::ZERO);
        assert!(g.wanted(5, Duration::from_secs(1)));
    }

    #[test]
    fn a_spawn_rate_caps_how_fast_slots_start() {
        // The stages jump to 6 at once; 2 VUs a second start them over 2.5 s.
        let g =
            RampingVus::new(0, vec![stage(0, 6), stage(10, 6)], Duration::ZERO).spawning(Some(2.0));
        assert!(g.wanted(0, Duration::ZERO));
        assert!(!g.wanted(5, Duration::from_secs(2)));
        assert_eq!(
            g.decide(5, 0, Duration::from_secs(1)),
            Decision::WaitUntil(Duration::from_millis(2500))
        );
        assert!(g.wanted(5, Duration::from_millis(2500)));
        // Slower stages than the spawn rate: the stages decide.
        let g = RampingVus::new(0, vec![stage(10, 10)], Duration::ZERO).spawning(Some(100.0));
        assert_eq!(
            g.decide(4, 0, Duration::ZERO),
            Decision::WaitUntil(Duration::from_secs(5))
        );
    }
}
