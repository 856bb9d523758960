//! `metrics` import: custom metrics, checks and correlation marks.

use super::VuState;
use crate::metrics::{Builtin, Kind, fan_out_names, lost_name, mark};
use crate::wasm::bindings::volley::scenario::metrics::Host;

impl VuState {
    fn custom(&mut self, name: &str, kind: Kind, tags: Vec<(String, String)>, sample: f64) {
        if self.instance.declared.get(name) != Some(&kind) {
            if let Err(e) = self.shared.metrics.declare(name, kind) {
                // A misused name is the scenario's bug: say so once per VU and
                // drop the sample rather than corrupt another metric. Only
                // accepted kinds are cached: a refused one is asked again.
                if self.instance.refused.insert((name.to_string(), kind)) {
                    crate::output::log(
                        "WARN",
                        format_args!("WARN  [{} vu={}] {e}", self.scenario.name, self.id),
                    );
                }
                return;
            }
            self.instance.declared.insert(name.to_string(), kind);
        }
        let tags = if tags.is_empty() {
            self.scenario.tags.clone()
        } else {
            self.scenario.tags.with(tags)
        };
        self.shared.metrics.add(name, kind, &tags, sample);
    }
}

impl Host for VuState {
    fn counter_add(
        &mut self,
        name: String,
        value: f64,
        tags: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.custom(&name, Kind::Counter, tags, value);
        Ok(())
    }

    fn gauge_set(
        &mut self,
        name: String,
        value: f64,
        tags: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.custom(&name, Kind::Gauge, tags, value);
        Ok(())
    }

    fn rate_add(
        &mut self,
        name: String,
        ok: bool,
        tags: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.custom(&name, Kind::Rate, tags, if ok { 1.0 } else { 0.0 });
        Ok(())
    }

    fn trend_add(
        &mut self,
        name: String,
        value: f64,
        tags: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        // Trend samples are kept in milli-units of what the scenario reports.
        self.custom(&name, Kind::Trend, tags, value * 1000.0);
        Ok(())
    }

    fn check(&mut self, name: String, ok: bool) -> wasmtime::Result<bool> {
        let tags = self.scenario.tags.with([("check", name.as_str())]);
        self.shared
            .metrics
            .builtin(Builtin::Checks, &tags, if ok { 1.0 } else { 0.0 });
        Ok(ok)
    }

    fn mark(&mut self, metric: String, key: String, expected: u32) -> wasmtime::Result<()> {
        let first = self.instance.declared.get(&metric) != Some(&Kind::Trend);
        if first {
            if let Err(e) = mark::declare(&self.shared.metrics, &metric, expected) {
                eprintln!("WARN  [{} vu={}] mark: {e}", self.scenario.name, self.id);
                return Ok(());
            }
            self.instance.declared.insert(metric.clone(), Kind::Trend);
            // The loss counter exists (at 0) from the first mark, so a
            // threshold like `count==0` on it holds when nothing was lost.
            let loss = if expected > 1 {
                fan_out_names(&metric)[2].clone()
            } else {
                lost_name(&metric)
            };
            self.shared
                .metrics
                .add(&loss, Kind::Counter, &self.scenario.tags, 0.0);
        }
        if let Err(why) = self.shared.marks.try_mark(&metric, &key, expected) {
            // Not held, so never measured: it counts as lost at once.
            mark::record_incomplete(
                &self.shared.metrics,
                &[mark::Incomplete {
                    metric: metric.as_str().into(),
                    missing: expected.max(1),
                    fan_out: expected > 1,
                }],
            );
            self.shared.warn_once(match why {
                mark::Refused::Full => "marks: too many open marks; new ones count as lost until some arrive or expire (markTimeout)",
                mark::Refused::KeyTooLong => "marks: a key longer than 1024 bytes was refused and counted as lost",
            });
        }
        Ok(())
    }

    fn arrive(&mut self, key: String) -> wasmtime::Result<Option<u64>> {
        Ok(self.shared.marks.arrive(&key).map(|a| {
            mark::record_arrival(&self.shared.metrics, &self.scenario.tags, &a);
            a.latency.as_micros() as u64
        }))
    }
}
