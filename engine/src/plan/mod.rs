//! Plans: what to run, how hard, for how long, and what counts as passing.
//!
//! Raw input (a TOML file, CLI flags, defaults) is parsed into [`raw`] types,
//! then [`validate`] turns it into a [`Plan`] that nothing downstream re-checks.
//! This module reads files and flags; it starts nothing.

use crate::Invalid;

mod duration;
mod fault;
mod k6;
pub mod probe;
mod raw;
mod swap;
mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use duration::{format_duration, parse_duration, parse_size};
pub use fault::{Fault, FaultAction, RawFault};
pub use k6::from_options as from_k6_options;
pub use raw::{RawLag, RawOptions, RawPlan, RawScenario, RawStage, RawThreshold, RawTrack};
pub use swap::RawSwap;
pub use validate::{Overrides, load_plan_file, validate};

use crate::metrics::Thresholds;

/// A validated plan, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan file, or `<command line>`.
    pub source: PathBuf,
    pub description: Option<String>,
    pub targets: Vec<Target>,
    pub scenarios: Vec<Scenario>,
    pub thresholds: Thresholds,
    /// Run-wide parameters (targets' URLs are added when they start).
    pub params: BTreeMap<String, String>,
    pub allow_hosts: Vec<String>,
    pub data: Vec<(String, PathBuf)>,
    pub iteration_timeout: Duration,
    pub memory_limit: u64,
    pub setup_timeout: Duration,
    pub teardown_timeout: Duration,
    /// How long a correlation mark waits for its arrivals.
    pub mark_timeout: Duration,
    /// Consumer groups whose lag is sampled every second (`[[lag]]`).
    pub lag: Vec<RawLag>,
    /// Kafka end-to-end tracking (`[[track]]`).
    pub track: Vec<Track>,
    /// Faults injected during the run (`[[fault]]`).
    pub faults: Vec<Fault>,
    /// Endpoints sampled into gauges during the run (`[[probe]]`).
    pub probes: Vec<probe::Probe>,
    pub insecure_skip_tls_verify: bool,
    /// The random seed the plan or `--seed` fixed; none: a fresh one per run.
    pub seed: Option<u64>,
    /// Redirects an HTTP request follows (0: none).
    pub max_redirects: u32,
    /// What the command line changed in the plan, said before the run.
    pub notes: Vec<String>,
    /// Scenarios of the plan that `--scenario` left out.
    pub dropped_scenarios: Vec<String>,
    /// How a hot swap moves VUs (`[swap]`).
    pub swap: crate::swap::Policy,
}

impl Plan {
    /// The most VUs all scenarios together can hold at once (pool sizing).
    pub fn max_vus(&self) -> u32 {
        self.scenarios.iter().map(|s| s.executor.max_vus()).sum()
    }

    /// When the last scenario ends at the latest, graceful stops included.
    pub fn max_end(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.start_time + s.executor.max_duration() + s.graceful_stop)
            .max()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
}

/// What a target is, parsed once here: nothing downstream re-reads the
/// URL it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    /// An `http://` or `https://` base URL (no trailing `/`) and its
    /// `host:port`, which the allowlist admits.
    Http { url: String, host: String },
    /// `kafka://host:port,...?property=value`: its brokers (each allowed)
    /// and the runner's client properties.
    Kafka(crate::protocol::kafka::Target),
    /// A built-in target the run starts on loopback.
    Embedded(crate::embedded::Kind),
}

impl TargetKind {
    /// Parses a target's value: `http(s)://...`, `kafka://...` or
    /// `embedded:KIND`. The error says what to write instead.
    pub fn parse(value: &str) -> Result<TargetKind, Invalid> {
        if let Some(kind) = value.strip_prefix("embedded:") {
            return Ok(TargetKind::Embedded(kind.parse()?));
        }
        if let Some(rest) = value.strip_prefix("kafka://") {
            return Ok(TargetKind::Kafka(crate::protocol::kafka::Target::parse(
                rest,
            )?));
        }
        if value.starts_with("http://") || value.starts_with("https://") {
            let url = value.trim_end_matches('/').to_string();
            let host = host_of(&url).ok_or_else(|| format!("`{value}` names no host"))?;
            return Ok(TargetKind::Http { url, host });
        }
        Err(Invalid(format!(
            "`{value}`: write a URL (http://host:port, kafka://host:port,host:port) or `embedded:http|auction|kafka`"
        )))
    }
}

/// `host:port` of a URL (user info dropped), for the allowlist.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

/// `[[track]]`, validated: messages produced to `input` on `target` are
/// matched on `output` by an engine-owned consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub target: String,
    pub input: String,
    pub output: String,
    pub id: IdSource,
    pub until: Option<u64>,
    /// From the run's start; only with `until`.
    pub timeout: Option<Duration>,
    pub grace: Duration,
    pub samples: Option<PathBuf>,
}

/// Where a tracked message carries its correlation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSource {
    /// A header; the engine adds it (a unique id) when the scenario did not.
    Header(String),
    /// The message key; the engine sets one when the scenario did not.
    Key,
    /// A top-level field of a JSON object value, set by the scenario.
    Json(String),
}

impl IdSource {
    pub fn parse(s: &str) -> Result<IdSource, Invalid> {
        match s.split_once(':') {
            None if s == "header" => Ok(IdSource::Header("volley-id".into())),
            None if s == "key" => Ok(IdSource::Key),
            Some(("header", name)) if !name.is_empty() => Ok(IdSource::Header(name.into())),
            Some(("json", field)) if !field.is_empty() => Ok(IdSource::Json(field.into())),
            _ => Err(Invalid(format!(
                "`{s}`: write `header`, `header:NAME`, `key` or `json:FIELD`"
            ))),
        }
    }
}

/// One named scenario of a plan.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub component: PathBuf,
    pub exec: String,
    pub start_time: Duration,
    pub graceful_stop: Duration,
    pub tags: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
    pub executor: ExecutorConfig,
}

/// A stage of a ramping executor: reach `target` linearly over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: u64,
}

/// k6's executors with their parameters, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutorConfig {
    ConstantVus {
        vus: u32,
        /// The most VUs `volley scale` may set; none: `vus`.
        max_vus: Option<u32>,
        duration: Duration,
        /// VUs started per second (Locust's spawn rate); all at once if none.
        spawn_rate: Option<f64>,
    },
    RampingVus {
        start_vus: u32,
        /// The most VUs `volley scale` may set; none: the stages' highest.
        max_vus: Option<u32>,
        stages: Vec<Stage>,
        graceful_ramp_down: Duration,
        /// At most this many VUs started per second, whatever the stages say.
        spawn_rate: Option<f64>,
    },
    ConstantArrivalRate {
        rate: u64,
        time_unit: Duration,
        duration: Duration,
        pre_allocated_vus: u32,
        max_vus: u32,
    },
    RampingArrivalRate {
        start_rate: u64,
        time_unit: Duration,
        stages: Vec<Stage>,
        pre_allocated_vus: u32,
        max_vus: u32,
    },
    PerVuIterations {
        vus: u32,
        iterations: u64,
        max_duration: Duration,
    },
    SharedIterations {
        vus: u32,
        iterations: u64,
        max_duration: Duration,
        /// VUs started per second (Locust's spawn rate); all at once if none.
        spawn_rate: Option<f64>,
    },
}

impl ExecutorConfig {
    pub fn name(&self) -> &'static str {
        match self {
            ExecutorConfig::ConstantVus { .. } => "constant-vus",
            ExecutorConfig::RampingVus { .. } => "ramping-vus",
            ExecutorConfig::ConstantArrivalRate { .. } => "constant-arrival-rate",
            ExecutorConfig::RampingArrivalRate { .. } => "ramping-arrival-rate",
            ExecutorConfig::PerVuIterations { .. } => "per-vu-iterations",
            ExecutorConfig::SharedIterations { .. } => "shared-iterations",
        }
    }

    pub fn max_vus(&self) -> u32 {
        match self {
            ExecutorConfig::ConstantVus { vus, max_vus, .. } => max_vus.unwrap_or(0).max(*vus),
            ExecutorConfig::PerVuIterations { vus, .. }
            | ExecutorConfig::SharedIterations { vus, .. } => *vus,
            ExecutorConfig::RampingVus { max_vus, .. } => {
                max_vus.unwrap_or(0).max(self.planned_vus())
            }
            ExecutorConfig::ConstantArrivalRate { max_vus, .. }
            | ExecutorConfig::RampingArrivalRate { max_vus, .. } => *max_vus,
        }
    }

    /// The most VUs the plan itself runs at once (without `volley scale`).
    pub fn planned_vus(&self) -> u32 {
        match self {
            ExecutorConfig::ConstantVus { vus, .. } => *vus,
            ExecutorConfig::RampingVus {
                start_vus, stages, ..
            } => stages
                .iter()
                .map(|s| s.target.min(u32::MAX as u64) as u32)
                .fold(*start_vus, u32::max),
            other => other.max_vus(),
        }
    }

    /// The longest the executor runs before its graceful stop.
    pub fn max_duration(&self) -> Duration {
        match self {
            ExecutorConfig::ConstantVus { duration, .. }
            | ExecutorConfig::ConstantArrivalRate { duration, .. } => *duration,
            ExecutorConfig::RampingVus { stages, .. }
            | ExecutorConfig::RampingArrivalRate { stages, .. } => {
                stages.iter().map(|s| s.duration).sum()
            }
            ExecutorConfig::PerVuIterations { max_duration, .. }
            | ExecutorConfig::SharedIterations { max_duration, .. } => *max_duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_typed_once() {
        assert_eq!(
            TargetKind::parse("http://u:p@127.0.0.1:8080/x/").unwrap(),
            TargetKind::Http {
                url: "http://u:p@127.0.0.1:8080/x".into(),
                host: "127.0.0.1:8080".into()
            }
        );
        assert_eq!(
            TargetKind::parse("https://api.example.com").unwrap(),
            TargetKind::Http {
                url: "https://api.example.com".into(),
                host: "api.example.com".into()
            }
        );
        let TargetKind::Kafka(k) =
            TargetKind::parse("kafka://127.0.0.1:9092,127.0.0.1:9093?acks=all").unwrap()
        else {
            panic!("not kafka")
        };
        assert_eq!(k.brokers, "127.0.0.1:9092,127.0.0.1:9093");
        assert_eq!(k.properties, [("acks".to_string(), "all".to_string())]);
        assert_eq!(
            TargetKind::parse("embedded:kafka").unwrap(),
            TargetKind::Embedded(crate::embedded::Kind::Kafka)
        );
        for (bad, says) in [
            ("http://", "names no host"),
            ("kafka://", "names no broker"),
            ("ftp://x", "write a URL"),
            ("embedded:nope", "unknown embedded target"),
        ] {
            let e = TargetKind::parse(bad).unwrap_err();
            assert!(e.0.contains(says), "{bad}: {e}");
        }
    }
}
