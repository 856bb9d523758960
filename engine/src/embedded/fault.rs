//! Fault controls of the embedded HTTP target: stop (close the listener and
//! every connection, listen again on the same address when restarted),
//! pause (accept, never answer until resumed), delay and an error rate.
//! The run's `[[fault]]` entries turn them on and off; nothing else does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How often, and how long apart, a restart tries to listen again (the
/// address is free once the old listener is gone; this covers a slow close).
const REBIND_TRIES: u32 = 100;
const REBIND_PAUSE: Duration = Duration::from_millis(20);

/// The switches. All off by default.
#[derive(Debug)]
pub struct Controls {
    delay_us: AtomicU64,
    /// Share of answers that are 503s, in millionths.
    error_ppm: AtomicU64,
    paused: watch::Sender<bool>,
    down: watch::Sender<bool>,
}

impl Default for Controls {
    fn default() -> Controls {
        Controls {
            delay_us: AtomicU64::new(0),
            error_ppm: AtomicU64::new(0),
            paused: watch::Sender::new(false),
            down: watch::Sender::new(false),
        }
    }
}

impl Controls {
    pub fn set_delay(&self, d: Duration) {
        self.delay_us.store(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn set_error_rate(&self, rate: f64) {
        let ppm = (rate.clamp(0.0, 1.0) * 1e6) as u64;
        self.error_ppm.store(ppm, Ordering::Relaxed);
    }

    pub fn set_paused(&self, on: bool) {
        self.paused.send_replace(on);
    }

    /// Down: the listener and every connection close; up: it listens again.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Before answering a request: waits while paused, then sleeps the
    /// delay; true when this answer is to be an injected 503.
    pub async fn before_answer(&self) -> bool {
        let mut paused = self.paused.subscribe();
        let _ = paused.wait_for(|p| !*p).await;
        let delay = self.delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_micros(delay)).await;
        }
        let ppm = self.error_ppm.load(Ordering::Relaxed);
        ppm > 0 && rand::random_range(0..1_000_000) < ppm
    }

    /// Resolves once the target is stopped (at once if it is).
    pub async fn stopped(&self) {
        let mut down = self.down.subscribe();
        let _ = down.wait_for(|d| *d).await;
    }
}

/// The accept loop of every embedded server with [`Controls`]: takes
/// connections (Nagle off) and hands each to `serve` until shut down; an
/// accept error (out of descriptors, say) backs off instead of spinning. A
/// stop drops the listener until the target is up again, then listens on
/// `addr` again. Connections end themselves
/// on a stop ([`Controls::stopped`]).
pub(crate) fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    controls: std::sync::Arc<Controls>,
    mut shutdown: watch::Receiver<bool>,
    mut serve: impl FnMut(TcpStream) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut listener = Some(listener);
        let mut down = controls.down.subscribe();
        loop {
            let Some(l) = &listener else {
                // Stopped: wait to be up again (or shut down), then listen.
                tokio::select! {
                    _ = async { down.wait_for(|d| !*d).await.is_ok() } => {}
                    _ = shutdown.changed() => break,
                }
                listener = rebind(addr).await;
                if listener.is_none() {
                    crate::output::log(
                        "WARN",
                        format_args!(
                            "WARN  embedded target {addr}: could not listen again after its stop fault"
                        ),
                    );
                    break;
                }
                continue;
            };
            let stop = tokio::select! {
                accepted = l.accept() => {
                    match accepted {
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            serve(stream);
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                    false
                }
                _ = async { down.wait_for(|d| *d).await.is_ok() } => true,
                _ = shutdown.changed() => break,
            };
            if stop {
                listener = None;
            }
        }
    })
}

async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..REBIND_TRIES {
        if let Ok(l) = TcpListener::bind(addr).await {
            return Some(l);
        }
        tokio::time::sleep(REBIND_PAUSE).await;
    }
    None
}
