//! Which request headers a scenario may set. Framing and connection
//! headers (`content-length`, `transfer-encoding`, `connection`, ...) are
//! the client's to write: from a scenario they would let one request carry
//! another past the target's parser (request smuggling). A `host` header
//! may name only a host the allowlist admits, so a shared front (a reverse
//! proxy, a virtual host) cannot be asked for a host the runner did not
//! allow. CR and LF never reach the wire: header values are checked by the
//! `http` crate, which refuses them.

use super::allow::Allowlist;

/// Headers the client writes itself, for every protocol.
const FRAMING: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-connection",
];

/// What is wrong with a scenario's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The header is the client's to write.
    Reserved(String),
    /// It names a host that is not allowed.
    NotAllowed(String),
}

/// Checks a scenario's header for a request to `default_port`'s scheme;
/// `websocket` also reserves the handshake's own headers.
pub fn check(
    name: &str,
    value: &str,
    allow: &Allowlist,
    default_port: u16,
    websocket: bool,
) -> Result<(), Refused> {
    // Compared whatever the case, not lowered into a new string: this runs
    // for every header of every request.
    let name = name.trim();
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let host = is("host");
    let prefix = "sec-websocket-";
    let handshake = websocket
        && (host
            || (name.len() >= prefix.len()
                && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())));
    if FRAMING.iter().any(|f| is(f)) || handshake {
        let lower = name.to_ascii_lowercase();
        return Err(Refused::Reserved(format!(
            "header `{lower}` is written by volley, not by the scenario (framing, connection and handshake headers come from the protocol)"
        )));
    }
    if host {
        let v = value.trim();
        let (host, port) = split(v).ok_or_else(|| {
            Refused::Reserved(format!("header `host: {v}` is not a host or host:port"))
        })?;
        let port = port.unwrap_or(default_port);
        if !allow.permits(host, port) {
            return Err(Refused::NotAllowed(format!(
                "header `host: {v}` names {host}:{port}, which is not an allowed host: list it in the plan's [targets] or pass --allow-host {host}:{port}"
            )));
        }
    }
    Ok(())
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; none for anything else.
fn split(v: &str) -> Option<(&str, Option<u16>)> {
    if v.is_empty() || v.contains(['/', ' ', '@', '?', '#']) {
        return None;
    }
    if let Some(rest) = v.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((h, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((h, None)),
            None => None,
        };
    }
    match v.split_once(':') {
        Some((h, p)) if !p.contains(':') => Some((h, Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((v, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_foreign_hosts_are_refused() {
        let allow = Allowlist::parse(&["127.0.0.1:8080", "api.test"]).unwrap();
        let ok = |n: &str, v: &str| check(n, v, &allow, 80, false);
        assert!(ok("content-type", "text/plain").is_ok());
        assert!(ok("Host", "api.test").is_ok());
        assert!(ok("host", "127.0.0.1:8080").is_ok());
        for n in [
            "Transfer-Encoding",
            "content-length",
            " Connection",
            "upgrade",
            "TE",
        ] {
            assert!(matches!(ok(n, "x"), Err(Refused::Reserved(_))), "{n}");
        }
        for v in [
            "127.0.0.2:8080",
            "127.0.0.1",
            "evil.test",
            "api.test.",
            "localhost:8080",
        ] {
            assert!(matches!(ok("host", v), Err(Refused::NotAllowed(_))), "{v}");
        }
        for v in ["a b", "x@127.0.0.1:8080", "h:1:2", "h:99999", ""] {
            assert!(matches!(ok("host", v), Err(Refused::Reserved(_))), "{v}");
        }
        // A WebSocket handshake keeps its own headers, host included.
        let ws = |n: &str| check(n, "x", &allow, 80, true);
        assert!(matches!(ws("Sec-WebSocket-Key"), Err(Refused::Reserved(_))));
        assert!(matches!(ws("host"), Err(Refused::Reserved(_))));
        assert!(ws("authorization").is_ok());
    }
}
