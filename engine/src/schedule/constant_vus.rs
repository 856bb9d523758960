//! `constant-vus`: a fixed number of VUs loop for a duration, all started
//! at once or `spawnRate` a second.

use std::time::Duration;

use super::{Decision, Gate, spawn_due};

#[derive(Debug)]
pub struct ConstantVus {
    vus: u32,
    duration: Duration,
    spawn_rate: Option<f64>,
}

impl ConstantVus {
    pub fn new(vus: u32, duration: Duration) -> Self {
        ConstantVus {
            vus,
            duration,
            spawn_rate: None,
        }
    }

    /// Starts VU `n` at `n / rate` seconds instead of all at once.
    pub fn spawning(mut self, rate: Option<f64>) -> Self {
        self.spawn_rate = rate;
        self
    }
}

impl Gate for ConstantVus {
    fn slots(&self) -> u32 {
        self.vus
    }

    fn decide(&self, slot: u32, done: u64, elapsed: Duration) -> Decision {
        if elapsed >= self.duration {
            return Decision::Done;
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
}
