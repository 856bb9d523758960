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

/// Guest text made safe for a terminal: control characters (escape
/// sequences, carriage returns, bells) shown as `\u{..}` instead of acting,
/// and at most `max` bytes kept, the cut said. A scenario may come from
/// anyone: what it prints must not rewrite the screen or flood it.
pub fn printable(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let clean = s.len() <= max && !s.chars().any(|c| c.is_control() && c != '\t');
    if clean {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max) + 32);
    for (i, c) in s.char_indices() {
        if out.len() >= max {
            out.push_str(&format!("… ({} more bytes)", s.len() - i));
            break;
        }
        if c.is_control() && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text the engine prints that may carry guest text (an iteration's
/// error, a setup failure): like [`printable`], but line breaks and tabs
/// stay, so the engine's own multi-line messages read as written.
pub fn terminal_safe(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if s.len() <= max && !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max) + 32);
    for (i, c) in s.char_indices() {
        if out.len() >= max {
            out.push_str(&format!("… ({} more bytes)", s.len() - i));
            break;
        }
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn escapes_and_floods_are_defused() {
        assert_eq!(printable("plain text", 100), "plain text");
        assert_eq!(printable("a\x1b[2Jb", 100), "a\\u{1b}[2Jb");
        assert_eq!(printable("line\rover", 100), "line\\u{d}over");
        let long = "x".repeat(5000);
        let p = printable(&long, 100);
        assert!(p.starts_with(&"x".repeat(100)));
        assert!(p.ends_with("… (4900 more bytes)"), "{p}");
        // A cut never splits a character.
        assert_eq!(printable("ééé", 3), "éé… (2 more bytes)");
    }
}
