//! Durations and sizes as people write them in plans: `1m30s`, `500ms`, `64MiB`.

use crate::Invalid;

use std::time::Duration;

/// Parses `1h2m3s`, `1.5s`, `250ms`, `90us`, `0`. The message names the text.
pub fn parse_duration(text: &str) -> Result<Duration, Invalid> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err("empty duration (write e.g. `30s`, `1m30s`, `500ms`)".into());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{t}` needs a unit (h, m, s, ms, us)"))?;
        if num_len == 0 {
            return Err(Invalid(format!(
                "`{t}` is not a duration (write e.g. `30s`, `1m30s`, `500ms`)"
            )));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{t}` is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            u => {
                return Err(Invalid(format!(
                    "`{t}`: unknown unit `{u}` (h, m, s, ms, us)"
                )));
            }
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| {
        Invalid(format!(
            "`{t}` is longer than volley can count (at most ~584 billion years)"
        ))
    })
}

/// Parses `64MiB`, `512KiB`, `1GiB`, `1000000` (bytes).
pub fn parse_size(text: &str) -> Result<u64, Invalid> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split]
        .parse()
        .map_err(|_| format!("`{t}` is not a size (write e.g. `64MiB`)"))?;
    let mult = match t[split..].trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        u => {
            return Err(Invalid(format!(
                "`{t}`: unknown size unit `{u}` (B, KiB, MiB, GiB)"
            )));
        }
    };
    n.checked_mul(mult).ok_or_else(|| {
        Invalid(format!(
            "`{t}` is larger than volley can count (at most 16 EiB)"
        ))
    })
}

/// Formats a duration the way plans write them (`1m30s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) && ms < 60_000 {
        return if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        };
    }
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("30").unwrap_err().0.contains("unit"));
        assert!(parse_duration("3x").unwrap_err().0.contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("3 parsecs").is_err());
    }
}
