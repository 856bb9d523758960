//! Why a network call failed, in the classes HTTP and WebSocket share (the
//! WIT's `types.error-class`): one type, so a class means the same thing in
//! `http_req_failed`, `ws_errors`, the ERRORS table and the guest.

/// Why a request or socket call got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// The connection was refused.
    Refused,
    Timeout,
    /// The peer reset or dropped the connection.
    Reset,
    Tls,
    Dns,
    /// A WebSocket upgrade the server refused.
    Handshake,
    /// The guest's request was malformed (bad URL, header, method).
    InvalidRequest,
    /// The host is not on the run's allowlist.
    NotAllowed,
    /// The socket is closed.
    Closed,
    Other,
}

impl ErrorClass {
    /// The `class` tag value on error metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Refused => "refused",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Reset => "reset",
            ErrorClass::Tls => "tls",
            ErrorClass::Dns => "dns",
            ErrorClass::Handshake => "handshake",
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::NotAllowed => "not_allowed",
            ErrorClass::Closed => "closed",
            ErrorClass::Other => "other",
        }
    }
}
