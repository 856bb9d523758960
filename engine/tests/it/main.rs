//! volley's integration tests: real components built from source, real
//! loopback servers, the real binary. One test binary, one module per area.

mod cli;
mod control;
mod dashboard;
mod errors;
mod escapes;
mod executors;
mod failures;
mod faults;
mod http_inline;
mod http_run;
mod js_runtime;
mod k6;
mod kafka_run;
mod languages;
mod locust;
mod nginx;
mod outputs;
mod package;
mod probes;
mod props;
mod receivers;
mod report;
mod robust;
mod sandbox;
mod sdk;
mod signals;
mod silent;
mod streamed;
mod support;
mod swap;
mod thresholds;
mod tty;
mod ws_run;
