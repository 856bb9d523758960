//! The wasm side: one wasmtime `Engine` per run, components loaded (and
//! precompiled into a cache) once, `InstancePre` per component, and [`Vu`]:
//! a `Store` plus an instance that runs iterations.
//!
//! Owns wasmtime configuration, epoch interruption and memory limits. It does
//! not decide when to run anything (that is `schedule/`) nor what imports do
//! (that is `host/`).

pub mod bindings;
pub(crate) mod cache;
mod runtime;
mod vu;

pub use runtime::{Component, ComponentId, ComponentInfo, Runtime, RuntimeConfig};
pub use vu::{CallError, SummaryOutputs, Vu};
