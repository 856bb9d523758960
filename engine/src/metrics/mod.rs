//! Metrics: what the engine measures, kept per worker thread and merged once a
//! second into one aggregate that outputs and thresholds read.
//!
//! Owns metric kinds, tags, per-thread shards, aggregation and thresholds. It
//! knows nothing about wasm, protocols or output formats: hosts call
//! [`Metrics::add`], outputs read an [`Aggregate`].
//!
//! Samples never go through a channel or a contended lock: each thread writes
//! into its own shard (an uncontended mutex that only the once-a-second merge
//! also takes).

mod aggregate;
mod builtin;
mod first_error;
mod marks;
mod registry;
mod tags;
mod threshold;
mod value;

pub use aggregate::{Aggregate, MAX_SERIES, Series, overflow_tags};
pub use builtin::Builtin;
pub use first_error::FirstErrors;
pub use marks::{Arrival, Incomplete, Marks, fan_out_names, lost_name};
pub mod mark {
    //! Recording helpers for correlation marks.
    pub use super::marks::{
        Incomplete, MAX_KEY, Refused, declare, record_arrival, record_incomplete,
    };
}
pub use registry::{Metrics, Snapshot};
pub use tags::{Selector, Tags};
pub use threshold::{Agg, NoData, Op, Threshold, ThresholdResult, Thresholds, has_data};
pub use value::{Kind, Trend, Value};
