//! `per-vu-iterations`: each VU runs the same number of iterations.

use std::time::Duration;

use super::{Decision, Gate};

#[derive(Debug)]
pub struct PerVuIterations {
    vus: u32,
    iterations: u64,
    max_duration: Duration,
}

impl PerVuIterations {
    pub fn new(vus: u32, iterations: u64, max_duration: Duration) -> Self {
        PerVuIterations {
            vus,
            iterations,
            max_duration,
        }
    }
}

impl Gate for PerVuIterations {
    fn slots(&self) -> u32 {
        self.vus
    }

    fn decide(&self, _slot: u32, done: u64, elapsed: Duration) -> Decision {
        if done < self.iterations && elapsed < self.max_duration {
            Decision::Start
        } else {
            Decision::Done
        }
    }

    fn end(&self) -> Duration {
        self.max_duration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_runs_its_own_count() {
        let g = PerVuIterations::new(2, 3, Duration::from_secs(60));
        for slot in 0..2 {
            for done in 0..3 {
                assert_eq!(g.decide(slot, done, Duration::ZERO), Decision::Start);
            }
            assert_eq!(g.decide(slot, 3, Duration::ZERO), Decision::Done);
        }
        assert_eq!(g.decide(0, 0, Duration::from_secs(60)), Decision::Done);
    }
}
