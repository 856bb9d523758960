//! `--out csv=FILE`: k6's CSV columns (`metric_name, timestamp,
//! metric_value, check, error, error_code, expected_response, group,
//! method, name, proto, scenario, service, status, subproto, tls_version,
//! url, extra_tags, metadata`), one row per metric, tag set and second (see
//! [`super::stream`]). Tags without a column of their own go to
//! `extra_tags` as `k=v&k=v`, as k6 writes them.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use super::seam::{Output, Tick};
use super::stream::{now, points};
use crate::Error;

const COLUMNS: &[&str] = &[
    "check",
    "error",
    "error_code",
    "expected_response",
    "group",
    "method",
    "name",
    "proto",
    "scenario",
    "service",
    "status",
    "subproto",
    "tls_version",
    "url",
];

pub struct Csv {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
}

/// Opens (truncates) the file and writes the header before the run starts.
pub fn open(target: &str) -> Result<Box<dyn Output>, Error> {
    let path = PathBuf::from(target);
    let file = File::create(&path)
        .map_err(|e| Error::io(format!("--out csv={target}: creating the file"), e))?;
    let mut writer = csv::Writer::from_writer(BufWriter::new(file));
    let mut header = vec!["metric_name", "timestamp", "metric_value"];
    header.extend_from_slice(COLUMNS);
    header.extend_from_slice(&["extra_tags", "metadata"]);
    writer
        .write_record(&header)
        .map_err(|e| Error::Other(format!("writing {}: {e}", path.display())))?;
    Ok(Box::new(Csv { path, writer }))
}

impl Csv {
    fn write(&mut self, tick: &Tick<'_>) -> Result<(), csv::Error> {
        let (_, secs) = now();
        let secs = secs.to_string();
        for p in points(tick.interval) {
            let mut row = vec![p.metric.to_string(), secs.clone(), p.value.to_string()];
            row.extend(
                COLUMNS
                    .iter()
                    .map(|c| p.tags.get(c).unwrap_or_default().to_string()),
            );
            let extra: Vec<String> = p
                .tags
                .iter()
                .filter(|(k, _)| !COLUMNS.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            row.push(extra.join("&"));
            row.push(String::new());
            self.writer.write_record(&row)?;
        }
        self.writer.flush()?;
        Ok(())
    }
}

impl Output for Csv {
    fn name(&self) -> &str {
        "csv"
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        self.write(tick)
            .map_err(|e| Error::Other(format!("writing {}: {e}", self.path.display())))
    }

    fn finish(&mut self, _report: &crate::output::Report) -> Result<(), Error> {
        self.writer
            .flush()
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))
    }
}
