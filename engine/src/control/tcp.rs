//! The control API over TCP (`volley run --control ADDR`): every request
//! carries the run's token, compared in constant time. A token is generated
//! for a loopback address and printed; any other address needs one given
//! (`--control-token`), so a run never listens on a network without one.

use crate::Invalid;
use std::net::SocketAddr;

use rand::RngCore;

/// `--control ADDR [--control-token TOKEN]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpOptions {
    pub addr: SocketAddr,
    pub token: String,
}

/// Shortest token accepted from the command line.
const MIN_TOKEN: usize = 16;

impl TcpOptions {
    /// Checks `--control` and `--control-token`; generates a token for a
    /// loopback address given none.
    pub fn new(addr: &str, token: Option<String>) -> Result<Self, crate::Invalid> {
        let addr: SocketAddr = addr
            .parse()
            .map_err(|e| format!("--control {addr}: {e} (give IP:PORT, e.g. 127.0.0.1:6565)"))?;
        let token = match token {
            Some(t) if t.len() < MIN_TOKEN => {
                return Err(Invalid(format!(
                    "--control-token: at least {MIN_TOKEN} characters (got {})",
                    t.len()
                )));
            }
            Some(t) => t,
            None if addr.ip().is_loopback() => generate(),
            None => {
                return Err(Invalid(format!(
                    "--control {addr} is not a loopback address: give --control-token TOKEN (every request must carry it)"
                )));
            }
        };
        Ok(TcpOptions { addr, token })
    }
}

/// 32 random bytes, hex.
fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `given` is `expected`, in time that does not depend on where
/// they differ (only on the length).
pub fn token_matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else {
        return false;
    };
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_gets_a_token_other_addresses_need_one() {
        let t = TcpOptions::new("127.0.0.1:0", None).unwrap();
        assert_eq!(t.token.len(), 64);
        assert_ne!(t.token, TcpOptions::new("[::1]:0", None).unwrap().token);
        let e = TcpOptions::new("0.0.0.0:7000", None).unwrap_err();
        assert!(e.0.contains("--control-token"), "{e}");
        assert!(TcpOptions::new("0.0.0.0:7000", Some("short".into())).is_err());
        let t = TcpOptions::new("0.0.0.0:7000", Some("x".repeat(20))).unwrap();
        assert_eq!(t.token, "x".repeat(20));
        assert!(TcpOptions::new("localhost", None).is_err());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches("abcdef", Some("abcdef")));
        assert!(!token_matches("abcdef", Some("abcdeg")));
        assert!(!token_matches("abcdef", Some("abcde")));
        assert!(!token_matches("abcdef", None));
    }
}
