//! Protocol clients in plain Rust: no wasmtime types here. `host/` adapts
//! guest calls to these; tests and benches can use them directly.

mod allow;
mod established;
mod headers;
pub mod http;
pub mod http1;
pub mod kafka;
pub mod net;
mod tls;
pub use tls::TlsSetupError;
pub mod ws;

pub use allow::Allowlist;
