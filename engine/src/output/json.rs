//! `--out json=FILE`: k6's JSON lines. A `Metric` line the first time a
//! metric appears, then one `Point` line per metric, tag set and second
//! (see [`super::stream`] for what a point's value is). Written as the
//! run goes, flushed each second, nothing kept in memory but the names
//! already declared.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::json;

use super::seam::{Output, Tick};
use super::stream::{now, points};
use crate::Error;

pub struct Json {
    path: PathBuf,
    file: BufWriter<File>,
    declared: HashSet<String>,
}

/// Opens (truncates) the file before the run starts.
pub fn open(target: &str) -> Result<Box<dyn Output>, Error> {
    let path = PathBuf::from(target);
    let file = File::create(&path)
        .map_err(|e| Error::io(format!("--out json={target}: creating the file"), e))?;
    Ok(Box::new(Json {
        path,
        file: BufWriter::new(file),
        declared: HashSet::new(),
    }))
}

impl Json {
    fn write(&mut self, tick: &Tick<'_>) -> std::io::Result<()> {
        let (time, _) = now();
        for p in points(tick.interval) {
            if !self.declared.contains(p.metric) {
                self.declared.insert(p.metric.to_string());
                let line = json!({
                    "type": "Metric",
                    "metric": p.metric,
                    "data": {
                        "name": p.metric,
                        "type": p.kind.as_str(),
                        "contains": if p.kind == crate::metrics::Kind::Trend { "time" } else { "default" },
                        "thresholds": [],
                        "submetrics": null,
                    },
                });
                writeln!(self.file, "{line}")?;
            }
            let tags: serde_json::Map<String, serde_json::Value> = p
                .tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect();
            let mut data = json!({ "time": time, "value": p.value, "tags": tags });
            if p.count != 1 || !p.extra.is_empty() {
                data["count"] = p.count.into();
            }
            for (k, v) in &p.extra {
                data[*k] = (*v).into();
            }
            let line = json!({ "type": "Point", "metric": p.metric, "data": data });
            writeln!(self.file, "{line}")?;
        }
        self.file.flush()
    }
}

impl Output for Json {
    fn name(&self) -> &str {
        "json"
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        self.write(tick)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))
    }

    fn finish(&mut self, _report: &crate::output::Report) -> Result<(), Error> {
        self.file
            .flush()
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))
    }
}
