//! One trend's distribution as a picture: the bins of its HdrHistogram
//! from a summary export, drawn as SVG and rasterized to PNG
//! (`volley report --svg FILE`, `--png FILE`).
//!
//! PNG goes through resvg with the system's fonts (Debian's
//! `fonts-dejavu-core`); nothing here touches the network.

use super::ExportError;
use super::chart::{Bin, histogram_svg};
use super::export::{Export, aggregate_of};
use crate::metrics::{Selector, Trend, Value};

/// The merged trend a selector (`http_req_duration`,
/// `http_req_duration{name:login}`) picks in an export's series.
pub fn trend_of(export: &Export, selector: &str) -> Result<Trend, ExportError> {
    let no_trend = |reason: String| ExportError::NoTrend {
        selector: selector.to_string(),
        reason,
    };
    let sel = Selector::parse(selector).map_err(|e| no_trend(e.to_string()))?;
    let agg = aggregate_of(export)?;
    let trends = || {
        agg.metrics
            .iter()
            .filter(|(_, s)| s.kind == crate::metrics::Kind::Trend)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match agg.select(&sel) {
        Some(Value::Trend(t)) if t.count > 0 => Ok(*t),
        Some(Value::Trend(_)) => Err(no_trend(format!(
            "no samples match (the export's trends: {})",
            trends()
        ))),
        Some(_) => Err(no_trend(format!(
            "not a trend (the export's trends: {})",
            trends()
        ))),
        None => Err(no_trend(format!(
            "not in the export (its trends: {})",
            trends()
        ))),
    }
}

/// `n` bins of equal width from the trend's min to its max, in the
/// displayed unit (ms for time trends). The counts add up to the trend's
/// count: every recorded value lands in exactly one bin.
pub fn bins(t: &Trend, n: usize) -> Vec<Bin> {
    let n = n.max(1);
    if t.count == 0 {
        return Vec::new();
    }
    let (lo, hi) = (t.min_or_zero() as f64, t.max as f64);
    let width = if hi > lo { (hi - lo) / n as f64 } else { 1.0 };
    let mut counts = vec![0u64; n];
    for v in t.hist.iter_recorded() {
        // A histogram bucket stands for a range: its middle, inside the
        // exact min and max.
        let value = (t.hist.median_equivalent(v.value_iterated_to()) as f64).clamp(lo, hi);
        let i = (((value - lo) / width) as usize).min(n - 1);
        counts[i] += v.count_at_value();
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| Bin {
            lo: (lo + width * i as f64) / 1000.0,
            hi: (lo + width * (i + 1) as f64) / 1000.0,
            count,
        })
        .collect()
}

/// The unit a metric's values are shown in.
pub fn unit_of(export: &Export, selector: &str) -> &'static str {
    let name = selector.split('{').next().unwrap_or(selector);
    match export.metrics.get(name).map(|m| m.contains.as_str()) {
        Some("time") | None => "ms",
        _ => "",
    }
}

/// The histogram of `selector` in `export` as an SVG document.
pub fn histogram(
    export: &Export,
    selector: &str,
    n: usize,
    (width, height): (u32, u32),
) -> Result<String, ExportError> {
    let t = trend_of(export, selector)?;
    let unit = unit_of(export, selector);
    let title = format!(
        "{selector}: p50={} p95={} p99={} max={} {unit}",
        super::chart::label(t.percentile(50.0) / 1000.0),
        super::chart::label(t.percentile(95.0) / 1000.0),
        super::chart::label(t.percentile(99.0) / 1000.0),
        super::chart::label(t.max as f64 / 1000.0),
    );
    Ok(histogram_svg(&title, &bins(&t, n), unit, width, height))
}

/// Rasterizes an SVG document to PNG at its own size.
pub fn png(svg: &str) -> Result<Vec<u8>, ExportError> {
    use resvg::{tiny_skia, usvg};
    let drawing = ExportError::Drawing;
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    if opt.fontdb.is_empty() {
        return Err(drawing(
            "no fonts found for the PNG's labels: install a TrueType font (Debian: apt-get install fonts-dejavu-core)"
                .into(),
        ));
    }
    let tree =
        usvg::Tree::from_str(svg, &opt).map_err(|e| drawing(format!("drawing the chart: {e}")))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| {
        drawing(format!(
            "a {}x{} picture is too large",
            size.width(),
            size.height()
        ))
    })?;
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| drawing(format!("encoding the PNG: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(samples: impl IntoIterator<Item = u64>) -> Trend {
        let mut t = Trend::new();
        for s in samples {
            t.record(s);
        }
        t
    }

    #[test]
    fn bins_add_up_to_the_count_and_span_min_to_max() {
        // A long tail: 1 ms to 2 s, 100,000 samples.
        let t = trend((0..100_000u64).map(|i| 1_000 + (i * i) % 2_000_000));
        for n in [1, 7, 50, 200] {
            let b = bins(&t, n);
            assert_eq!(b.len(), n);
            assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), t.count, "{n} bins");
            assert_eq!(b[0].lo, t.min as f64 / 1000.0);
            assert!((b[n - 1].hi - t.max as f64 / 1000.0).abs() < 1e-6);
        }
    }

    #[test]
    fn one_value_fills_one_bin() {
        let t = trend([5_000; 10]);
        let b = bins(&t, 4);
        assert_eq!(b[0].count, 10);
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 10);
    }

    #[test]
    fn a_png_decodes_at_the_svg_size() {
        let t = trend((1..=1000).map(|i| i * 100));
        let svg = histogram_svg("h", &bins(&t, 20), "ms", 320, 200);
        let bytes = png(&svg).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (320, 200));
    }
}
