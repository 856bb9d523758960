//! `volley ps`, `stop`, `swap`, `rollback`, `scale`: clients of a running
//! test's control endpoint (`crate::control`).

use std::path::PathBuf;

use super::runtime;
use crate::control::{self, Request, Target};
use crate::{Error, ExitCode};

pub(super) enum ControlCmd {
    Ps,
    Stop,
    Swap(PathBuf),
    Rollback,
    Scale {
        scenario: String,
        vus: Option<u32>,
        rate: Option<f64>,
    },
}

/// `volley ps`, `stop`, `swap`, `rollback`, `scale`: requests to running
/// tests' control endpoints.
pub(super) fn cmd_control(
    run: Option<String>,
    token: Option<String>,
    cmd: ControlCmd,
) -> Result<ExitCode, Error> {
    let rt = runtime(Some(1))?;
    let ask = |target: &Target, r: Request| {
        rt.block_on(control::request(target, &r))
            .map_err(Error::from)
    };
    let refused = |answer: &serde_json::Value| {
        answer["error"]
            .as_str()
            .map(|e| Error::Other(crate::output::format::printable(e, 500).to_string()))
    };
    let request = match cmd {
        ControlCmd::Ps => {
            println!(
                "{:>8}  {:>8}  {:>6}  {:<40}  SCENARIOS",
                "RUN", "ELAPSED", "VUS", "PLAN"
            );
            let runs: Vec<(String, Target, Option<PathBuf>)> = match &run {
                // One run, maybe over TCP.
                Some(r) => vec![(r.clone(), control::find(Some(r), token)?, None)],
                None => control::entries()
                    .into_iter()
                    .map(|e| (e.run, Target::Unix(e.socket.clone()), Some(e.socket)))
                    .collect(),
            };
            for (run, target, socket) in runs {
                match ask(&target, Request::Status) {
                    Ok(a) if a["ok"].as_bool() == Some(true) => print_status(&run, &a["status"]),
                    Ok(a) => return Err(refused(&a).unwrap_or(Error::Other("refused".into()))),
                    // A run that died without cleaning up: its socket is stale.
                    Err(_) if socket.is_some() => {
                        if let Some(s) = socket {
                            let _ = std::fs::remove_file(&s);
                            let _ = std::fs::remove_file(s.with_extension("tcp"));
                        }
                    }
                    Err(e) => return Err(e),
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
        ControlCmd::Scale {
            scenario,
            vus,
            rate,
        } => Request::Scale {
            scenario,
            vus,
            rate,
        },
    };
    let scaling = matches!(request, Request::Scale { .. });
    let target = control::find(run.as_deref(), token)?;
    let answer = ask(&target, request)?;
    if let Some(e) = refused(&answer) {
        return Err(e);
    }
    if scaling {
        print_status(run.as_deref().unwrap_or("?"), &answer["status"]);
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

/// One `volley ps` line.
fn print_status(run: &str, s: &serde_json::Value) {
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
            if let Some(n) = x["vus"].as_u64() {
                t.push_str(&format!(" vus={n}"));
            }
            if let Some(r) = x["rate"].as_f64() {
                t.push_str(&format!(" rate={r}/s"));
            }
            t
        })
        .collect();
    let control = s["control"]
        .as_str()
        .map(|a| format!("  control={a}"))
        .unwrap_or_default();
    println!(
        "{:>8}  {:>7.0}s  {:>6}  {:<40}  {}{control}",
        crate::output::format::printable(run, 21),
        s["elapsed_s"].as_f64().unwrap_or(0.0),
        s["active_vus"].as_u64().unwrap_or(0),
        crate::output::format::printable(s["plan"].as_str().unwrap_or("?"), 40),
        crate::output::format::printable(&scenarios.join(", "), 400)
    );
}
