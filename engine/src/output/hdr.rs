//! `--out hdr=FILE`: an HdrHistogram interval log, the format of
//! HdrHistogram's `HistogramLogWriter` (readable by `HistogramLogProcessor`
//! and the hdrhistogram crate's `IntervalLogIterator`), plus the merge of
//! such logs from several shards (`volley merge`).
//!
//! One line per trend metric and second, tagged with the metric's name
//! (`Tag=http_req_duration`), holding that second's histogram over all its
//! tag sets (V2 deflate-compressed, values in the trend's milli-units:
//! microseconds for times). The same histograms as the summary's, so the
//! intervals of a metric added together give the summary's count and
//! percentiles exactly. Timestamps are seconds since `BaseTime`, the
//! moment the scenarios started. Nothing is kept in memory between seconds.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::seam::{Output, Tick};
use crate::Error;
use crate::metrics::Value;

const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

pub struct HdrLog {
    path: PathBuf,
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
    /// Where the previous interval ended (since the scenarios started);
    /// `None` until the header is written.
    last: Option<Duration>,
}

/// Creates (truncates) the file before the run starts.
pub fn open(target: &str) -> Result<Box<dyn Output>, Error> {
    let path = PathBuf::from(target);
    let file = File::create(&path)
        .map_err(|e| Error::io(format!("--out hdr={target}: creating the file"), e))?;
    Ok(Box::new(HdrLog {
        path,
        file: BufWriter::new(file),
        serializer: V2DeflateSerializer::new(),
        last: None,
    }))
}

/// A metric name as a tag: the format forbids `,`, spaces and line breaks.
fn tag_of(name: &str) -> String {
    name.replace([',', ' ', '\r', '\n'], "_")
}

/// Writes the comments, `StartTime`, `BaseTime` and the legend.
fn header(out: &mut impl Write, base: SystemTime, comment: &str) -> std::io::Result<()> {
    let mut ser = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment(comment)
        .with_start_time(base)
        .with_base_time(base)
        .begin_log_with(out, &mut ser)?;
    writeln!(out, "{LEGEND}")
}

impl HdrLog {
    fn write(&mut self, tick: &Tick<'_>) -> std::io::Result<()> {
        let from = match self.last {
            Some(d) => d,
            None => {
                let base = SystemTime::now() - tick.elapsed;
                header(
                    &mut self.file,
                    base,
                    "volley: one interval per trend metric and second, Tag = metric, values in microseconds for times",
                )?;
                Duration::ZERO
            }
        };
        let length = tick.elapsed.saturating_sub(from);
        let mut log =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.file, &mut self.serializer)?;
        for (name, series) in &tick.interval.metrics {
            if series.kind != crate::metrics::Kind::Trend {
                continue;
            }
            let Value::Trend(t) = series.total() else {
                continue;
            };
            if t.count == 0 {
                continue;
            }
            let tag = tag_of(name);
            log.write_histogram(&t.hist, from, length, Tag::new(&tag))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        self.last = Some(tick.elapsed);
        self.file.flush()
    }
}

impl Output for HdrLog {
    fn name(&self) -> &str {
        "hdr"
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        self.write(tick)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))
    }

    fn finish(&mut self, _report: &super::Report) -> Result<(), Error> {
        self.file
            .flush()
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))
    }
}

/// Whether `bytes` look like an interval log (and not a summary export).
pub fn is_interval_log(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    text.lines().any(|l| {
        l.starts_with("#[StartTime:") || l.starts_with("#[BaseTime:") || l.starts_with(LEGEND)
    })
}

/// One log's intervals: (absolute start in ms since the epoch, tag,
/// histogram).
type Intervals = Vec<(u64, String, Histogram<u64>)>;

fn read_log(path: &Path, bytes: &[u8]) -> Result<Intervals, String> {
    let mut base = Duration::ZERO;
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(bytes) {
        match entry.map_err(|e| format!("{}: not an interval log: {e:?}", path.display()))? {
            LogEntry::BaseTime(t) => base = t,
            LogEntry::StartTime(_) => {}
            LogEntry::Interval(i) => {
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .map_err(|e| format!("{}: an interval is not base64: {e}", path.display()))?;
                let mut h: Histogram<u64> = Deserializer::new()
                    .deserialize(&mut &raw[..])
                    .map_err(|e| format!("{}: not an HdrHistogram: {e}", path.display()))?;
                h.auto(true);
                let at = base + i.start_timestamp();
                let tag = i.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
                out.push((at.as_millis() as u64, tag, h));
            }
        }
    }
    Ok(out)
}

/// Merges interval logs of shards that ran at the same time: intervals
/// that start in the same wall-clock second and carry the same tag are
/// added together (histograms add exactly), so each second's percentiles
/// over all shards are exact. Writes one log with its `BaseTime` at the
/// first second of any shard; returns the number of intervals written.
pub fn merge_logs(inputs: &[(PathBuf, Vec<u8>)], output: &Path) -> Result<usize, Error> {
    // (second since the epoch, tag) -> the merged histogram.
    let mut merged: BTreeMap<(u64, String), Histogram<u64>> = BTreeMap::new();
    for (path, bytes) in inputs {
        for (ms, tag, h) in read_log(path, bytes).map_err(Error::Config)? {
            let slot = merged.entry((ms / 1000, tag)).or_insert_with(|| {
                let mut m = Histogram::new_from(&h);
                m.auto(true);
                m
            });
            slot.add(&h)
                .map_err(|e| Error::Config(format!("{}: {e:?}", path.display())))?;
        }
    }
    let io = |e| Error::io(format!("writing {}", output.display()), e);
    let mut out = BufWriter::new(File::create(output).map_err(io)?);
    let first = merged.keys().next().map_or(0, |k| k.0);
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(first);
    header(
        &mut out,
        base,
        &format!(
            "volley merge: {} interval logs, one interval per tag and second",
            inputs.len()
        ),
    )
    .map_err(io)?;
    let mut ser = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .begin_log_with(&mut out, &mut ser)
        .map_err(io)?;
    for ((sec, tag), h) in &merged {
        log.write_histogram(
            h,
            Duration::from_secs(sec - first),
            Duration::from_secs(1),
            Tag::new(tag),
        )
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    }
    drop(log);
    out.flush().map_err(io)?;
    Ok(merged.len())
}

/// HdrHistogram's percentile distribution (the `.hgrm` text
/// `HistogramLogProcessor` writes), values shown in milliseconds from
/// microseconds.
pub fn write_percentiles(path: &Path, h: &Histogram<u64>) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value(ms)", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let inverse = if q < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - q))
        } else {
            format!("{:>14}", "inf")
        };
        writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {inverse}",
            v.value_iterated_to() as f64 / 1000.0,
            q,
            v.count_since_last_iteration()
        )?;
    }
    writeln!(
        out,
        "#[Mean = {:.3}, StdDeviation = {:.3}]\n#[Max = {:.3}, Total count = {}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Aggregate, Kind, Tags};

    fn tick_of(agg: &Aggregate, secs: u64) -> Tick<'_> {
        Tick {
            elapsed: Duration::from_secs(secs),
            interval: agg,
            total: agg,
            vus: 1,
            notes: &[],
        }
    }

    fn trend(values: &[f64]) -> Aggregate {
        let mut agg = Aggregate::default();
        let mut d = Value::new(Kind::Trend);
        for v in values {
            d.add(*v, 0);
        }
        agg.merge_value("http_req_duration", &Tags::new([("name", "a")]), &d);
        let mut d2 = Value::new(Kind::Trend);
        d2.add(5.0, 0);
        agg.merge_value("http_req_duration", &Tags::new([("name", "b")]), &d2);
        agg
    }

    #[test]
    fn a_log_reads_back_and_two_shards_merge_per_second() {
        let dir = std::env::temp_dir().join(format!("volley-hdr-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut shards = Vec::new();
        for (i, values) in [[1000.0, 2000.0], [3000.0, 9000.0]].iter().enumerate() {
            let path = dir.join(format!("s{i}.hlog"));
            let mut out = open(path.to_str().unwrap()).unwrap();
            out.interval(&tick_of(&trend(values), 1)).unwrap();
            out.interval(&tick_of(&trend(values), 2)).unwrap();
            drop(out);
            let bytes = std::fs::read(&path).unwrap();
            assert!(is_interval_log(&bytes));
            let intervals = read_log(&path, &bytes).unwrap();
            assert_eq!(intervals.len(), 2);
            // Both tag sets in one histogram per metric.
            assert_eq!(intervals[0].2.len(), 3);
            assert_eq!(intervals[0].1, "http_req_duration");
            shards.push((path, bytes));
        }
        let merged = dir.join("merged.hlog");
        let n = merge_logs(&shards, &merged).unwrap();
        let back = read_log(&merged, &std::fs::read(&merged).unwrap()).unwrap();
        assert_eq!(back.len(), n);
        let total: u64 = back.iter().map(|i| i.2.len()).sum();
        assert_eq!(total, 12);
        let mut nine = Histogram::<u64>::new(3).unwrap();
        nine.record(9000).unwrap();
        assert_eq!(back.iter().map(|i| i.2.max()).max(), Some(nine.max()));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_summary_export_is_not_an_interval_log() {
        assert!(!is_interval_log(b"{\"metrics\": {}}"));
    }
}
