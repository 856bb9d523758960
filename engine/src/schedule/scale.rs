//! Live changes to a running scenario's load (`volley scale`): a VU target
//! for `constant-vus` and `ramping-vus` (it overrides the stages from then
//! on), an arrival rate for `constant-arrival-rate`. The other executors
//! refuse, saying why their load has no live knob.
//!
//! Owns the numbers and their bounds only; the executors read them at each
//! decision and wake on [`Scale::subscribe`].

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::plan::ExecutorConfig;

/// Why a scale request is refused: each names what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaleError {
    #[error(
        "scenario `{scenario}` may have at most {max} VUs (its maxVUs): asked for {asked}; raise maxVUs in the plan to scale further"
    )]
    TooManyVus {
        scenario: String,
        max: u32,
        asked: u32,
    },
    #[error("scenario `{scenario}` ({executor}) cannot be scaled live: {why}")]
    Fixed {
        scenario: String,
        executor: &'static str,
        why: &'static str,
    },
    #[error("scenario `{scenario}` ({executor}) takes {takes}, not {asked}")]
    DoesNotApply {
        scenario: String,
        executor: &'static str,
        takes: &'static str,
        asked: &'static str,
    },
    #[error("a rate is iterations per second, more than 0 (got {0})")]
    BadRate(f64),
    #[error("give --vus N or --rate R")]
    Nothing,
}

#[derive(Debug, Clone, Copy)]
enum Knob {
    /// A VU target, at most `max`.
    Vus { max: u32 },
    /// An arrival rate; the VUs follow it up to the plan's maxVUs.
    Rate,
    /// The executor's load is its own (iterations to run, stages of rates):
    /// why no live change fits it.
    Fixed(&'static str),
}

/// The live load of one scenario. See the module documentation.
#[derive(Debug)]
pub struct Scale {
    scenario: String,
    executor: &'static str,
    knob: Knob,
    /// The VU target set live; `u32::MAX` while the plan's applies.
    vus: AtomicU32,
    /// The rate set live (iterations per second, `f64` bits); 0 while the
    /// plan's applies.
    rate: AtomicU64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Scale {
    /// What `volley scale` may change for a scenario run by `executor`.
    pub fn new(scenario: &str, executor: &ExecutorConfig) -> Self {
        let knob = match executor {
            ExecutorConfig::ConstantVus { .. } | ExecutorConfig::RampingVus { .. } => Knob::Vus {
                max: executor.max_vus(),
            },
            ExecutorConfig::ConstantArrivalRate { .. } => Knob::Rate,
            ExecutorConfig::RampingArrivalRate { .. } => Knob::Fixed(
                "its stages set the rate at every moment, so a live rate would be overridden at once; use constant-arrival-rate to change the rate while it runs",
            ),
            ExecutorConfig::SharedIterations { .. } => Knob::Fixed(
                "its VUs share a fixed number of iterations, so more VUs or a rate would change only how soon they end, not the load asked for; set vus or iterations in the plan",
            ),
            ExecutorConfig::PerVuIterations { .. } => Knob::Fixed(
                "each VU runs a fixed number of iterations, so changing the VUs would change the total the plan asks for; set vus or iterations in the plan",
            ),
        };
        Scale {
            scenario: scenario.to_string(),
            executor: executor.name(),
            knob,
            vus: AtomicU32::new(u32::MAX),
            rate: AtomicU64::new(0),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// A scenario nothing scales (tests, setup).
    pub fn fixed(scenario: &str) -> Self {
        Scale {
            scenario: scenario.to_string(),
            executor: "",
            knob: Knob::Fixed("it is not a scenario of the run"),
            vus: AtomicU32::new(u32::MAX),
            rate: AtomicU64::new(0),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    pub fn scenario(&self) -> &str {
        &self.scenario
    }

    /// The VU target set live, if any.
    pub fn vus(&self) -> Option<u32> {
        match self.vus.load(Ordering::Acquire) {
            u32::MAX => None,
            n => Some(n),
        }
    }

    /// The rate set live (iterations per second), if any.
    pub fn rate(&self) -> Option<f64> {
        match f64::from_bits(self.rate.load(Ordering::Acquire)) {
            r if r > 0.0 => Some(r),
            _ => None,
        }
    }

    /// Wakes on every change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn does_not_apply(&self, asked: &'static str) -> ScaleError {
        let takes = match self.knob {
            Knob::Vus { .. } => "--vus",
            Knob::Rate => "--rate",
            Knob::Fixed(why) => {
                return ScaleError::Fixed {
                    scenario: self.scenario.clone(),
                    executor: self.executor,
                    why,
                };
            }
        };
        ScaleError::DoesNotApply {
            scenario: self.scenario.clone(),
            executor: self.executor,
            takes,
            asked,
        }
    }

    /// Sets the VU target (0 pauses the scenario).
    pub fn set_vus(&self, n: u32) -> Result<(), ScaleError> {
        match self.knob {
            Knob::Vus { max } if n > max => Err(ScaleError::TooManyVus {
                scenario: self.scenario.clone(),
                max,
                asked: n,
            }),
            Knob::Vus { .. } => {
                self.vus.store(n, Ordering::Release);
                self.changed.send_modify(|g| *g += 1);
                Ok(())
            }
            _ => Err(self.does_not_apply("--vus")),
        }
    }

    /// Sets the arrival rate, iterations per second.
    pub fn set_rate(&self, r: f64) -> Result<(), ScaleError> {
        if !(r.is_finite() && r > 0.0) {
            return Err(ScaleError::BadRate(r));
        }
        match self.knob {
            Knob::Rate => {
                self.rate.store(r.to_bits(), Ordering::Release);
                self.changed.send_modify(|g| *g += 1);
                Ok(())
            }
            _ => Err(self.does_not_apply("--rate")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bounds_and_kinds() {
        let vus = ExecutorConfig::ConstantVus {
            vus: 5,
            max_vus: Some(20),
            duration: Duration::from_secs(1),
            spawn_rate: None,
        };
        let s = Scale::new("a", &vus);
        assert_eq!(s.vus(), None);
        s.set_vus(20).unwrap();
        assert_eq!(s.vus(), Some(20));
        let e = s.set_vus(21).unwrap_err().to_string();
        assert!(e.contains("at most 20") && e.contains("maxVUs"), "{e}");
        assert!(s.set_rate(10.0).unwrap_err().to_string().contains("--vus"));

        let rate = ExecutorConfig::ConstantArrivalRate {
            rate: 10,
            time_unit: Duration::from_secs(1),
            duration: Duration::from_secs(1),
            pre_allocated_vus: 1,
            max_vus: 2,
        };
        let s = Scale::new("b", &rate);
        s.set_rate(50.0).unwrap();
        assert_eq!(s.rate(), Some(50.0));
        assert!(s.set_rate(0.0).is_err());
        assert!(s.set_vus(3).unwrap_err().to_string().contains("--rate"));

        let shared = ExecutorConfig::SharedIterations {
            vus: 2,
            iterations: 10,
            max_duration: Duration::from_secs(1),
            spawn_rate: None,
        };
        let e = Scale::new("c", &shared).set_vus(3).unwrap_err().to_string();
        assert!(
            e.contains("cannot be scaled live") && e.contains("fixed number"),
            "{e}"
        );
    }
}
