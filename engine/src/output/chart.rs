//! SVG charts drawn by the engine: lines over time and a latency
//! histogram. Plain strings, no drawing library: the same SVG goes inline
//! into `volley report --html`, into `--svg` files and, rasterized, into
//! `--png`.
//!
//! Every text that reaches the SVG (metric, check and group names come from
//! scenarios) goes through [`escape`].

use std::fmt::Write;

/// Colors of successive lines (readable on white, distinct in grey too).
pub const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    /// (x, y) in data units, x ascending.
    pub points: Vec<(f64, f64)>,
}

/// A chart of lines over time (x in seconds).
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    /// Unit shown after the y values (`ms`, `/s`, empty).
    pub unit: String,
    pub lines: Vec<Line>,
    /// Vertical markers (x, label): hot swaps.
    pub markers: Vec<(f64, String)>,
    pub width: u32,
    pub height: u32,
}

/// One bar of a histogram: values in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

/// Escapes text for SVG and HTML (content and quoted attributes), and
/// drops control characters.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Round tick values covering `[lo, hi]`, about `n` of them.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..=n * 2 + 2)
        .map(|i| first + step * i as f64)
        .take_while(|v| *v <= hi + step * 1e-9)
        .collect()
}

/// A number as an axis label: short, no trailing zeros.
pub fn label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        // Enough decimals for two significant digits of a small value.
        let decimals = (1 - v.abs().log10().floor() as i32).clamp(3, 12) as usize;
        format!("{v:.decimals$}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Plot area margins: left (y labels), right, top (title), bottom (x labels, legend).
const MARGIN: (f64, f64, f64, f64) = (60.0, 16.0, 28.0, 44.0);

fn open_svg(out: &mut String, w: u32, h: u32, title: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, sans-serif" font-size="11"><rect width="{w}" height="{h}" fill="#ffffff"/><text x="{x}" y="18" font-size="13" font-weight="bold" fill="#222">{t}</text>"##,
        x = MARGIN.0,
        t = escape(title)
    );
}

/// Axes, grid and labels for x in `[x0, x1]`, y in `[0, y1]`; returns the
/// mapping from data to pixels.
fn axes(
    out: &mut String,
    w: u32,
    h: u32,
    (x0, x1): (f64, f64),
    y1: f64,
    x_unit: &str,
    y_unit: &str,
) -> impl Fn(f64, f64) -> (f64, f64) + use<> {
    let (l, r, t, b) = MARGIN;
    let pw = w as f64 - l - r;
    let ph = h as f64 - t - b;
    let xspan = (x1 - x0).max(1e-9);
    let map = move |x: f64, y: f64| {
        (
            l + (x - x0) / xspan * pw,
            t + ph - (y / y1.max(1e-12)).clamp(0.0, 1.0) * ph,
        )
    };
    for v in ticks(0.0, y1, 5) {
        let (_, py) = map(x0, v);
        let _ = write!(
            out,
            r##"<line x1="{l}" y1="{py:.1}" x2="{x2:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end" fill="#555">{lab}{u}</text>"##,
            x2 = l + pw,
            tx = l - 4.0,
            ty = py + 4.0,
            lab = label(v),
            u = escape(y_unit),
        );
    }
    for v in ticks(x0, x1, 8) {
        let (px, _) = map(v, 0.0);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" y1="{t}" x2="{px:.1}" y2="{yb:.1}" stroke="#f0f0f0"/><text x="{px:.1}" y="{ly:.1}" text-anchor="middle" fill="#555">{lab}{u}</text>"##,
            yb = t + ph,
            ly = t + ph + 14.0,
            lab = label(v),
            u = escape(x_unit),
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{l}" y="{t}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#999"/>"##
    );
    map
}

impl LineChart {
    /// The chart as one `<svg>` element.
    pub fn svg(&self) -> String {
        let mut out = String::new();
        open_svg(&mut out, self.width, self.height, &self.title);
        let all = || self.lines.iter().flat_map(|l| l.points.iter());
        let x0 = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x1 = all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let ymax = all().map(|p| p.1).fold(0.0, f64::max);
        if !x0.is_finite() {
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" fill="#888">no data</text></svg>"##,
                MARGIN.0,
                self.height / 2
            );
            return out;
        }
        let x0 = x0.min(0.0);
        // An all-zero chart still gets an axis of distinct labels (0..1).
        let top = if ymax > 0.0 { ymax } else { 1.0 };
        let y1 = ticks(0.0, top * 1.05, 5)
            .last()
            .copied()
            .filter(|v| *v >= top)
            .unwrap_or(top * 1.1);
        let map = axes(
            &mut out,
            self.width,
            self.height,
            (x0, x1.max(x0 + 1.0)),
            y1,
            "s",
            &self.unit,
        );
        for (x, text) in &self.markers {
            let (px, py0) = map(*x, y1);
            let (_, py1) = map(*x, 0.0);
            let _ = write!(
                out,
                r##"<line x1="{px:.1}" y1="{py0:.1}" x2="{px:.1}" y2="{py1:.1}" stroke="#444" stroke-dasharray="4 3"><title>{t}</title></line><text x="{tx:.1}" y="{ty:.1}" fill="#444" font-size="10">{t}</text>"##,
                t = escape(text),
                tx = px + 3.0,
                ty = py0 + 10.0,
            );
        }
        for (i, line) in self.lines.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let mut d = String::new();
            for (j, (x, y)) in line.points.iter().enumerate() {
                let (px, py) = map(*x, *y);
                let _ = write!(d, "{}{px:.1},{py:.1}", if j == 0 { "M" } else { "L" });
            }
            let _ = write!(
                out,
                r##"<path class="line" data-name="{n}" d="{d}" fill="none" stroke="{color}" stroke-width="1.5"/>"##,
                n = escape(&line.name),
            );
            // Legend under the x labels, left to right.
            let lx = MARGIN.0 + (i as f64 % 4.0) * 150.0;
            let ly = self.height as f64 - 18.0 + (i / 4) as f64 * 12.0;
            let _ = write!(
                out,
                r##"<rect x="{lx:.1}" y="{ry:.1}" width="10" height="3" fill="{color}"/><text x="{tx:.1}" y="{ly:.1}" fill="#333">{n}</text>"##,
                ry = ly - 4.0,
                tx = lx + 14.0,
                n = escape(&line.name),
            );
        }
        out.push_str("</svg>");
        out
    }
}

/// A histogram of `bins` as one `<svg>` element; `unit` labels the x axis.
pub fn histogram_svg(title: &str, bins: &[Bin], unit: &str, width: u32, height: u32) -> String {
    let mut out = String::new();
    open_svg(&mut out, width, height, title);
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" fill="#888">no samples</text></svg>"##,
            MARGIN.0,
            height / 2
        );
        return out;
    };
    let top = bins.iter().map(|b| b.count).max().unwrap_or(0) as f64;
    let y1 = ticks(0.0, top.max(1.0) * 1.05, 5)
        .last()
        .copied()
        .filter(|v| *v >= top)
        .unwrap_or(top * 1.1)
        .max(1.0);
    let map = axes(&mut out, width, height, (first.lo, last.hi), y1, unit, "");
    for b in bins {
        let (x0, y0) = map(b.lo, b.count as f64);
        let (x1, base) = map(b.hi, 0.0);
        let _ = write!(
            out,
            r##"<rect class="bin" data-count="{c}" x="{x0:.2}" y="{y0:.2}" width="{w:.2}" height="{h:.2}" fill="#1f77b4" stroke="#ffffff" stroke-width="0.5"><title>{lo}–{hi} {u}: {c}</title></rect>"##,
            c = b.count,
            w = (x1 - x0).max(0.5),
            h = base - y0,
            lo = label(b.lo),
            hi = label(b.hi),
            u = escape(unit),
        );
    }
    let total: u64 = bins.iter().map(|b| b.count).sum();
    let _ = write!(
        out,
        r##"<text x="{x:.1}" y="{y:.1}" fill="#333">{n} samples in {k} bins</text></svg>"##,
        x = MARGIN.0,
        y = height as f64 - 6.0,
        n = total,
        k = bins.len(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(0.0, 0.37, 4);
        assert!(t.iter().all(|v| *v <= 0.37 + 1e-9), "{t:?}");
        assert_eq!(ticks(3.0, 3.0, 5), [3.0]);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(2.0), "2");
        assert_eq!(label(2.5), "2.5");
        assert_eq!(label(25000.0), "25k");
        assert_eq!(label(0.125), "0.125");
    }

    #[test]
    fn an_all_zero_chart_has_distinct_axis_labels() {
        let c = LineChart {
            title: "failures".into(),
            unit: String::new(),
            lines: vec![Line {
                name: "failed/s".into(),
                points: vec![(1.0, 0.0), (2.0, 0.0), (3.0, 0.0)],
            }],
            markers: vec![],
            width: 400,
            height: 200,
        };
        let svg = c.svg();
        let labels: Vec<&str> = svg
            .split(r##"text-anchor="end" fill="#555">"##)
            .skip(1)
            .map(|rest| rest.split('<').next().unwrap())
            .collect();
        assert!(labels.len() > 2, "{svg}");
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct, labels, "repeated y labels");
        assert_eq!(labels.first(), Some(&"0"));
    }

    #[test]
    fn small_labels_keep_their_digits() {
        assert_eq!(label(0.0002), "0.0002");
        assert_eq!(label(0.00025), "0.00025");
        assert_eq!(label(0.0), "0");
    }

    #[test]
    fn names_are_escaped() {
        let c = LineChart {
            title: "<script>x</script>".into(),
            unit: "ms".into(),
            lines: vec![Line {
                name: "a\"b\u{1b}[31m".into(),
                points: vec![(1.0, 2.0), (2.0, 3.0)],
            }],
            markers: vec![],
            width: 400,
            height: 200,
        };
        let svg = c.svg();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("a&quot;b[31m"), "{svg}");
        assert!(!svg.contains('\u{1b}'));
    }

    #[test]
    fn a_histogram_draws_one_bar_per_bin() {
        let bins = [
            Bin {
                lo: 0.0,
                hi: 1.0,
                count: 3,
            },
            Bin {
                lo: 1.0,
                hi: 2.0,
                count: 5,
            },
        ];
        let svg = histogram_svg("h", &bins, "ms", 400, 200);
        assert_eq!(svg.matches("class=\"bin\"").count(), 2);
        assert!(svg.contains("8 samples in 2 bins"));
    }
}
