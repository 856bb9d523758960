//! The library's error type and the process exit codes it maps to.
//!
//! Exit codes follow k6 where k6 has one, so CI pipelines that already branch
//! on k6's codes keep working.

use std::path::PathBuf;

/// Process exit codes (k6's numbers where it has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    /// Unexpected internal failure.
    Generic = 1,
    /// A scenario failed in `setup` (k6 107).
    SetupFailed = 107,
    /// A scenario failed in `teardown`.
    TeardownFailed = 100,
    /// Thresholds failed, at the end or by `abortOnFail` during the run (k6 99).
    ThresholdsFailed = 99,
    /// The plan, a flag or a component is invalid (k6 104 invalid config).
    InvalidConfig = 104,
    /// The scenario could not be built or loaded (k6 107 script exception).
    ScenarioError = 108,
    /// Interrupted by the user (k6 105 external abort).
    Interrupted = 105,
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
    #[error("scenario `{scenario}`: `teardown` failed: {message}")]
    Teardown { scenario: String, message: String },
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

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Plan { .. } | Error::Config(_) => ExitCode::InvalidConfig,
            Error::Component { .. } => ExitCode::ScenarioError,
            Error::Setup { .. } => ExitCode::SetupFailed,
            Error::Teardown { .. } => ExitCode::TeardownFailed,
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
