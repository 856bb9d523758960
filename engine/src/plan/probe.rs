//! `[[probe]]`: an HTTP endpoint of the system under test, sampled during
//! the run into a gauge (a processed-message count, a queue depth), so the
//! summary, the streamed outputs and thresholds can use it.
//!
//! This file only parses and checks what the plan says; the sampling is
//! [`crate::run`]'s (`run/probe.rs`).

use std::time::Duration;

use serde::Deserialize;

/// `[[probe]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawProbe {
    /// The gauge's name (`processed`).
    pub name: String,
    /// The endpoint, or `target` + `path` for a target of the plan.
    pub url: Option<String>,
    pub target: Option<String>,
    pub path: Option<String>,
    /// How often (`1s` by default).
    pub every: Option<String>,
    /// A Prometheus text series: `metric_name` or `metric_name{label="v",...}`;
    /// several matching series are added up.
    pub prometheus: Option<String>,
    /// A dot path into a JSON document: `a.b.c`, `items.0.count`.
    pub json: Option<String>,
}

/// Where a probe's endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Url(String),
    /// A plan target's URL (known once targets start) plus a path.
    Target {
        name: String,
        path: String,
    },
}

/// What a probe reads from the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    Prometheus {
        metric: String,
        labels: Vec<(String, String)>,
    },
    Json(Vec<String>),
}

/// A checked probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub name: String,
    pub endpoint: Endpoint,
    pub every: Duration,
    pub pick: Pick,
}

/// Probes sampled faster than this would load the system they watch.
const MIN_EVERY: Duration = Duration::from_millis(100);

/// Checks one `[[probe]]`; `targets` are the plan's target names. The
/// message names the field (the caller prefixes `probe[i]`).
pub(super) fn validate_probe(raw: &RawProbe, targets: &[&str]) -> Result<Probe, String> {
    let name_ok = !raw.name.is_empty()
        && raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !name_ok {
        return Err(format!(
            ".name = \"{}\": a metric name (letters, digits, `_`, `.`, `-`)",
            raw.name
        ));
    }
    if crate::metrics::Builtin::ALL
        .iter()
        .any(|b| b.name() == raw.name)
    {
        return Err(format!(
            ".name = \"{}\": a built-in metric has that name",
            raw.name
        ));
    }
    let endpoint = match (&raw.url, &raw.target, &raw.path) {
        (Some(url), None, None) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(".url = \"{url}\": an http:// or https:// URL"));
            }
            Endpoint::Url(url.clone())
        }
        (None, Some(t), path) => {
            if !targets.contains(&t.as_str()) {
                return Err(format!(".target = \"{t}\": no such target in [targets]"));
            }
            let path = path.clone().unwrap_or_else(|| "/".into());
            if !path.starts_with('/') {
                return Err(format!(".path = \"{path}\": starts with `/`"));
            }
            Endpoint::Target {
                name: t.clone(),
                path,
            }
        }
        _ => return Err(": write `url`, or `target` (and `path`)".into()),
    };
    let every = match &raw.every {
        None => Duration::from_secs(1),
        Some(e) => super::parse_duration(e).map_err(|m| format!(".every = \"{e}\": {m}"))?,
    };
    if every < MIN_EVERY {
        return Err(format!(".every: at least {}ms", MIN_EVERY.as_millis()));
    }
    let pick = match (&raw.prometheus, &raw.json) {
        (Some(p), None) => {
            parse_prometheus(p).map_err(|m| format!(".prometheus = \"{p}\": {m}"))?
        }
        (None, Some(j)) => {
            let path: Vec<String> = j.split('.').map(str::to_string).collect();
            if path.iter().any(String::is_empty) {
                return Err(format!(".json = \"{j}\": a dot path like `a.b.c`"));
            }
            Pick::Json(path)
        }
        _ => return Err(": write one of `prometheus` or `json` (what to read)".into()),
    };
    Ok(Probe {
        name: raw.name.clone(),
        endpoint,
        every,
        pick,
    })
}

/// `name` or `name{k="v",k2="v2"}`.
fn parse_prometheus(text: &str) -> Result<Pick, String> {
    let (metric, rest) = match text.find('{') {
        Some(i) => (&text[..i], Some(&text[i..])),
        None => (text, None),
    };
    let metric = metric.trim();
    if metric.is_empty()
        || !metric
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err("a metric name, then optional {label=\"value\",...}".into());
    }
    let mut labels = Vec::new();
    if let Some(rest) = rest {
        let inner = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .ok_or("labels end with `}`")?;
        for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}`: write label=\"value\""))?;
            let v = v
                .trim()
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| format!("`{pair}`: quote the value"))?;
            labels.push((k.trim().to_string(), v.to_string()));
        }
    }
    Ok(Pick::Prometheus {
        metric: metric.to_string(),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(extra: &str) -> RawProbe {
        toml::from_str(&format!("name = \"processed\"\n{extra}")).unwrap()
    }

    #[test]
    fn a_probe_names_its_endpoint_and_what_to_read() {
        let p = validate_probe(
            &raw("target = \"api\"\npath = \"/stats\"\njson = \"a.b\"\nevery = \"2s\""),
            &["api"],
        )
        .unwrap();
        assert_eq!(
            p.endpoint,
            Endpoint::Target {
                name: "api".into(),
                path: "/stats".into()
            }
        );
        assert_eq!(p.pick, Pick::Json(vec!["a".into(), "b".into()]));
        assert_eq!(p.every, Duration::from_secs(2));
        let p = validate_probe(
            &raw(
                "url = \"http://127.0.0.1:9/metrics\"\nprometheus = 'x_total{job=\"a\", le=\"1\"}'",
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            p.pick,
            Pick::Prometheus {
                metric: "x_total".into(),
                labels: vec![("job".into(), "a".into()), ("le".into(), "1".into())]
            }
        );
    }

    #[test]
    fn mistakes_name_the_field() {
        for (extra, says) in [
            ("json = \"a\"", "write `url`, or `target`"),
            ("url = \"ftp://x\"\njson = \"a\"", ".url"),
            ("target = \"nope\"\njson = \"a\"", "no such target"),
            ("url = \"http://h/\"", "one of `prometheus` or `json`"),
            ("url = \"http://h/\"\njson = \"a..b\"", ".json"),
            (
                "url = \"http://h/\"\nprometheus = \"x{a=b}\"",
                "quote the value",
            ),
            (
                "url = \"http://h/\"\njson = \"a\"\nevery = \"1ms\"",
                ".every",
            ),
        ] {
            let e = validate_probe(&raw(extra), &["api"]).unwrap_err();
            assert!(e.contains(says), "{extra}: {e}");
        }
        let mut r = raw("url = \"http://h/\"\njson = \"a\"");
        r.name = "http_reqs".into();
        assert!(validate_probe(&r, &[]).unwrap_err().contains("built-in"));
    }
}
