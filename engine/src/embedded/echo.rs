//! The embedded HTTP target's echo routes, for conformance tests of client
//! APIs (Locust's, k6's): `ANY /echo/...` answers 200 with what it got
//! (method, path, query, headers, body) as JSON; `ANY /status/<code>`
//! answers that status; `GET /cookie/<name>/<value>` sets a cookie (and
//! with `?redirect=/path` redirects there, 302). The
//! target counts requests per method and path ([`PathCounts`]) so a test
//! can compare volley's per-name numbers with what arrived.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hyper::{HeaderMap, Method, StatusCode};

/// Distinct `METHOD path` keys kept; requests beyond count in `other`.
const MAX_PATHS: usize = 1024;

/// Requests seen per `METHOD path` (query excluded), bounded.
#[derive(Debug, Default)]
pub struct PathCounts(Mutex<BTreeMap<String, u64>>);

impl PathCounts {
    pub fn add(&self, method: &Method, path: &str) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = format!("{method} {path}");
        let key = if m.len() >= MAX_PATHS && !m.contains_key(&key) {
            "other".to_string()
        } else {
            key
        };
        *m.entry(key).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// An echo route's answer: status, extra headers, JSON body.
pub type Answer = (StatusCode, Vec<(&'static str, String)>, String);

/// An echo route's answer; none when `path` is not one of them.
pub fn handle(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Answer> {
    if path == "/echo" || path.starts_with("/echo/") {
        let hdrs: BTreeMap<String, String> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let v = serde_json::json!({
            "method": method.as_str(),
            "path": path,
            "query": query.unwrap_or(""),
            "headers": hdrs,
            "body": String::from_utf8_lossy(body),
        });
        return Some((StatusCode::OK, vec![], v.to_string()));
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .filter(|s| !s.is_informational())?;
        return Some((
            status,
            vec![],
            format!(r#"{{"status":{}}}"#, status.as_u16()),
        ));
    }
    if let Some(rest) = path.strip_prefix("/cookie/") {
        let (name, value) = rest.split_once('/')?;
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok(name) || !ok(value) {
            return None;
        }
        let cookie = ("set-cookie", format!("{name}={value}; Path=/"));
        // `?redirect=/path`: a login's answer, the cookie and a redirect
        // (to a path on this target only).
        let next = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("redirect="))
            .filter(|p| p.starts_with('/') && !p.starts_with("//"));
        if let Some(next) = next {
            return Some((
                StatusCode::FOUND,
                vec![cookie, ("location", next.to_string())],
                "{}".to_string(),
            ));
        }
        return Some((
            StatusCode::OK,
            vec![cookie],
            format!(r#"{{"{name}":"{value}"}}"#),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_answers_statuses_and_counts_paths() {
        let mut h = HeaderMap::new();
        h.insert("x-a", "1".parse().unwrap());
        let (status, _, body) = handle(&Method::PUT, "/echo/x", Some("q=1"), &h, b"hi").unwrap();
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (&v["method"], &v["query"], &v["headers"]["x-a"], &v["body"]),
            (&"PUT".into(), &"q=1".into(), &"1".into(), &"hi".into())
        );
        let (status, _, _) = handle(&Method::GET, "/status/503", None, &h, b"").unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(handle(&Method::GET, "/status/abc", None, &h, b"").is_none());
        let (_, extra, _) = handle(&Method::GET, "/cookie/sid/42", None, &h, b"").unwrap();
        assert_eq!(extra, vec![("set-cookie", "sid=42; Path=/".to_string())]);
        let (status, extra, _) = handle(
            &Method::GET,
            "/cookie/sid/42",
            Some("redirect=/echo/a"),
            &h,
            b"",
        )
        .unwrap();
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(extra[1], ("location", "/echo/a".to_string()));
        assert!(handle(&Method::GET, "/other", None, &h, b"").is_none());
        let counts = PathCounts::default();
        counts.add(&Method::GET, "/a");
        counts.add(&Method::GET, "/a");
        counts.add(&Method::POST, "/a");
        assert_eq!(counts.snapshot()["GET /a"], 2);
        assert_eq!(counts.snapshot()["POST /a"], 1);
    }
}
