//! A k6 script's `export const options` (read by `volley build` as JSON)
//! -> a [`RawPlan`], for `volley run script.js` when no plan file is given.
//! Names are k6's; what volley cannot honour is an error naming the option,
//! never a silent drop. Validation stays in [`super::validate`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::raw::{RawPlan, RawScenario, RawStage, RawThreshold, RawThresholdFull};
use crate::Error;

/// Options that change nothing volley measures or runs (reporting and
/// cloud settings): accepted, not applied.
const INERT: &[&str] = &[
    "summaryTrendStats",
    "summaryTimeUnit",
    "noUsageReport",
    "ext",
    "cloud",
];

const SCENARIO_FIELDS: &[&str] = &[
    "executor",
    "exec",
    "startTime",
    "gracefulStop",
    "tags",
    "env",
    "vus",
    "iterations",
    "duration",
    "maxDuration",
    "startVUs",
    "stages",
    "gracefulRampDown",
    "rate",
    "startRate",
    "timeUnit",
    "preAllocatedVUs",
    "maxVUs",
];

/// Turns k6 `options` into a raw plan; `script` names the file in errors.
pub fn from_options(options: &Value, script: &Path) -> Result<RawPlan, Error> {
    let err = |field: &str, why: String| Error::Plan {
        path: script.to_path_buf(),
        message: format!("export const options: `{field}`: {why}"),
    };
    let obj = options
        .as_object()
        .ok_or_else(|| err("options", "must be an object".into()))?;
    let mut raw = RawPlan::default();
    let mut tags = BTreeMap::new();
    for (key, v) in obj {
        match key.as_str() {
            "vus" => raw.vus = Some(uint(v).ok_or_else(|| err(key, "a VU count".into()))? as u32),
            "iterations" => {
                raw.iterations = Some(uint(v).ok_or_else(|| err(key, "a count".into()))?)
            }
            "duration" => {
                raw.duration =
                    Some(duration(v).ok_or_else(|| err(key, "a duration such as '30s'".into()))?)
            }
            "stages" => raw.stages = Some(stages(v).map_err(|m| err(key, m))?),
            "scenarios" => {
                for (name, s) in v
                    .as_object()
                    .ok_or_else(|| err(key, "an object of named scenarios".into()))?
                {
                    let s =
                        scenario(s).map_err(|(f, m)| err(&format!("scenarios.{name}.{f}"), m))?;
                    raw.scenarios.insert(name.clone(), s);
                }
            }
            "thresholds" => {
                for (metric, list) in v
                    .as_object()
                    .ok_or_else(|| err(key, "an object of metric -> [expressions]".into()))?
                {
                    let t =
                        thresholds(list).map_err(|m| err(&format!("thresholds.{metric}"), m))?;
                    raw.thresholds.insert(metric.clone(), t);
                }
            }
            "tags" => {
                tags = strings(v).ok_or_else(|| err(key, "an object of name -> value".into()))?
            }
            "setupTimeout" => {
                raw.options.setup_timeout =
                    Some(duration(v).ok_or_else(|| err(key, "a duration".into()))?)
            }
            "teardownTimeout" => {
                raw.options.teardown_timeout =
                    Some(duration(v).ok_or_else(|| err(key, "a duration".into()))?)
            }
            "insecureSkipTLSVerify" => raw.options.insecure_skip_tls_verify = v.as_bool(),
            "maxRedirects" => {
                raw.options.max_redirects = Some(
                    uint(v)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| err(key, "a count (0: follow none)".into()))?,
                )
            }
            "tlsVersion" | "tlsCipherSuites" => {
                return Err(err(
                    key,
                    "not supported by volley: it negotiates TLS 1.2 or 1.3 with rustls' default cipher suites and cannot restrict them; remove the option (a run would not test what it says)".into(),
                ));
            }
            k if INERT.contains(&k) => {}
            _ => {
                return Err(err(
                    key,
                    "not supported by volley (give a plan file for what it offers instead: plans/default.toml or --plan)".into(),
                ));
            }
        }
    }
    // k6: scenarios win over the top-level shortcuts.
    if !raw.scenarios.is_empty() {
        raw.vus = None;
        raw.duration = None;
        raw.iterations = None;
        raw.stages = None;
    } else if !tags.is_empty() {
        // The shortcuts' one scenario keeps the first scenario's tags.
        raw.scenarios
            .insert("default".into(), RawScenario::default());
    }
    for s in raw.scenarios.values_mut() {
        for (k, v) in &tags {
            s.tags.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(raw)
}

fn uint(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
            .map(|f| f as u64)
    })
}

/// k6 durations: a string with units, or a number of milliseconds.
fn duration(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) => uint(v).map(|ms| format!("{ms}ms")),
        _ => None,
    }
}

fn strings(v: &Value) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in v.as_object()? {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        out.insert(k.clone(), s);
    }
    Some(out)
}

fn stages(v: &Value) -> Result<Vec<RawStage>, String> {
    let list = v.as_array().ok_or("a list of { duration, target }")?;
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let d = s.get("duration").and_then(duration);
            let t = s.get("target").and_then(uint);
            match (d, t) {
                (Some(duration), Some(target)) => Ok(RawStage { duration, target }),
                _ => Err(format!(
                    "stage {i}: needs `duration` (e.g. '30s') and `target` (a number)"
                )),
            }
        })
        .collect()
}

fn thresholds(v: &Value) -> Result<Vec<RawThreshold>, String> {
    let one = |t: &Value| -> Result<RawThreshold, String> {
        match t {
            Value::String(s) => Ok(RawThreshold::Expr(s.clone())),
            Value::Object(o) => {
                for k in o.keys() {
                    if !["threshold", "abortOnFail", "delayAbortEval"].contains(&k.as_str()) {
                        return Err(format!(
                            "`{k}` is not supported (threshold, abortOnFail, delayAbortEval)"
                        ));
                    }
                }
                Ok(RawThreshold::Full(RawThresholdFull {
                    threshold: o
                        .get("threshold")
                        .and_then(Value::as_str)
                        .ok_or("an object threshold needs `threshold`")?
                        .to_string(),
                    abort_on_fail: o
                        .get("abortOnFail")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    delay_abort_eval: o.get("delayAbortEval").and_then(duration),
                    no_data: None,
                }))
            }
            _ => Err("a threshold is a string ('p(95)<500') or { threshold, abortOnFail }".into()),
        }
    };
    match v {
        Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn scenario(v: &Value) -> Result<RawScenario, (String, String)> {
    let o: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| (String::new(), "a scenario is an object".to_string()))?;
    let bad = |f: &str, why: &str| (f.to_string(), why.to_string());
    let mut s = RawScenario::default();
    for (k, v) in o {
        if !SCENARIO_FIELDS.contains(&k.as_str()) {
            return Err(bad(k, "not supported by volley"));
        }
        let count = || uint(v).ok_or_else(|| bad(k, "a number"));
        let dur = || duration(v).ok_or_else(|| bad(k, "a duration such as '30s'"));
        match k.as_str() {
            "executor" => {
                s.executor = Some(v.as_str().ok_or_else(|| bad(k, "an executor name"))?.into())
            }
            "exec" => {
                s.exec = Some(
                    v.as_str()
                        .ok_or_else(|| bad(k, "an exported function's name"))?
                        .into(),
                )
            }
            "startTime" => s.start_time = Some(dur()?),
            "gracefulStop" => s.graceful_stop = Some(dur()?),
            "gracefulRampDown" => s.graceful_ramp_down = Some(dur()?),
            "duration" => s.duration = Some(dur()?),
            "maxDuration" => s.max_duration = Some(dur()?),
            "timeUnit" => s.time_unit = Some(dur()?),
            "tags" => s.tags = strings(v).ok_or_else(|| bad(k, "an object of name -> value"))?,
            "env" => s.params = strings(v).ok_or_else(|| bad(k, "an object of name -> value"))?,
            "vus" => s.vus = Some(count()? as u32),
            "startVUs" => s.start_vus = Some(count()? as u32),
            "preAllocatedVUs" => s.pre_allocated_vus = Some(count()? as u32),
            "maxVUs" => s.max_vus = Some(count()? as u32),
            "iterations" => s.iterations = Some(count()?),
            "rate" => s.rate = Some(count()?),
            "startRate" => s.start_rate = Some(count()?),
            "stages" => s.stages = Some(stages(v).map_err(|m| bad(k, &m))?),
            _ => unreachable!("listed in SCENARIO_FIELDS"),
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(v: Value) -> Result<RawPlan, String> {
        from_options(&v, Path::new("script.js")).map_err(|e| e.to_string())
    }

    #[test]
    fn shortcuts_thresholds_and_tags_map_to_the_plan() {
        let p = plan(json!({
            "vus": 5, "duration": "10s",
            "thresholds": { "http_req_duration": ["p(95)<500", { "threshold": "p(99)<900", "abortOnFail": true }] },
            "tags": { "team": "shop" },
            "summaryTrendStats": ["avg"],
        }))
        .unwrap();
        assert_eq!(p.vus, Some(5));
        assert_eq!(p.duration.as_deref(), Some("10s"));
        assert_eq!(p.thresholds["http_req_duration"].len(), 2);
        assert_eq!(p.scenarios["default"].tags["team"], "shop");
        let p = plan(json!({ "maxRedirects": 0 })).unwrap();
        assert_eq!(p.options.max_redirects, Some(0));
    }

    #[test]
    fn scenarios_keep_their_executors_and_win_over_shortcuts() {
        let p = plan(json!({
            "vus": 3,
            "scenarios": {
                "browse": { "executor": "ramping-vus", "startVUs": 0, "exec": "browse",
                            "stages": [{ "duration": "5s", "target": 10 }], "env": { "N": 2 } },
                "buy": { "executor": "constant-arrival-rate", "rate": 20, "timeUnit": "1s",
                         "duration": 30000, "preAllocatedVUs": 5 },
            },
            "tags": { "t": "1" },
        }))
        .unwrap();
        assert_eq!(p.vus, None);
        let b = &p.scenarios["browse"];
        assert_eq!(b.exec.as_deref(), Some("browse"));
        assert_eq!(b.stages.as_ref().unwrap()[0].target, 10);
        assert_eq!(b.params["N"], "2");
        assert_eq!(b.tags["t"], "1");
        assert_eq!(p.scenarios["buy"].duration.as_deref(), Some("30000ms"));
    }

    #[test]
    fn what_cannot_be_mapped_is_named() {
        let e = plan(json!({ "hosts": { "a": "1.2.3.4" } })).unwrap_err();
        assert!(e.contains("`hosts`") && e.contains("script.js"), "{e}");
        let e =
            plan(json!({ "scenarios": { "s": { "executor": "constant-vus", "options": {} } } }))
                .unwrap_err();
        assert!(e.contains("`scenarios.s.options`"), "{e}");
        let e = plan(json!({ "tlsVersion": "tls1.2" })).unwrap_err();
        assert!(
            e.contains("`tlsVersion`") && e.contains("TLS 1.2 or 1.3"),
            "{e}"
        );
        let e = plan(json!({ "maxRedirects": "x" })).unwrap_err();
        assert!(e.contains("`maxRedirects`"), "{e}");
        let e = plan(json!({ "stages": [{ "duration": "1s" }] })).unwrap_err();
        assert!(e.contains("`stages`") && e.contains("target"), "{e}");
    }
}
