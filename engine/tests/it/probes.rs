//! Probes (`[[probe]]`): the embedded target's `/stats` sampled into a
//! gauge during the run, with a last sample at the end that thresholds
//! compare against what the scenario sent.

use volley::metrics::Value;

use crate::support::*;

#[test]
fn a_probe_reads_the_targets_count_and_thresholds_use_it() {
    let plan = plan(
        r#"
[targets]
api = "embedded:http"

[scenarios.ingest]
executor = "shared-iterations"
vus = 4
iterations = 40

[[probe]]
name = "processed"
target = "api"
path = "/stats"
json = "messages"
every = "200ms"

[[probe]]
name = "broken"
target = "api"
path = "/stats"
json = "no.such.field"

[thresholds]
processed = ["value==40", "value>40"]
"#,
        &http_ingest(),
    );
    let out = run_plan(plan);
    let agg = &out.report.aggregate;
    match agg.metrics["processed"].total() {
        Value::Gauge { value, max, .. } => assert_eq!((value, max), (40.0, 40.0)),
        other => panic!("processed is {other:?}"),
    }
    assert_eq!(counter(&out, "iterations"), 40.0);
    // The threshold sees the probe: one holds, the other does not.
    let ok: Vec<(String, bool)> = out
        .report
        .thresholds
        .iter()
        .map(|r| (r.threshold.source.clone(), r.ok))
        .collect();
    assert!(ok.contains(&("value==40".into(), true)), "{ok:?}");
    assert!(ok.contains(&("value>40".into(), false)), "{ok:?}");
    // A probe that cannot read its number is counted, not fatal.
    assert!(
        counter_where(&out, "probe_errors", "probe", "broken") >= 1.0,
        "{:?}",
        agg.metrics.get("probe_errors")
    );
    assert!(!agg.metrics.contains_key("broken"));
}
