//! Terminal progress: under a pseudo-terminal (`script` from util-linux)
//! volley draws a bar per scenario with done/total and percent; through a
//! pipe it writes plain lines instead.

use crate::support::*;

/// `s` quoted for `sh -c`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn a_terminal_gets_a_bar_with_done_total_and_percent() {
    let ingest = http_ingest();
    let cmd = [
        env!("CARGO_BIN_EXE_volley"),
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "--iterations",
        "400",
        "--vus",
        "2",
        "--no-summary",
    ]
    .iter()
    .map(|a| quote(a))
    .collect::<Vec<_>>()
    .join(" ");
    // `script` runs the command with a pseudo-terminal as its stdin,
    // stdout and stderr, and copies what it drew to our stdout.
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux's bsdutils) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The final draw of the bar: the scenario, done/total, percent and
    // the counts the bar carries.
    let last = text
        .rsplit(['\r', '\n'])
        .find(|l| l.contains("400/400"))
        .unwrap_or_else(|| panic!("no finished bar in:\n{text:?}"));
    assert!(last.contains("(100%)"), "{last:?}");
    assert!(last.contains("ok 400 | failed 0"), "{last:?}");
    assert!(last.contains("ETA"), "{last:?}");
    assert!(last.contains('█'), "{last:?}");
    // No plain progress lines on a terminal.
    assert!(!text.contains("] vus="), "{text:?}");
}

#[test]
fn a_pipe_gets_plain_lines() {
    let ingest = http_ingest();
    let (code, out, err) = volley(&[
        "run",
        ingest.to_str().unwrap(),
        "--target",
        "api=embedded:http",
        "--duration",
        "2s",
        "--vus",
        "1",
        "--no-summary",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("] vus=")).collect();
    assert!(!lines.is_empty(), "{err}");
    assert!(lines[0].contains("iterations="), "{err}");
    assert!(!err.contains('█') && !err.contains('\r'), "{err:?}");
}
