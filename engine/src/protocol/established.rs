//! How long the pooled client's connections took to open, for k6's
//! `http_req_connecting` and `http_req_tls_handshaking` on https and HTTP/2.
//!
//! The pool opens connections on its own, apart from any one request, so
//! the times ride on the connection: the TCP connector times the connect,
//! the outer connector the TLS handshake after it, and hyper hands both to
//! every response on that connection. The first response to see them
//! reports them; later ones reuse the connection and report zero, as k6
//! does.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// What opening one connection cost.
#[derive(Debug)]
pub struct Established {
    connecting: Duration,
    /// Set once the TLS handshake is over; none on plain http.
    handshaking: OnceLock<Duration>,
    reported: AtomicBool,
}

/// A connection's opening costs, for the one request that reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opening {
    pub connecting: Duration,
    pub handshaking: Option<Duration>,
}

impl Established {
    /// The opening costs the first time a response asks, zero after: a
    /// reused connection cost nothing to open.
    pub fn take(&self) -> Opening {
        if self.reported.swap(true, Ordering::Relaxed) {
            return Opening {
                handshaking: self.handshaking.get().map(|_| Duration::ZERO),
                ..Opening::default()
            };
        }
        Opening {
            connecting: self.connecting,
            handshaking: self.handshaking.get().copied(),
        }
    }
}

/// A TCP stream that knows how long it took to connect.
pub struct TimedTcp {
    io: TokioIo<TcpStream>,
    established: Arc<Established>,
}

impl Connection for TimedTcp {
    fn connected(&self) -> Connected {
        self.io.connected().extra(Arc::clone(&self.established))
    }
}

impl Read for TimedTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for TimedTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// hyper's TCP connector, timed.
#[derive(Clone)]
pub struct TcpConnector(pub HttpConnector);

impl Service<Uri> for TcpConnector {
    type Response = TimedTcp;
    type Error = BoxError;
    type Future = Boxed<TimedTcp>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let start = Instant::now();
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            let established = Arc::new(Established {
                connecting: start.elapsed(),
                handshaking: OnceLock::new(),
                reported: AtomicBool::new(false),
            });
            Ok(TimedTcp { io, established })
        })
    }
}

/// The https-or-http connector over [`TcpConnector`], timing the TLS
/// handshake as what its call took beyond the connect.
#[derive(Clone)]
pub struct Connector(pub HttpsConnector<TcpConnector>);

impl Service<Uri> for Connector {
    type Response = MaybeHttpsStream<TimedTcp>;
    type Error = BoxError;
    type Future = Boxed<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let start = Instant::now();
        let opening = self.0.call(uri);
        Box::pin(async move {
            let stream = opening.await?;
            if let MaybeHttpsStream::Https(tls) = &stream {
                let tcp = tls.inner().get_ref().0.inner();
                let e = &tcp.established;
                let _ = e
                    .handshaking
                    .set(start.elapsed().saturating_sub(e.connecting));
            }
            Ok(stream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn established(handshaking: Option<Duration>) -> Established {
        let e = Established {
            connecting: Duration::from_millis(3),
            handshaking: OnceLock::new(),
            reported: AtomicBool::new(false),
        };
        if let Some(h) = handshaking {
            e.handshaking.set(h).unwrap();
        }
        e
    }

    #[test]
    fn only_the_first_response_on_a_connection_reports_its_opening() {
        let e = established(Some(Duration::from_millis(7)));
        assert_eq!(
            e.take(),
            Opening {
                connecting: Duration::from_millis(3),
                handshaking: Some(Duration::from_millis(7)),
            }
        );
        assert_eq!(
            e.take(),
            Opening {
                connecting: Duration::ZERO,
                handshaking: Some(Duration::ZERO),
            }
        );
        let plain = established(None);
        assert_eq!(plain.take().handshaking, None);
        assert_eq!(plain.take().handshaking, None);
    }
}
