//! `metrics` import: custom metrics, checks and correlation marks.

use wasmtime::component::Resource;

use super::VuState;
use crate::metrics::{Builtin, Kind, fan_out_names, lost_name, mark};
use crate::wasm::bindings::volley::scenario::metrics::{
    Host, HostCounter, HostGauge, HostRate, HostTrend,
};

/// Checks (by name and tags of their own) whose series an instance keeps:
/// most scenarios run a handful of checks, each every iteration.
const CHECK_CACHE: usize = 64;

/// A declared custom metric: its name, checked against its kind once, at
/// declare. A sample through the handle needs no lookup of the kind.
#[derive(Debug)]
pub struct Handle(Box<str>);

macro_rules! handles {
    ($($(#[$doc:meta])* $ty:ident),*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $ty(Handle);
    )*};
}

handles!(
    /// A guest's `counter` resource.
    Counter,
    /// A guest's `gauge` resource.
    Gauge,
    /// A guest's `rate` resource.
    Rate,
    /// A guest's `trend` resource.
    Trend
);

impl VuState {
    /// Declares `name` as a `kind` for the run; a name already of another
    /// kind (or an invalid one) is the error the guest gets back.
    fn declare(&self, name: String, kind: Kind) -> Result<Handle, String> {
        self.shared
            .metrics
            .declare(&name, kind)
            .map_err(|e| e.to_string())?;
        Ok(Handle(name.into_boxed_str()))
    }

    fn sample(&self, h: &Handle, kind: Kind, tags: Vec<(String, String)>, sample: f64) {
        let tags = if tags.is_empty() {
            self.scenario.tags.clone()
        } else {
            self.scenario.tags.with(tags)
        };
        self.shared.metrics.add(&h.0, kind, &tags, sample);
    }
}

/// One resource type per metric kind: `declare`, the one sample call, `drop`.
macro_rules! host_metric {
    ($trait:ident, $ty:ident, $kind:expr, $add:ident, $arg:ty, $conv:path) => {
        impl $trait for VuState {
            fn declare(&mut self, name: String) -> wasmtime::Result<Result<Resource<$ty>, String>> {
                Ok(match VuState::declare(self, name, $kind) {
                    Ok(h) => Ok(self.instance.table.push($ty(h))?),
                    Err(e) => Err(e),
                })
            }

            fn $add(
                &mut self,
                r: Resource<$ty>,
                value: $arg,
                tags: Vec<(String, String)>,
            ) -> wasmtime::Result<()> {
                let h = &self.instance.table.get(&r)?.0;
                self.sample(h, $kind, tags, $conv(value));
                Ok(())
            }

            fn drop(&mut self, r: Resource<$ty>) -> wasmtime::Result<()> {
                self.instance.table.delete(r)?;
                Ok(())
            }
        }
    };
}

fn as_is(v: f64) -> f64 {
    v
}

/// A rate's sample: 1 for true.
pub(crate) fn one_or_zero(ok: bool) -> f64 {
    if ok { 1.0 } else { 0.0 }
}

/// Trend samples are kept in milli-units of what the scenario reports.
fn milli(v: f64) -> f64 {
    v * 1000.0
}

host_metric!(HostCounter, Counter, Kind::Counter, add, f64, as_is);
host_metric!(HostGauge, Gauge, Kind::Gauge, set, f64, as_is);
host_metric!(HostRate, Rate, Kind::Rate, add, bool, one_or_zero);
host_metric!(HostTrend, Trend, Kind::Trend, add, f64, milli);

impl VuState {
    /// The series of the check `name` with its own tags `own` (k6's
    /// `group`, say), resolved once per instance (a tag set built and
    /// hashed per check was an eighth of a GET + check's instructions).
    pub(crate) fn check_series(
        &mut self,
        name: &str,
        own: &[(String, String)],
    ) -> crate::metrics::SeriesHandle {
        if let Some(&(_, _, series)) = (self.instance.checks.iter())
            .find(|(n, tags, _)| **n == *name && tags.as_slice() == own)
        {
            return series;
        }
        let tags = (self.scenario.tags.with([("check", name)]))
            .with(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let series = self.shared.metrics.series(Builtin::Checks, &tags);
        if self.instance.checks.len() < CHECK_CACHE {
            self.instance.checks.push((name.into(), own.into(), series));
        }
        series
    }
}

impl Host for VuState {
    fn check(
        &mut self,
        name: String,
        ok: bool,
        tags: Vec<(String, String)>,
    ) -> wasmtime::Result<bool> {
        let sample = one_or_zero(ok);
        let series = self.check_series(&name, &tags);
        self.shared.metrics.record_series(&[(series, sample)]);
        Ok(ok)
    }

    fn mark(&mut self, metric: String, key: String, expected: u32) -> wasmtime::Result<()> {
        let first = !self.instance.declared.contains(&metric);
        if first {
            if let Err(e) = mark::declare(&self.shared.metrics, &metric, expected) {
                crate::output::log(
                    "WARN",
                    format_args!("WARN  [{} vu={}] mark: {e}", self.scenario.name, self.id),
                );
                return Ok(());
            }
            self.instance.declared.insert(metric.clone());
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
