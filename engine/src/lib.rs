//! volley: a load engine whose virtual users are WebAssembly components.
//!
//! The library owns everything; `main.rs` only parses the command line and
//! maps the result to an exit code. Data flows plan -> schedule -> wasm/host ->
//! protocol, with samples landing in per-thread metric recorders that outputs
//! and thresholds read.

pub mod app;
pub mod build;
pub mod cli;
pub mod control;
pub mod embedded;
mod error;
pub mod host;
pub mod metrics;
pub mod output;
pub(crate) mod package;
pub mod plan;
pub mod protocol;
pub mod run;
pub(crate) mod schedule;
pub mod swap;
mod sys;
pub mod wasm;

pub use error::{Error, ExitCode, Invalid};
