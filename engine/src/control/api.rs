//! The control API's wire types, in one place for every client (`volley ps`
//! and friends, the dashboard): one JSON request per line, one JSON answer
//! per line. An answer is `{"ok": true, ...}` with `status` or `swaps`, or
//! `{"ok": false, "error": "..."}`. Over TCP a request also carries
//! `"token": "..."`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A request to a running test.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    /// Stop starting iterations (like one Ctrl-C).
    Stop,
    /// Swap to the component at `path` (a `.wasm` file, or a scenario
    /// folder or source file, built first).
    Swap {
        path: PathBuf,
    },
    /// Roll back the swap in progress, or the last committed one.
    Rollback,
    /// Change a scenario's VUs (`constant-vus`, `ramping-vus`) or arrival
    /// rate (`constant-arrival-rate`, iterations per second).
    Scale {
        scenario: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vus: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<f64>,
    },
}

/// A request line as sent: the request and, over TCP, the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(flatten)]
    pub request: Request,
}

/// What a run says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub plan: String,
    pub elapsed_s: f64,
    pub active_vus: u64,
    pub scenarios: Vec<ScenarioStatus>,
    /// The TCP control address, when the run has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioStatus {
    pub name: String,
    pub version: String,
    /// The version being rolled out, if a swap is in progress.
    pub candidate: Option<String>,
    /// The VU target set by `volley scale`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,
    /// The arrival rate set by `volley scale` (per second), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// A refusal as an answer.
pub fn refusal(error: impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({"ok": false, "error": error.to_string()})
}
