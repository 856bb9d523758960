//! volley's integration tests: real components built from source, real
//! loopback servers, the real binary. One test binary, one module per area.

mod cli;
mod executors;
mod failures;
mod http_run;
mod kafka_run;
mod languages;
mod sdk;
mod support;
mod thresholds;
mod ws_run;
