//! `--out influxdb=URL`: InfluxDB v1 line protocol over HTTP, for Grafana.
//!
//! One point per metric, tag set and second (the values of
//! [`super::stream`]: a counter's sum in the second, a gauge's last value,
//! a rate's ratio and count, a trend's mean, count, min, max and
//! percentiles in milliseconds), written as `metric,tag=v value=...,count=..i`
//! with the tick's wall-clock time. Each second's lines are cut into
//! batches and handed to a [`Remote`] sender: the collector never waits on
//! the database. `URL` is the database's address with the database name as
//! its path, as in k6 (`http://127.0.0.1:8086/volley`); a URL whose path is
//! `/write` is used as it is. Also accepted by VictoriaMetrics' `/write`.

use std::fmt::Write as _;

use super::remote::Remote;
use super::seam::{Output, Tick};
use super::stream::points;
use crate::Error;

/// Lines per POST: InfluxDB's advice is 5,000 to 10,000.
const BATCH_LINES: usize = 5_000;

pub struct Influx {
    remote: Remote,
}

/// Checks the URL and starts the sender before the run starts.
pub fn open(target: &str) -> Result<Box<dyn Output>, Error> {
    let url = write_url(target)?;
    let remote = Remote::start("influxdb", &url, Vec::new())?;
    Ok(Box::new(Influx { remote }))
}

/// `http://host:8086/db` -> `http://host:8086/write?db=db`.
fn write_url(target: &str) -> Result<String, Error> {
    let uri: http::Uri = target
        .parse()
        .map_err(|e| Error::Config(format!("--out influxdb={target}: not a URL: {e}")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(Error::Config(format!(
            "--out influxdb={target}: write the database's URL (http://127.0.0.1:8086/volley)"
        )));
    };
    if uri.path() == "/write" {
        return Ok(target.to_string());
    }
    let db = uri.path().trim_matches('/');
    let db = if db.is_empty() { "volley" } else { db };
    if db.contains('/') || db.contains(['?', '&', '#', ' ']) {
        return Err(Error::Config(format!(
            "--out influxdb={target}: the path names the database: one word (http://127.0.0.1:8086/volley)"
        )));
    }
    Ok(format!("{scheme}://{authority}/write?db={db}"))
}

impl Output for Influx {
    fn name(&self) -> &str {
        "influxdb"
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for body in lines(tick, ns) {
            self.remote.send(body.into_bytes());
        }
        Ok(())
    }

    fn finish(&mut self, _report: &super::Report) -> Result<(), Error> {
        self.remote.finish();
        Ok(())
    }
}

/// One second's points as line-protocol bodies of at most [`BATCH_LINES`].
fn lines(tick: &Tick<'_>, ns: u128) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut body = String::new();
    let mut n = 0;
    for p in points(tick.interval) {
        if !p.value.is_finite() {
            continue;
        }
        escape(&mut body, p.metric, &[',', ' ']);
        for (k, v) in p.tags.iter() {
            // The protocol has no empty tag values.
            if v.is_empty() {
                continue;
            }
            body.push(',');
            escape(&mut body, k, &[',', '=', ' ']);
            body.push('=');
            escape(&mut body, v, &[',', '=', ' ']);
        }
        let _ = write!(body, " value={}", p.value);
        if matches!(
            p.kind,
            crate::metrics::Kind::Rate | crate::metrics::Kind::Trend
        ) {
            let _ = write!(body, ",count={}i", p.count);
        }
        for (k, v) in &p.extra {
            if v.is_finite() {
                // `p(95)` -> `p95`: a field key without quotes or escapes.
                let key: String = k.chars().filter(|c| c.is_alphanumeric()).collect();
                let _ = write!(body, ",{key}={v}");
            }
        }
        let _ = writeln!(body, " {ns}");
        n += 1;
        if n == BATCH_LINES {
            bodies.push(std::mem::take(&mut body));
            n = 0;
        }
    }
    if !body.is_empty() {
        bodies.push(body);
    }
    bodies
}

/// Backslash before each of `special`; a line break (which the protocol
/// cannot carry) becomes a space.
fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push_str("\\ "),
            c if special.contains(&c) || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Aggregate, Kind, Tags, Value};
    use std::time::Duration;

    #[test]
    fn the_url_names_the_database() {
        let w = |t: &str| write_url(t).unwrap();
        assert_eq!(
            w("http://127.0.0.1:8086/k6"),
            "http://127.0.0.1:8086/write?db=k6"
        );
        assert_eq!(
            w("http://127.0.0.1:8086"),
            "http://127.0.0.1:8086/write?db=volley"
        );
        assert_eq!(
            w("http://h:1/write?db=x&precision=ms"),
            "http://h:1/write?db=x&precision=ms"
        );
        assert!(write_url("http://h:1/a/b").is_err());
        assert!(write_url("127.0.0.1:8086").is_err());
    }

    #[test]
    fn points_become_escaped_lines() {
        let mut agg = Aggregate::default();
        let mut c = Value::new(Kind::Counter);
        c.add(3.0, 0);
        agg.merge_value(
            "http_reqs",
            &Tags::new([("name", "post a,b=c"), ("x", "")]),
            &c,
        );
        let mut d = Value::new(Kind::Trend);
        d.add(1000.0, 0);
        d.add(3000.0, 0);
        agg.merge_value("http_req_duration", &Tags::default(), &d);
        let tick = Tick {
            elapsed: Duration::from_secs(1),
            interval: &agg,
            total: &agg,
            vus: 1,
            notes: &[],
        };
        let body = lines(&tick, 7).concat();
        assert_eq!(
            body,
            "http_req_duration value=2,count=2i,min=1,max=3,p95=3,p99=3 7\n\
             http_reqs,name=post\\ a\\,b\\=c value=3 7\n"
        );
    }
}
