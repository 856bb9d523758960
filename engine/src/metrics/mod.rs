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
mod timeline;
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
pub use registry::{Metrics, SeriesHandle, Snapshot};
pub use tags::{Selector, Tags};
pub use threshold::{Agg, NoData, Op, Threshold, ThresholdResult, Thresholds, has_data};
pub use timeline::{CLASSES, Flight, Second, Sent, Timeline};
pub use value::{Kind, Trend, Value};

/// Why a metric name, selector, threshold or stored trend was refused; the
/// message names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// The name already belongs to a metric of another kind.
    #[error("metric `{name}` is a {declared}, it cannot also be used as a {used}")]
    KindMismatch {
        name: String,
        declared: Kind,
        used: Kind,
    },
    #[error("metric name `{0}` may only use letters, digits, `_`, `.` and `-`")]
    BadName(String),
    #[error(
        "metric `{0}`: a run may declare at most {max} custom metrics (put what varies in a tag, not in the name)",
        max = registry::MAX_CUSTOM_METRICS
    )]
    TooMany(String),
    /// A selector (`name{tag:value}`) or threshold expression that does not parse.
    #[error("{0}")]
    Syntax(String),
    /// A threshold's aggregation that the metric's kind does not have.
    #[error("{0}")]
    WrongAggregation(String),
    /// A stored trend (summary export, hdr log) that cannot be read back.
    #[error("{0}")]
    Encoding(String),
}
