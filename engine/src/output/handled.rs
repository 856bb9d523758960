//! k6's `handleSummary`: the data a scenario's `handle-summary` export
//! gets (the summary in the layout k6 gives that function), and what the
//! engine does with what it returns: `stdout` replaces the end-of-test
//! summary, `stderr` goes to stderr, any other key is a file written under
//! the folder volley runs in.

use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use super::Report;

/// The trend statistics k6 puts in the data by default.
const TREND_STATS: [&str; 6] = ["avg", "min", "med", "max", "p(90)", "p(95)"];

/// `report` as k6's `handleSummary` data (JSON): `metrics` and `state` as
/// `--summary-export` writes them, `root_group.checks` as k6's list
/// (without k6's `id`s), `options` with k6's defaults. The export's
/// lossless parts (`series`, the timeline) are left out: a script reads
/// the summary, not the raw histograms.
pub fn data(report: &Report, stdout_tty: bool, stderr_tty: bool) -> String {
    let export = super::export::export_of(report);
    let checks: Vec<Value> = export
        .root_group
        .checks
        .values()
        .map(|c| {
            json!({
                "name": c.name,
                "path": format!("::{}", c.name),
                "passes": c.passes,
                "fails": c.fails,
            })
        })
        .collect();
    json!({
        "root_group": {
            "name": "",
            "path": "",
            "groups": [],
            "checks": checks,
        },
        "options": {
            "summaryTrendStats": TREND_STATS,
            "summaryTimeUnit": "",
            "noColor": false,
        },
        "state": {
            "isStdOutTTY": stdout_tty,
            "isStdErrTTY": stderr_tty,
            "testRunDurationMs": export.state.test_run_duration_ms,
        },
        "metrics": export.metrics,
    })
    .to_string()
}

/// Whose `handleSummary` it is: the user's own scenario, built here from
/// its sources, may write files and raw terminal output (colours);
/// anything prebuilt (a component file, a package) may come from anyone,
/// so it writes no files and its text is shown with control characters
/// escaped, as its log lines are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trust {
    OwnSources,
    Prebuilt,
}

/// What a `handle-summary` asked for, done: files written under `dir`,
/// `stderr` written; `stdout` returned for the summary's place. Each
/// output that could not be written is an error naming it (the others
/// are still written).
pub fn apply(outputs: Vec<(String, Vec<u8>)>, dir: &Path, trust: Trust) -> (Vec<u8>, Vec<String>) {
    use std::io::Write as _;
    let text = |bytes: Vec<u8>| match trust {
        Trust::OwnSources => bytes,
        Trust::Prebuilt => {
            super::format::terminal_safe(&String::from_utf8_lossy(&bytes), usize::MAX)
                .into_owned()
                .into_bytes()
        }
    };
    // A summary of its own replaces the engine's, even when empty.
    let mut stdout = Vec::new();
    let mut errors = Vec::new();
    for (key, bytes) in outputs {
        match key.as_str() {
            "stdout" => stdout.extend(text(bytes)),
            "stderr" => {
                let _ = std::io::stderr().lock().write_all(&text(bytes));
            }
            path if trust == Trust::Prebuilt => errors.push(format!(
                "handleSummary: not written: {path:?}: a prebuilt component or package writes no files (run the scenario from its sources to have them)"
            )),
            path => match file_under(dir, path) {
                Ok(file) => match write_file(&file, &bytes) {
                    Ok(()) => super::log(
                        "INFO",
                        format_args!("INFO  handleSummary wrote {path} ({} bytes)", bytes.len()),
                    ),
                    Err(e) => errors.push(format!("handleSummary: writing {path}: {e}")),
                },
                Err(why) => errors.push(format!("handleSummary: not written: {path:?}: {why}")),
            },
        }
    }
    (stdout, errors)
}

/// `path` under `dir`, if it is a plain relative path: a scenario (maybe a
/// package from a registry) writes only there, never a hidden file.
fn file_under(dir: &Path, path: &str) -> Result<PathBuf, &'static str> {
    let rel = Path::new(path);
    if path.is_empty() || rel.is_absolute() {
        return Err(
            "volley writes handleSummary's files only under the folder it runs in: give a relative path",
        );
    }
    for part in rel.components() {
        match part {
            Component::Normal(name) if !name.to_string_lossy().starts_with('.') => {}
            Component::Normal(_) => {
                return Err("a hidden file or folder (a name starting with `.`) is not written");
            }
            _ => {
                return Err(
                    "`..`, `.` and roots are not allowed in the path: give a plain relative path",
                );
            }
        }
    }
    Ok(dir.join(rel))
}

fn write_file(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(file, bytes)
}

#[cfg(test)]
mod tests {
    use super::file_under;
    use std::path::Path;

    #[test]
    fn only_plain_relative_paths_are_written() {
        let dir = Path::new("/run/here");
        assert_eq!(
            file_under(dir, "out/summary.json").unwrap(),
            dir.join("out/summary.json")
        );
        for bad in [
            "",
            "/etc/passwd",
            "../up.json",
            "a/../../b",
            "./x",
            ".bashrc",
            "a/.git/x",
        ] {
            assert!(file_under(dir, bad).is_err(), "{bad}");
        }
    }
}
