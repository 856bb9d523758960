//! `constant-vus`: a fixed number of VUs loop for a duration.

use std::time::Duration;

use super::{Decision, Gate};

#[derive(Debug)]
pub struct ConstantVus {
    vus: u32,
    duration: Duration,
}

impl ConstantVus {
    pub fn new(vus: u32, duration: Duration) -> Self {
        ConstantVus { vus, duration }
    }
}

impl Gate for ConstantVus {
    fn slots(&self) -> u32 {
        self.vus
    }

    fn decide(&self, _slot: u32, _done: u64, elapsed: Duration) -> Decision {
        if elapsed < self.duration {
            Decision::Start
        } else {
            Decision::Done
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
    fn loops_until_the_duration() {
        let g = ConstantVus::new(3, Duration::from_secs(10));
        assert_eq!(g.slots(), 3);
        assert_eq!(g.decide(2, 1000, Duration::from_secs(9)), Decision::Start);
        assert_eq!(g.decide(0, 0, Duration::from_secs(10)), Decision::Done);
    }
}
