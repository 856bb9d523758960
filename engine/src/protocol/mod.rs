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

use std::future::Future;
use std::pin::Pin;

/// Builds the future `make` returns and boxes it, in a frame of its own.
///
/// `Box::pin(some_async_fn(..))` written in an async block builds the
/// future in that block's poll frame before moving it to the heap, so the
/// frame is wider by the future's size for as long as the block runs. A
/// VU's fiber stack keeps its deepest page resident while the VU sleeps:
/// built here, the caller's frame holds only `make`'s captures and a
/// pointer.
#[inline(never)]
pub(crate) fn boxed<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::pin(make())
}
