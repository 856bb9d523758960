//! Protocol clients in plain Rust: no wasmtime types here. `host/` adapts
//! guest calls to these; tests and benches can use them directly.

mod allow;
pub mod http;
pub mod kafka;
pub mod net;
mod tls;
pub mod ws;

pub use allow::Allowlist;
