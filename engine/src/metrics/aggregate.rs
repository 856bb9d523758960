//! The merged view of every shard: one entry per metric, one value per tag set.

use std::collections::{BTreeMap, HashMap};

use super::tags::{Selector, Tags};
use super::value::{Kind, Value};

/// One metric's values, split by tag set.
#[derive(Clone, Debug)]
pub struct Series {
    pub kind: Kind,
    pub by_tags: HashMap<Tags, Value>,
}

impl Series {
    pub fn new(kind: Kind) -> Self {
        Series {
            kind,
            by_tags: HashMap::new(),
        }
    }

    /// All tag sets merged into one value.
    pub fn total(&self) -> Value {
        self.matching(&[])
    }

    /// The tag sets that match every `key:value` in `filter`, merged.
    pub fn matching(&self, filter: &[(String, String)]) -> Value {
        let mut out = Value::new(self.kind);
        for (tags, v) in &self.by_tags {
            if filter.iter().all(|(k, want)| tags.get(k) == Some(want)) {
                out.merge(v);
            }
        }
        out
    }

    /// Merges `v` into the tag set `tags`; a tag set beyond [`MAX_SERIES`]
    /// goes to [`overflow_tags`] instead, and `true` says so.
    pub fn merge_value(&mut self, tags: &Tags, v: &Value) -> bool {
        // A shard's own overflow series counts as an overflow too.
        let overflowed = tags == overflow_tags();
        if let Some(mine) = self.by_tags.get_mut(tags) {
            mine.merge(v);
            return overflowed;
        }
        let overflow = overflowed || self.by_tags.len() >= MAX_SERIES;
        let tags = if overflow { overflow_tags() } else { tags };
        match self.by_tags.get_mut(tags) {
            Some(mine) => mine.merge(v),
            None => {
                self.by_tags.insert(tags.clone(), v.clone());
            }
        }
        overflow
    }
}

/// Tag sets one metric may have. Tag values come from scenarios, and a
/// value per iteration (an id, a timestamp) would grow the engine and the
/// export without a bound; past this, samples land in one overflow series.
pub const MAX_SERIES: usize = 10_000;

/// The tag set of a metric's overflow series: `{overflow:true}`.
pub fn overflow_tags() -> &'static Tags {
    static TAGS: std::sync::OnceLock<Tags> = std::sync::OnceLock::new();
    TAGS.get_or_init(|| Tags::new([("overflow", "true")]))
}

/// Every metric seen so far, by name.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    pub metrics: BTreeMap<String, Series>,
    /// The first message of each failing series (bounded).
    pub first_errors: super::FirstErrors,
}

impl Aggregate {
    /// Merges one value; `true` when its tag set overflowed (see
    /// [`MAX_SERIES`]).
    pub fn merge_value(&mut self, name: &str, tags: &Tags, v: &Value) -> bool {
        let series = match self.metrics.get_mut(name) {
            Some(s) => s,
            None => self
                .metrics
                .entry(name.to_string())
                .or_insert_with(|| Series::new(v.kind())),
        };
        series.kind == v.kind() && series.merge_value(tags, v)
    }

    /// Merges `other` in; returns the metrics whose tag sets overflowed.
    pub fn merge(&mut self, other: &Aggregate) -> Vec<String> {
        self.first_errors.merge(&other.first_errors);
        let mut overflowed = Vec::new();
        for (name, series) in &other.metrics {
            for (tags, v) in &series.by_tags {
                if self.merge_value(name, tags, v) && overflowed.last() != Some(name) {
                    overflowed.push(name.clone());
                }
            }
        }
        overflowed
    }

    /// The value a selector picks, if its metric has any samples.
    pub fn select(&self, sel: &Selector) -> Option<Value> {
        self.metrics
            .get(&sel.metric)
            .map(|s| s.matching(&sel.filter))
    }

    pub fn kind_of(&self, name: &str) -> Option<Kind> {
        self.metrics.get(name).map(|s| s.kind)
    }

    /// Distinct values of tag `key` on metric `name`, each with its merged value.
    pub fn by_tag(&self, name: &str, key: &str) -> BTreeMap<String, Value> {
        let mut out: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(series) = self.metrics.get(name) {
            for (tags, v) in &series.by_tags {
                if let Some(tv) = tags.get(key) {
                    out.entry(tv.to_string())
                        .or_insert_with(|| Value::new(series.kind))
                        .merge(v);
                }
            }
        }
        out
    }

    /// The largest value a gauge had, if it has any samples.
    pub fn gauge_max(&self, name: &str) -> Option<f64> {
        match self.metrics.get(name).map(Series::total) {
            Some(Value::Gauge { max, .. }) => Some(max),
            _ => None,
        }
    }

    /// Sum of a counter (0 if absent).
    pub fn counter(&self, name: &str) -> f64 {
        match self.metrics.get(name).map(Series::total) {
            Some(Value::Counter { sum }) => sum,
            _ => 0.0,
        }
    }
}
