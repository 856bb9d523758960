//! `volley ps`, `stop`, `swap`, `rollback`: clients of a running test's
//! control socket (`crate::control`).

use std::path::{Path, PathBuf};

use super::runtime;
use crate::{Error, ExitCode};

pub(super) enum ControlCmd {
    Ps,
    Stop,
    Swap(PathBuf),
    Rollback,
}

/// `volley ps`, `stop`, `swap`, `rollback`: requests to running tests'
/// control sockets.
pub(super) fn cmd_control(run: Option<String>, cmd: ControlCmd) -> Result<ExitCode, Error> {
    use crate::control::{self, Request};
    let rt = runtime(Some(1))?;
    let ask = |socket: &Path, r: Request| {
        rt.block_on(control::request(socket, &r))
            .map_err(Error::Other)
    };
    let refused = |answer: &serde_json::Value| {
        answer["error"]
            .as_str()
            .map(|e| Error::Other(e.to_string()))
    };
    let request = match cmd {
        ControlCmd::Ps => {
            println!(
                "{:>8}  {:>8}  {:>6}  {:<40}  SCENARIOS",
                "RUN", "ELAPSED", "VUS", "PLAN"
            );
            for (run, socket) in control::sockets() {
                match ask(&socket, Request::Status) {
                    Ok(a) => {
                        let s = &a["status"];
                        let scenarios: Vec<String> = s["scenarios"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|x| {
                                let mut t = format!(
                                    "{}@{}",
                                    x["name"].as_str().unwrap_or("?"),
                                    x["version"].as_str().unwrap_or("?")
                                );
                                if let Some(c) = x["candidate"].as_str() {
                                    t.push_str(&format!(" (swapping to {c})"));
                                }
                                t
                            })
                            .collect();
                        println!(
                            "{run:>8}  {:>7.0}s  {:>6}  {:<40}  {}",
                            s["elapsed_s"].as_f64().unwrap_or(0.0),
                            s["active_vus"].as_u64().unwrap_or(0),
                            crate::output::format::printable(s["plan"].as_str().unwrap_or("?"), 40),
                            scenarios.join(", ")
                        );
                    }
                    // A run that died without cleaning up: its socket is stale.
                    Err(_) => {
                        let _ = std::fs::remove_file(&socket);
                    }
                }
            }
            return Ok(ExitCode::Ok);
        }
        ControlCmd::Stop => Request::Stop,
        ControlCmd::Rollback => Request::Rollback,
        ControlCmd::Swap(path) => Request::Swap {
            path: std::fs::canonicalize(&path)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?,
        },
    };
    let socket = control::find(run.as_deref()).map_err(Error::Config)?;
    let answer = ask(&socket, request)?;
    if let Some(e) = refused(&answer) {
        return Err(e);
    }
    let mut failed = false;
    for e in answer["swaps"].as_array().into_iter().flatten() {
        let result = e["result"].as_str().unwrap_or("?");
        failed |= result != "committed" && result != "unchanged";
        println!(
            "{}: {} -> {}: {result}{}",
            e["scenario"].as_str().unwrap_or("?"),
            e["from"].as_str().unwrap_or("?"),
            e["to"].as_str().unwrap_or("?"),
            e["reason"]
                .as_str()
                .map(|r| format!(" ({})", crate::output::format::printable(r, 300)))
                .unwrap_or_default()
        );
    }
    Ok(if failed {
        ExitCode::ScriptException
    } else {
        ExitCode::Ok
    })
}
