//! `[[fault]]`: faults the run injects at chosen times, as written
//! ([`RawFault`]) and validated ([`Fault`]).
//!
//! An embedded HTTP target can be stopped, paused, slowed or made to fail
//! a share of its requests; any system can be faulted by a command the
//! runner gives (argv, no shell) with the command that undoes it. A plan
//! is the runner's, so it may run commands; a package's own plan may not
//! (`package::resolve` refuses it unless `--allow-fault-commands`).

use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_duration;
use super::{Target, TargetKind};
use crate::embedded::Kind as Embedded;

/// One `[[fault]]` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawFault {
    /// The target it hits (required for `action`, `delay`, `errorRate`).
    pub target: Option<String>,
    /// When, from the start of the run (`10s`).
    pub at: String,
    /// How long until it is undone (`3s`).
    #[serde(rename = "for")]
    pub length: Option<String>,
    /// `stop` (close the listener and connections) or `pause` (accept,
    /// never answer) an embedded HTTP target.
    pub action: Option<String>,
    /// Added before the embedded HTTP target answers each request.
    pub delay: Option<String>,
    /// Share of the embedded HTTP target's answers that are 503s.
    #[serde(alias = "error_rate")]
    pub error_rate: Option<f64>,
    /// A command the engine runs (argv, no shell).
    pub command: Option<Vec<String>>,
    /// The command that undoes `command`, run after `for`.
    pub undo: Option<Vec<String>>,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    Stop,
    Pause,
    Delay(Duration),
    ErrorRate(f64),
    Command {
        run: Vec<String>,
        undo: Option<Vec<String>>,
    },
}

impl FaultAction {
    /// One line for the timeline and the summary.
    pub fn describe(&self) -> String {
        match self {
            FaultAction::Stop => "stop".into(),
            FaultAction::Pause => "pause".into(),
            FaultAction::Delay(d) => format!("delay {}", super::format_duration(*d)),
            FaultAction::ErrorRate(r) => format!("error rate {r}"),
            FaultAction::Command { run, .. } => format!("command {}", run.join(" ")),
        }
    }

    pub fn is_command(&self) -> bool {
        matches!(self, FaultAction::Command { .. })
    }
}

/// A validated `[[fault]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub target: Option<String>,
    pub at: Duration,
    /// None: never undone (a command without `undo` and `for`).
    pub length: Option<Duration>,
    pub action: FaultAction,
}

/// Validates every `[[fault]]`; an error names the entry and field.
pub(super) fn validate(raw: &[RawFault], targets: &[Target]) -> Result<Vec<Fault>, String> {
    raw.iter()
        .enumerate()
        .map(|(i, f)| one(f, targets).map_err(|m| format!("[[fault]] #{}{m}", i + 1)))
        .collect()
}

fn one(f: &RawFault, targets: &[Target]) -> Result<Fault, String> {
    let at = parse_duration(&f.at).map_err(|m| format!(".at: {m}"))?;
    let length = f
        .length
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|m| format!(".for: {m}"))?;
    let mut actions = Vec::new();
    if let Some(a) = &f.action {
        actions.push(match a.as_str() {
            "stop" => FaultAction::Stop,
            "pause" => FaultAction::Pause,
            other => {
                return Err(format!(
                    ".action = \"{other}\": write \"stop\" or \"pause\" (or use delay, errorRate, command)"
                ));
            }
        });
    }
    if let Some(d) = &f.delay {
        actions.push(FaultAction::Delay(
            parse_duration(d).map_err(|m| format!(".delay: {m}"))?,
        ));
    }
    if let Some(r) = f.error_rate {
        if !(0.0..=1.0).contains(&r) {
            return Err(format!(".errorRate = {r}: a share of requests, 0.0 to 1.0"));
        }
        actions.push(FaultAction::ErrorRate(r));
    }
    if let Some(run) = &f.command {
        if run.first().is_none_or(|c| c.is_empty()) {
            return Err(
                ".command: give the program and its arguments, e.g. [\"docker\", \"kill\", \"db\"]"
                    .into(),
            );
        }
        if f.undo
            .as_ref()
            .is_some_and(|u| u.first().is_none_or(|c| c.is_empty()))
        {
            return Err(".undo: give the program and its arguments, or leave undo out".into());
        }
        actions.push(FaultAction::Command {
            run: run.clone(),
            undo: f.undo.clone(),
        });
    } else if f.undo.is_some() {
        return Err(".undo: only with `command`".into());
    }
    let action = match actions.len() {
        1 => actions.remove(0),
        0 => return Err(": say what it does: action = \"stop\" or \"pause\", delay, errorRate or command".into()),
        _ => return Err(": one of action, delay, errorRate, command per [[fault]] (write several entries for several faults)".into()),
    };
    if let Some(name) = &f.target {
        let t = targets
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| format!(".target = \"{name}\": no such target in [targets]"))?;
        let has_controls = matches!(
            t.kind,
            TargetKind::Embedded(Embedded::Http | Embedded::Auction)
        );
        if !action.is_command() && !has_controls {
            return Err(format!(
                ".target = \"{name}\": {} works on an `embedded:http` or `embedded:auction` target only; fault other systems with command and undo",
                action.describe()
            ));
        }
    } else if !action.is_command() {
        return Err(format!(
            ".target: {} needs the embedded:http or embedded:auction target it hits",
            action.describe()
        ));
    }
    match (&action, length) {
        (FaultAction::Command { undo: None, .. }, _) => {}
        (_, None) => {
            return Err(".for: how long until it is undone (e.g. \"3s\")".into());
        }
        (_, Some(d)) if d.is_zero() => return Err(".for: more than 0s".into()),
        _ => {}
    }
    Ok(Fault {
        target: f.target.clone(),
        at,
        length,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<Target> {
        vec![
            Target {
                name: "api".into(),
                kind: TargetKind::Embedded(Embedded::Http),
            },
            Target {
                name: "ext".into(),
                kind: TargetKind::parse("http://127.0.0.1:9").unwrap(),
            },
        ]
    }

    fn raw(toml_text: &str) -> RawFault {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn accepts_each_action() {
        let t = targets();
        let f = validate(&[raw("target='api'\nat='5s'\nfor='3s'\naction='stop'")], &t).unwrap();
        assert_eq!(f[0].action, FaultAction::Stop);
        assert_eq!(f[0].at, Duration::from_secs(5));
        let f = validate(&[raw("target='api'\nat='1s'\nfor='1s'\ndelay='200ms'")], &t).unwrap();
        assert_eq!(f[0].action, FaultAction::Delay(Duration::from_millis(200)));
        let f = validate(
            &[raw("target='api'\nat='1s'\nfor='1s'\nerror_rate=0.5")],
            &t,
        )
        .unwrap();
        assert_eq!(f[0].action, FaultAction::ErrorRate(0.5));
        let f = validate(
            &[raw(
                "at='1s'\nfor='2s'\ncommand=['touch','x']\nundo=['rm','x']",
            )],
            &t,
        )
        .unwrap();
        assert!(f[0].action.is_command());
        // A command with no undo needs no `for`.
        assert!(validate(&[raw("at='1s'\ncommand=['true']")], &t).is_ok());
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        let t = targets();
        let cases = [
            ("at='1s'\nfor='1s'\naction='stop'", "#1.target"),
            (
                "target='ext'\nat='1s'\nfor='1s'\naction='stop'",
                "`embedded:auction` target only",
            ),
            (
                "target='nope'\nat='1s'\nfor='1s'\naction='stop'",
                "no such target",
            ),
            ("target='api'\nat='1s'\naction='stop'", ".for"),
            ("target='api'\nat='x'\nfor='1s'\naction='stop'", ".at"),
            ("target='api'\nat='1s'\nfor='1s'\naction='crash'", ".action"),
            (
                "target='api'\nat='1s'\nfor='1s'\nerrorRate=2.0",
                ".errorRate",
            ),
            ("target='api'\nat='1s'\nfor='1s'", "say what it does"),
            (
                "target='api'\nat='1s'\nfor='1s'\naction='stop'\ndelay='1s'",
                "one of",
            ),
            ("at='1s'\nfor='1s'\ncommand=[]", ".command"),
            ("at='1s'\ncommand=['a']\nundo=['b']", ".for"),
            ("at='1s'\nundo=['b']", "only with `command`"),
        ];
        for (text, want) in cases {
            let e = validate(&[raw(text)], &t).unwrap_err();
            assert!(
                e.starts_with("[[fault]] #1") && e.contains(want),
                "{text}: {e}"
            );
        }
    }
}
