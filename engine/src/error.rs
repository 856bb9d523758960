//! The library's error type and the process exit codes it maps to.
//!
//! Exit codes follow k6 where k6 has one, so CI pipelines that already branch
//! on k6's codes keep working.

use std::path::PathBuf;

/// Process exit codes: k6's numbers for the cases k6 has (`errext/exitcodes`),
/// so CI pipelines that already branch on k6's codes keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    /// Unexpected internal failure.
    Generic = 1,
    /// Thresholds failed, at the end or by `abortOnFail` during the run (k6 99).
    ThresholdsFailed = 99,
    /// `setup` ran past `setupTimeout` (k6 100).
    SetupTimeout = 100,
    /// `teardown` ran past `teardownTimeout` (k6 101).
    TeardownTimeout = 101,
    /// The plan, a flag or a threshold is invalid (k6 104 invalid config).
    InvalidConfig = 104,
    /// Interrupted by the user (k6 105 external abort).
    Interrupted = 105,
    /// The scenario failed outside an iteration: it could not be loaded,
    /// `setup`, `init-vu` or `teardown` returned an error or trapped (k6 107
    /// script exception).
    ScriptException = 107,
    /// `volley build` failed: the toolchain is missing or the source did not compile.
    BuildFailed = 110,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as u8 as i32
    }
}

/// Everything that can go wrong in the library. Every message names what the
/// user has to fix: the file, the field, the export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Plan { path: PathBuf, message: String },
    #[error("invalid option: {0}")]
    Config(String),
    #[error("component {path}: {message}")]
    Component { path: PathBuf, message: String },
    #[error("scenario `{scenario}`: `setup` failed: {message}")]
    Setup { scenario: String, message: String },
    #[error(
        "scenario `{scenario}`: `setup` ran past its {timeout:?} (raise setupTimeout in the plan's [options])"
    )]
    SetupTimeout {
        scenario: String,
        timeout: std::time::Duration,
    },
    #[error("scenario `{scenario}`: {message}")]
    Init { scenario: String, message: String },
    #[error("build failed: {0}")]
    Build(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// SIGINT or SIGTERM stopped the run before it started its scenarios.
    #[error("{0}")]
    Interrupted(String),
    #[error("{0}")]
    Other(String),
}

/// A value someone wrote (in a plan, a flag, a reference) that does not
/// parse. Shared by every module's parsers: the message says what to write
/// instead, and the run ends as invalid config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    /// Prefixes where the value came from (`--duration 5x: ...`).
    pub fn within(self, context: impl std::fmt::Display) -> Invalid {
        Invalid(format!("{context}: {}", self.0))
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Invalid(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Invalid(message.to_string())
    }
}

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Error::Config(e.0)
    }
}

impl From<crate::protocol::TlsSetupError> for Error {
    fn from(e: crate::protocol::TlsSetupError) -> Self {
        Error::Other(e.to_string())
    }
}

impl From<crate::control::ControlError> for Error {
    fn from(e: crate::control::ControlError) -> Self {
        match e {
            crate::control::ControlError::NoRun(m) => Error::Config(m),
            e => Error::Other(e.to_string()),
        }
    }
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Plan { .. } | Error::Config(_) => ExitCode::InvalidConfig,
            Error::Component { .. } | Error::Setup { .. } | Error::Init { .. } => {
                ExitCode::ScriptException
            }
            Error::SetupTimeout { .. } => ExitCode::SetupTimeout,
            Error::Build(_) => ExitCode::BuildFailed,
            Error::Interrupted(_) => ExitCode::Interrupted,
            Error::Io { .. } | Error::Other(_) => ExitCode::Generic,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
