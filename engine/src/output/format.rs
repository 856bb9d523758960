//! Number formatting shared by the summary and the progress line (k6's style).

/// A time in microseconds as k6 prints it: `845µs`, `1.23ms`, `2.5s`.
pub fn time_us(us: f64) -> String {
    if !us.is_finite() {
        return "-".into();
    }
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else if us < 60_000_000.0 {
        format!("{:.2}s", us / 1_000_000.0)
    } else {
        let s = (us / 1_000_000.0).round() as u64;
        format!("{}m{}s", s / 60, s % 60)
    }
}

/// Bytes as k6 prints them (1000-based): `512 B`, `16 kB`, `1.2 MB`.
pub fn bytes(b: f64) -> String {
    if b < 1000.0 {
        format!("{b:.0} B")
    } else if b < 1e6 {
        format!("{:.0} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

/// A count without needless decimals.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_style() {
        assert_eq!(time_us(845.0), "845µs");
        assert_eq!(time_us(1234.0), "1.23ms");
        assert_eq!(time_us(2_500_000.0), "2.50s");
        assert_eq!(time_us(125_000_000.0), "2m5s");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(16_400.0), "16 kB");
        assert_eq!(bytes(1_234_567.0), "1.2 MB");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
