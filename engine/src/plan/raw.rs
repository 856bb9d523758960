//! The plan as written: TOML (or package defaults), deserialized without
//! judgement. [`super::validate`] turns it into a [`super::Plan`].

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawPlan {
    /// A line describing the plan (shown by `volley run --list-plans`).
    pub description: Option<String>,
    /// Named targets: a URL, or `embedded:http` to start the built-in target.
    /// Each one is handed to the scenario as a parameter of the same name.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    #[serde(default)]
    pub options: RawOptions,
    #[serde(default)]
    pub scenarios: BTreeMap<String, RawScenario>,
    #[serde(default)]
    pub thresholds: BTreeMap<String, Vec<RawThreshold>>,
    /// Shared data sets: name -> CSV or JSON file, loaded once.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Kafka consumer groups whose lag is sampled every second.
    #[serde(default)]
    pub lag: Vec<RawLag>,
    /// Kafka end-to-end tracking: messages produced to one topic, matched
    /// on another by the engine's own consumer.
    #[serde(default)]
    pub track: Vec<RawTrack>,
    /// Endpoints of the system under test sampled into gauges.
    #[serde(default)]
    pub probe: Vec<super::probe::RawProbe>,
    // k6-style shortcuts for a single `default` scenario.
    pub vus: Option<u32>,
    pub duration: Option<String>,
    pub iterations: Option<u64>,
    pub stages: Option<Vec<RawStage>>,
}

/// `[[lag]]`: a consumer group to watch, on a Kafka target.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawLag {
    /// The Kafka target (its name in `[targets]`).
    pub target: String,
    pub group: String,
    pub topic: String,
}

/// `[[track]]`: messages produced to `input` are matched on `output`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawTrack {
    /// The Kafka target (its name in `[targets]`).
    pub target: String,
    pub input: String,
    pub output: String,
    /// Where the correlation id travels: `header` (the engine stamps
    /// `volley-id`), `header:NAME`, `key`, or `json:FIELD` (a top-level
    /// field of a JSON value, for pipelines that drop headers).
    pub id: Option<String>,
    /// End the run once this many tracked messages were seen.
    pub until: Option<u64>,
    /// With `until`: the longest the run may take to see them (from its start).
    pub timeout: Option<String>,
    /// After the scenarios end, how long to wait for messages still in flight.
    pub grace: Option<String>,
    /// A CSV file for every end-to-end latency sample (and a histogram beside it).
    pub samples: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawOptions {
    /// The component every scenario runs unless it names its own.
    pub component: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Hosts a scenario may reach besides the targets (`host`, `host:port`, `*.domain`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Longest one iteration may run before it is stopped and counted failed.
    pub iteration_timeout: Option<String>,
    /// Linear memory one VU may use (e.g. `64MiB`).
    pub memory_limit: Option<String>,
    pub setup_timeout: Option<String>,
    pub teardown_timeout: Option<String>,
    /// How long a correlation mark waits for its arrivals (default 60s).
    pub mark_timeout: Option<String>,
    #[serde(rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// The run's random seed (`--seed`): the same seed gives every VU the
    /// same random numbers again. A fresh one per run when absent.
    pub seed: Option<u64>,
    /// Redirects an HTTP request follows (default 10; 0: none).
    pub max_redirects: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawScenario {
    pub executor: Option<String>,
    pub component: Option<String>,
    /// The entry name passed to the guest's `run` (k6 `exec`).
    pub exec: Option<String>,
    pub start_time: Option<String>,
    pub graceful_stop: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, alias = "env")]
    pub params: BTreeMap<String, String>,
    pub vus: Option<u32>,
    pub iterations: Option<u64>,
    pub duration: Option<String>,
    pub max_duration: Option<String>,
    #[serde(rename = "startVUs")]
    pub start_vus: Option<u32>,
    pub stages: Option<Vec<RawStage>>,
    pub graceful_ramp_down: Option<String>,
    pub rate: Option<u64>,
    pub start_rate: Option<u64>,
    pub time_unit: Option<String>,
    #[serde(rename = "preAllocatedVUs")]
    pub pre_allocated_vus: Option<u32>,
    #[serde(rename = "maxVUs")]
    pub max_vus: Option<u32>,
    /// constant-vus, ramping-vus, shared-iterations: VUs started per second
    /// (Locust's spawn rate).
    pub spawn_rate: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub duration: String,
    pub target: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawThreshold {
    Expr(String),
    Full(RawThresholdFull),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawThresholdFull {
    pub threshold: String,
    #[serde(default)]
    pub abort_on_fail: bool,
    pub delay_abort_eval: Option<String>,
    /// `"pass"` or `"fail"` (default): the outcome when the (sub-)metric
    /// has no samples.
    pub no_data: Option<String>,
}
