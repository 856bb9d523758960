//! `types` import: what the http and ws imports share, the header encoding
//! (`name: value` lines) and the one error-class type.

use super::VuState;
use crate::wasm::bindings::volley::scenario::types::{ErrorClass, Host};

impl Host for VuState {}

/// Headers in the WIT's encoding (`types.headers`) as pairs: `name: value`
/// lines joined by `\n`; the name ends at the first `:`, the value is the
/// rest without leading blanks; empty lines are skipped. A line without a
/// `:` or with an empty name is the scenario's mistake, named in the error.
pub(super) fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "header line {line:?} has no `:` (headers are `name: value` lines joined by `\\n`)"
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("header line {line:?} has no name before its `:`"));
        }
        out.push((
            name.to_string(),
            value.trim_start_matches([' ', '\t']).to_string(),
        ));
    }
    Ok(out)
}

impl From<crate::protocol::net::ErrorClass> for ErrorClass {
    fn from(c: crate::protocol::net::ErrorClass) -> Self {
        use crate::protocol::net::ErrorClass as C;
        match c {
            C::Refused => ErrorClass::Refused,
            C::Timeout => ErrorClass::Timeout,
            C::Reset => ErrorClass::Reset,
            C::Tls => ErrorClass::Tls,
            C::Dns => ErrorClass::Dns,
            C::Handshake => ErrorClass::Handshake,
            C::InvalidRequest => ErrorClass::InvalidRequest,
            C::NotAllowed => ErrorClass::NotAllowed,
            C::Closed => ErrorClass::Closed,
            C::Other => ErrorClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::Headers;

    #[test]
    fn header_lines_keep_order_and_repeats() {
        let h = [
            ("content-type".to_string(), "text/plain".to_string()),
            ("set-cookie".to_string(), "a=1".to_string()),
            ("set-cookie".to_string(), "b=2; Path=/".to_string()),
        ];
        let text: Headers = h.iter().cloned().collect();
        assert_eq!(
            text.lines(),
            "content-type: text/plain\nset-cookie: a=1\nset-cookie: b=2; Path=/"
        );
        assert_eq!(parse_headers(text.lines()).unwrap(), h);
        let pairs: Vec<(&str, &str)> = text.iter().collect();
        assert_eq!(pairs[2], ("set-cookie", "b=2; Path=/"));
        assert_eq!(text.get("Set-Cookie"), Some("a=1"));
        let empty = Headers::default();
        assert_eq!((empty.lines(), empty.iter().count()), ("", 0));
        assert_eq!(parse_headers("").unwrap(), vec![]);
    }

    #[test]
    fn header_parsing_takes_the_first_colon_and_refuses_nameless_lines() {
        let h = parse_headers("X-Time:\t12:30\r\n\nAuthorization: Bearer a:b").unwrap();
        assert_eq!(
            h,
            vec![
                ("X-Time".to_string(), "12:30".to_string()),
                ("Authorization".to_string(), "Bearer a:b".to_string()),
            ]
        );
        let e = parse_headers("content-type application/json").unwrap_err();
        assert!(e.contains("no `:`"), "{e}");
        assert!(parse_headers(": x").unwrap_err().contains("no name"));
    }
}
