//! `metrics` import: custom metrics, checks and correlation marks.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::Resource;

use super::VuState;
use crate::metrics::{Builtin, Kind, SeriesHandle, Tags, fan_out_names, lost_name, mark};
use crate::wasm::bindings::volley::scenario::metrics::{
    Host, HostCounter, HostGauge, HostRate, HostTrend,
};

/// Checks (by name and tags of their own) whose series an instance keeps:
/// most scenarios run a handful of checks, each every iteration.
const CHECK_CACHE: usize = 64;

/// A check's series, by the check's name, its own tags and the open
/// group's id ([`VuState::group_id`]).
pub(crate) struct CheckSeries {
    name: Box<str>,
    own: Vec<(String, String)>,
    group: u64,
    series: SeriesHandle,
}

/// Groups (by path) whose tags and series an instance keeps: a script
/// names a handful; past this the one entered longest ago is forgotten.
const GROUP_CACHE: usize = 32;

/// How deep groups nest: an `enter-group` past it is counted, not kept,
/// and the next `leave-group` undoes it (a script entering without leaving
/// in a loop keeps no more than this until its iteration ends).
const GROUP_DEPTH: usize = 64;

/// A group path an instance entered, with what its samples are recorded on.
#[derive(Debug)]
pub(crate) struct Group {
    /// Never reused within an instance: the per-VU series caches key on it.
    id: u64,
    /// `::outer::name`.
    path: Box<str>,
    /// The scenario's tags plus `group`.
    tags: Tags,
    duration: SeriesHandle,
}

/// A VU's groups (k6's `group`): the open ones, innermost last, each with
/// when it was entered, and those entered lately.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    open: Vec<(Arc<Group>, Instant)>,
    /// Enters past [`GROUP_DEPTH`] not yet left.
    too_deep: usize,
    seen: Vec<Arc<Group>>,
    last_id: u64,
}

impl Groups {
    /// Leaves every open group without recording (an iteration ended).
    pub(crate) fn close_all(&mut self) {
        self.open.clear();
        self.too_deep = 0;
    }
}

/// Whether `path` is `outer::name`.
fn is_path(path: &str, outer: &str, name: &str) -> bool {
    path.len() == outer.len() + 2 + name.len()
        && path.starts_with(outer)
        && path[outer.len()..].starts_with("::")
        && path.ends_with(name)
}

impl VuState {
    /// The tags what this VU records carries: its scenario's, plus `group`
    /// inside a group.
    pub(crate) fn base_tags(&self) -> &Tags {
        match self.instance.groups.open.last() {
            Some((g, _)) => &g.tags,
            None => &self.scenario.tags,
        }
    }

    /// The open group's id (0 outside any): part of the per-VU series
    /// caches' keys, as its tag is part of the series.
    pub(crate) fn group_id(&self) -> u64 {
        self.instance.groups.open.last().map_or(0, |(g, _)| g.id)
    }

    fn enter_group(&mut self, name: &str) {
        let groups = &mut self.instance.groups;
        if groups.open.len() >= GROUP_DEPTH {
            groups.too_deep += 1;
            self.shared.warn_once(
                "groups: nested more than 64 deep; the deeper ones are not recorded (a group entered in a loop and never left?)",
            );
            return;
        }
        let outer = groups.open.last().map_or("", |(g, _)| &g.path);
        let known = groups
            .seen
            .iter()
            .rev()
            .find(|g| is_path(&g.path, outer, name));
        let group = match known {
            Some(g) => g.clone(),
            None => {
                let path = format!("{outer}::{name}");
                let tags = self.scenario.tags.with([("group", path.as_str())]);
                groups.last_id += 1;
                let group = Arc::new(Group {
                    id: groups.last_id,
                    duration: self.shared.metrics.series(Builtin::GroupDuration, &tags),
                    path: path.into_boxed_str(),
                    tags,
                });
                if groups.seen.len() >= GROUP_CACHE {
                    groups.seen.remove(0);
                }
                groups.seen.push(group.clone());
                group
            }
        };
        groups.open.push((group, Instant::now()));
    }

    fn leave_group(&mut self) {
        let groups = &mut self.instance.groups;
        if groups.too_deep > 0 {
            groups.too_deep -= 1;
            return;
        }
        if let Some((group, entered)) = groups.open.pop() {
            let us = entered.elapsed().as_micros() as f64;
            self.shared.metrics.record_series(&[(group.duration, us)]);
        }
    }
}

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
            self.base_tags().clone()
        } else {
            self.base_tags().with(tags)
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
    pub(crate) fn check_series(&mut self, name: &str, own: &[(String, String)]) -> SeriesHandle {
        let group = self.group_id();
        if let Some(c) = (self.instance.checks.iter())
            .find(|c| c.group == group && *c.name == *name && c.own == own)
        {
            return c.series;
        }
        let tags = (self.base_tags().with([("check", name)]))
            .with(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let series = self.shared.metrics.series(Builtin::Checks, &tags);
        if self.instance.checks.len() < CHECK_CACHE {
            (self.instance.checks).push(CheckSeries {
                name: name.into(),
                own: own.into(),
                group,
                series,
            });
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

    fn enter_group(&mut self, name: String) -> wasmtime::Result<()> {
        VuState::enter_group(self, &name);
        Ok(())
    }

    fn leave_group(&mut self) -> wasmtime::Result<()> {
        VuState::leave_group(self);
        Ok(())
    }

    fn arrive(&mut self, key: String) -> wasmtime::Result<Option<u64>> {
        Ok(self.shared.marks.arrive(&key).map(|a| {
            mark::record_arrival(&self.shared.metrics, &self.scenario.tags, &a);
            a.latency.as_micros() as u64
        }))
    }
}
