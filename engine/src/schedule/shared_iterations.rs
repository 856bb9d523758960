//! `shared-iterations`: VUs share a fixed number of iterations; whoever is
//! free takes the next one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Decision, Gate};

#[derive(Debug)]
pub struct SharedIterations {
    vus: u32,
    iterations: u64,
    max_duration: Duration,
    /// VUs started per second; all at once if none.
    spawn_rate: Option<f64>,
    claimed: AtomicU64,
}

impl SharedIterations {
    pub fn new(vus: u32, iterations: u64, max_duration: Duration) -> Self {
        SharedIterations {
            vus,
            iterations,
            max_duration,
            spawn_rate: None,
            claimed: AtomicU64::new(0),
        }
    }

    /// Starts VU `n` at `n / rate` seconds instead of all at once.
    pub fn spawning(mut self, rate: Option<f64>) -> Self {
        self.spawn_rate = rate;
        self
    }
}

impl Gate for SharedIterations {
    fn slots(&self) -> u32 {
        self.vus
    }

    /// Each `Start` claims one of the shared iterations.
    fn decide(&self, slot: u32, done: u64, elapsed: Duration) -> Decision {
        if elapsed >= self.max_duration {
            return Decision::Done;
        }
        if let Some(rate) = self.spawn_rate.filter(|_| done == 0) {
            let due = Duration::from_secs_f64(slot as f64 / rate);
            if elapsed < due {
                return Decision::WaitUntil(due);
            }
        }
        let claimed = self
            .claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < self.iterations).then_some(c + 1)
            });
        match claimed {
            Ok(_) => Decision::Start,
            Err(_) => Decision::Done,
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
    fn hands_out_exactly_the_shared_count() {
        let g = std::sync::Arc::new(SharedIterations::new(4, 1000, Duration::from_secs(60)));
        let starts: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|slot| {
                    let g = g.clone();
                    s.spawn(move || {
                        let mut n = 0u64;
                        while g.decide(slot, n, Duration::ZERO) == Decision::Start {
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(starts, 1000);
    }

    #[test]
    fn a_spawn_rate_staggers_first_starts() {
        let g = SharedIterations::new(50, 1000, Duration::from_secs(60)).spawning(Some(5.0));
        assert_eq!(g.decide(0, 0, Duration::ZERO), Decision::Start);
        assert_eq!(
            g.decide(10, 0, Duration::from_millis(100)),
            Decision::WaitUntil(Duration::from_secs(2))
        );
        assert_eq!(g.decide(10, 0, Duration::from_secs(2)), Decision::Start);
        // Once started, a VU goes on at once.
        assert_eq!(g.decide(49, 1, Duration::from_millis(1)), Decision::Start);
    }
}
