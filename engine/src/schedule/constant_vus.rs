//! `constant-vus`: a fixed number of VUs loop for a duration, all started
//! at once or `spawnRate` a second. `volley scale --vus` changes the number
//! up to `maxVUs`: slots above it finish their iteration and wait.

use std::sync::Arc;
use std::time::Duration;

use super::{Decision, Gate, Scale, spawn_due};

#[derive(Debug)]
pub struct ConstantVus {
    vus: u32,
    /// Slots: the most VUs `volley scale` may set.
    max: u32,
    duration: Duration,
    spawn_rate: Option<f64>,
    scale: Option<Arc<Scale>>,
}

impl ConstantVus {
    pub fn new(vus: u32, duration: Duration) -> Self {
        ConstantVus {
            vus,
            max: vus,
            duration,
            spawn_rate: None,
            scale: None,
        }
    }

    /// Follows `scale`'s VU target, up to `max` VUs.
    pub fn scaled(mut self, scale: Arc<Scale>, max: u32) -> Self {
        self.scale = Some(scale);
        self.max = max.max(self.vus);
        self
    }

    fn target(&self) -> u32 {
        self.scale
            .as_ref()
            .and_then(|s| s.vus())
            .unwrap_or(self.vus)
    }

    /// Starts VU `n` at `n / rate` seconds instead of all at once.
    pub fn spawning(mut self, rate: Option<f64>) -> Self {
        self.spawn_rate = rate;
        self
    }
}

impl Gate for ConstantVus {
    fn slots(&self) -> u32 {
        self.max
    }

    fn decide(&self, slot: u32, done: u64, elapsed: Duration) -> Decision {
        if elapsed >= self.duration {
            return Decision::Done;
        }
        if slot >= self.target() {
            // Scaled down (or not up yet): a scale change wakes it.
            return Decision::WaitUntil(self.duration);
        }
        let due = spawn_due(slot, self.spawn_rate);
        if done == 0 && elapsed < due {
            return if due < self.duration {
                Decision::WaitUntil(due)
            } else {
                Decision::Done
            };
        }
        Decision::Start
    }

    fn end(&self) -> Duration {
        self.duration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_until_the_duration() {
        let g = ConstantVus::new(3, Duration::from_secs(10));
        assert_eq!(g.slots(), 3);
        assert_eq!(g.decide(2, 1000, Duration::from_secs(9)), Decision::Start);
        assert_eq!(g.decide(0, 0, Duration::from_secs(10)), Decision::Done);
    }

    #[test]
    fn a_spawn_rate_staggers_first_starts() {
        let g = ConstantVus::new(10, Duration::from_secs(3)).spawning(Some(2.0));
        assert_eq!(g.decide(0, 0, Duration::ZERO), Decision::Start);
        assert_eq!(
            g.decide(3, 0, Duration::from_millis(10)),
            Decision::WaitUntil(Duration::from_millis(1500))
        );
        assert_eq!(g.decide(3, 0, Duration::from_millis(1500)), Decision::Start);
        // Once started, a VU loops at once.
        assert_eq!(g.decide(3, 7, Duration::from_millis(1600)), Decision::Start);
        // Slot 6 would be due at 3 s, the end: it never starts.
        assert_eq!(g.decide(6, 0, Duration::from_secs(1)), Decision::Done);
    }

    #[test]
    fn a_live_target_moves_slots_in_and_out() {
        let cfg = crate::plan::ExecutorConfig::ConstantVus {
            vus: 2,
            max_vus: Some(4),
            duration: Duration::from_secs(10),
            spawn_rate: None,
        };
        let scale = Arc::new(Scale::new("s", &cfg));
        let g = ConstantVus::new(2, Duration::from_secs(10)).scaled(scale.clone(), 4);
        assert_eq!(g.slots(), 4);
        let t = Duration::from_secs(1);
        assert_eq!(g.decide(1, 3, t), Decision::Start);
        assert_eq!(
            g.decide(2, 0, t),
            Decision::WaitUntil(Duration::from_secs(10))
        );
        scale.set_vus(4).unwrap();
        assert_eq!(g.decide(3, 0, t), Decision::Start);
        scale.set_vus(1).unwrap();
        assert_eq!(
            g.decide(1, 9, t),
            Decision::WaitUntil(Duration::from_secs(10))
        );
        assert_eq!(g.decide(0, 9, t), Decision::Start);
    }
}
