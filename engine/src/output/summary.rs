//! PLACEHOLDER until the summary lands.
use super::Report;
use crate::metrics::Aggregate;
use std::time::Duration;
pub fn render_summary(report: &Report, _color: bool) -> String {
    let mut s = String::new();
    for name in report.aggregate.metrics.keys() {
        s.push_str(name);
        s.push('\n');
    }
    s
}
pub fn render_progress(elapsed: Duration, _i: &Aggregate, total: &Aggregate, vus: u64) -> String {
    format!("{:?} vus={vus} iterations={}", elapsed, total.counter("iterations"))
}
