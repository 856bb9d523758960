//! Which hosts scenarios may reach: the plan's targets plus `--allow-host`.
//! A package's own defaults never widen it (README, "Sandbox").

use crate::Invalid;

/// One allowed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    /// `host` (any port) or `host:port`; `*.domain` matches subdomains.
    Host {
        host: String,
        port: Option<u16>,
        wildcard: bool,
    },
}

/// Hosts scenarios may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    patterns: Vec<Pattern>,
}

impl Allowlist {
    /// Parses `host`, `host:port`, `*.example.com`, `[::1]:8080`, `*`.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, Invalid> {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.as_ref().trim();
            if p == "*" {
                out.push(Pattern::Any);
                continue;
            }
            let bad = || {
                Invalid(format!(
                    "allowed host `{p}`: write `host`, `host:port`, `*.domain` or `*`"
                ))
            };
            if p.is_empty() || p.contains('/') || p.contains(' ') {
                return Err(bad());
            }
            let (host, port) = split_host_port(p).ok_or_else(bad)?;
            let (host, wildcard) = match host.strip_prefix("*.") {
                Some(rest) => (rest.to_string(), true),
                None => (host.to_string(), false),
            };
            if host.is_empty() || host.contains('*') {
                return Err(bad());
            }
            out.push(Pattern::Host {
                host: host.to_ascii_lowercase(),
                port,
                wildcard,
            });
        }
        Ok(Allowlist { patterns: out })
    }

    pub fn permits(&self, host: &str, port: u16) -> bool {
        // Compared without a lower-case copy: this runs on every request.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Host {
                host: h,
                port: pp,
                wildcard,
            } => {
                let host_ok = if *wildcard {
                    // `*.h`: a subdomain of h, h itself not.
                    let (host, h) = (host.as_bytes(), h.as_bytes());
                    host.len() > h.len()
                        && host[host.len() - h.len() - 1] == b'.'
                        && host[host.len() - h.len()..].eq_ignore_ascii_case(h)
                } else {
                    host.eq_ignore_ascii_case(h)
                };
                host_ok && pp.is_none_or(|pp| pp == port)
            }
        })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((h, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((h, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p.parse().ok()?))),
        Some(_) => Some((s, None)), // a bare IPv6 address
        None => Some((s, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let a =
            Allowlist::parse(&["127.0.0.1:8080", "*.example.com", "api.test", "[::1]:9"]).unwrap();
        assert!(a.permits("127.0.0.1", 8080));
        assert!(!a.permits("127.0.0.1", 8081));
        assert!(a.permits("x.example.com", 443));
        assert!(!a.permits("example.com", 443));
        assert!(a.permits("X.Example.COM", 443));
        assert!(!a.permits("xexample.com", 443));
        assert!(a.permits("é.example.com", 443));
        assert!(!a.permits("exampleé.com", 443));
        assert!(a.permits("API.test", 1));
        assert!(a.permits("[::1]", 9));
        assert!(!a.permits("10.0.0.1", 80));
        assert!(Allowlist::parse(&["*"]).unwrap().permits("anything", 1));
        assert!(!Allowlist::default().permits("127.0.0.1", 80));
        assert!(Allowlist::parse(&["http://x"]).is_err());
        assert!(Allowlist::parse(&["a:b"]).is_err());
    }
}
