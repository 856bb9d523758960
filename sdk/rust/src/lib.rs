//! Write [volley](../../README.md) load-test scenarios in Rust.
//!
//! A scenario is a WebAssembly component. The engine owns scheduling, timing,
//! protocol clients and metrics; your code only decides what to send, what to
//! check and what to wait for. Implement [`Scenario`] (only `run` is
//! required) and export it:
//!
//! ```ignore
//! use volley_sdk::prelude::*;
//!
//! struct Ingest;
//!
//! impl Scenario for Ingest {
//!     fn run(_entry: &str) -> Result<(), String> {
//!         let api = vu::param("api").ok_or("param `api` is missing")?;
//!         let res = http::Request::post(format!("{api}/messages"))
//!             .json(&serde_json::json!({ "user_id": 1, "channel_id": 2, "content": "hi" }))
//!             .name("post message")
//!             .send()
//!             .map_err(|e| e.to_string())?;
//!         check("status is 201", res.status == 201);
//!         Ok(())
//!     }
//! }
//!
//! volley_sdk::export_scenario!(Ingest);
//! ```
//!
//! A complete, runnable example is `scripts/http-ingest`:
//! `volley run scripts/http-ingest`. Build your own folder with
//! `volley build <dir>`; the crate must be a `cdylib`.
//!
//! Every call here is synchronous for the scenario; the engine serves it
//! asynchronously, so a VU waiting on the network holds no thread. The engine
//! times every request itself: there is nothing to time in scenario code.

#![warn(missing_docs)]

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "scenario",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "volley_sdk::bindings",
    });
}

pub mod http;
pub mod kafka;
pub mod metrics;
pub mod vu;
pub mod ws;

pub use metrics::check;

/// What a scenario implements. Only [`Scenario::run`] is required.
pub trait Scenario {
    /// Runs once before any VU starts; the bytes are given to every VU's
    /// [`Scenario::init_vu`] and to [`Scenario::teardown`].
    fn setup() -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    /// Runs once per VU before its first iteration.
    fn init_vu(_setup_data: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// One iteration. `entry` is the plan scenario's `exec` name (`default`
    /// unless the plan says otherwise), so one component can serve several
    /// scenarios. An `Err` counts as a failed iteration; a panic traps (the
    /// error names its message and location) and the VU is re-instantiated.
    fn run(entry: &str) -> Result<(), String>;

    /// Runs once after every VU has stopped.
    fn teardown(_setup_data: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// Installs (once) the panic hook that reports a panic's message and source
/// location to the engine before the guest aborts: the failed iteration's
/// error shows `panicked at src/lib.rs:12:5: message` instead of a trap at a
/// wasm offset. [`export_scenario!`] calls it at every entry.
#[doc(hidden)]
pub fn __install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload_as_str()
                .unwrap_or("(a panic without a message)");
            let at = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "an unknown location".into());
            bindings::volley::scenario::log::write(
                bindings::volley::scenario::log::Level::Error,
                &format!("panicked at {at}: {message}"),
            );
        }));
    });
}

/// Exports a [`Scenario`] implementation as the component's entry points.
#[macro_export]
macro_rules! export_scenario {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __VolleyExport;

        impl $crate::bindings::Guest for __VolleyExport {
            fn setup() -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                $crate::__install_panic_hook();
                <$ty as $crate::Scenario>::setup()
            }
            fn init_vu(
                setup_data: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__install_panic_hook();
                <$ty as $crate::Scenario>::init_vu(&setup_data)
            }
            fn run(entry: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__install_panic_hook();
                <$ty as $crate::Scenario>::run(&entry)
            }
            fn teardown(
                setup_data: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__install_panic_hook();
                <$ty as $crate::Scenario>::teardown(&setup_data)
            }
        }

        $crate::bindings::__export_world!(__VolleyExport with_types_in $crate::bindings);
    };
}

/// Leveled log lines in the engine's output, tagged with scenario and VU.
pub mod log {
    use crate::bindings::volley::scenario::log::{Level, write};

    /// Debug detail, hidden unless `--log-level debug`.
    pub fn debug(message: &str) {
        write(Level::Debug, message);
    }
    /// Normal information.
    pub fn info(message: &str) {
        write(Level::Info, message);
    }
    /// Something looks wrong.
    pub fn warn(message: &str) {
        write(Level::Warn, message);
    }
    /// Something failed.
    pub fn error(message: &str) {
        write(Level::Error, message);
    }
}

/// Everything a scenario usually needs.
pub mod prelude {
    pub use crate::Scenario;
    pub use crate::http;
    pub use crate::kafka;
    pub use crate::log;
    pub use crate::metrics::{
        self, Counter, Gauge, Rate, Trend, arrive, check, check_tagged, group, mark,
    };
    pub use crate::vu::{self, data};
    pub use crate::ws;
}
