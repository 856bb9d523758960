//! A running test's control endpoint: a Unix socket, private to the user
//! (a 0700 folder), one per run, named by the run's process id; and, with
//! `volley run --control ADDR`, a TCP listener whose every request carries
//! the run's token. One JSON request per connection, one JSON answer
//! ([`api`]): `status`, `stop`, `swap`, `rollback`, `scale`. `volley ps`,
//! `stop`, `swap`, `rollback` and `scale` are its clients.
//!
//! Owns the endpoints and the wire format only: stopping is
//! `schedule::Stop`, swapping is `swap::Swapper`, scaling is
//! `schedule::Scale`.

mod api;
mod local;
mod tcp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub use api::{Envelope, Request, ScenarioStatus, Status, refusal};
pub use local::{Entry, Target, entries, find, request, runs_dir};
pub use tcp::{TcpOptions, token_matches};

use crate::schedule::{Live, Scale, ScaleError, Stop};

/// Why a control endpoint could not be opened or a run not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No run matches what was asked for; the message says how to name one.
    #[error("{0}")]
    NoRun(String),
    /// A socket, its folder or a listener: what it was and why.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The other side answered with something that is not a control answer.
    #[error("bad answer from {from}: {source}")]
    BadAnswer {
        from: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ControlError {
    fn io(context: impl std::fmt::Display, source: std::io::Error) -> Self {
        ControlError::Io {
            context: context.to_string(),
            source,
        }
    }
}

use crate::swap::Swapper;

/// What the endpoint acts on.
pub struct Context {
    pub plan: String,
    pub live: Arc<Live>,
    pub stop: Stop,
    /// Why the run stopped early (shared with the signal handler).
    pub abort_reason: Arc<std::sync::Mutex<Option<crate::run::Abort>>>,
    pub swapper: Arc<Swapper>,
    /// Each scenario's live load, in plan order.
    pub scales: Vec<Arc<Scale>>,
    pub started: Instant,
}

/// The endpoints of a run; removes its socket and entry when dropped.
#[derive(Debug)]
pub struct Endpoint {
    path: PathBuf,
    /// The TCP entry (address and token) beside the socket, if any.
    tcp_entry: Option<PathBuf>,
    tcp_addr: Option<std::net::SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Endpoint {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The TCP address actually bound (`--control 127.0.0.1:0` picks a port).
    pub fn tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.tcp_addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.path);
        if let Some(p) = &self.tcp_entry {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Opens this run's socket (and TCP listener with `tcp`) and answers on
/// them until dropped.
pub async fn serve(ctx: Arc<Context>, tcp: Option<TcpOptions>) -> Result<Endpoint, ControlError> {
    let (path, listener) = local::bind()?;
    let mut tasks = Vec::new();
    let (tcp_listener, tcp_addr) = match &tcp {
        Some(t) => {
            let context = format!("--control {}", t.addr);
            let l = TcpListener::bind(t.addr)
                .await
                .map_err(|e| ControlError::io(&context, e))?;
            let addr = l.local_addr().map_err(|e| ControlError::io(&context, e))?;
            (Some(l), Some(addr))
        }
        None => (None, None),
    };
    let ctx = Arc::new((ctx, tcp_addr));
    let c = ctx.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            // The socket's folder is private to the user: no token.
            tokio::spawn(answer(conn, c.clone(), None));
        }
    }));
    let mut tcp_entry = None;
    if let (Some(l), Some(t), Some(addr)) = (tcp_listener, tcp, tcp_addr) {
        tcp_entry = Some(local::write_tcp_entry(&path, addr, &t.token)?);
        crate::output::log(
            "INFO",
            format_args!(
                "control: {addr} (token {}; `volley ps` on this machine finds it)",
                t.token
            ),
        );
        let token: Arc<str> = t.token.into();
        let c = ctx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = l.accept().await else {
                    continue;
                };
                tokio::spawn(answer(conn, c.clone(), Some(token.clone())));
            }
        }));
    }
    Ok(Endpoint {
        path,
        tcp_entry,
        tcp_addr,
        tasks,
    })
}

/// Requests longer than this are refused.
const MAX_REQUEST: u64 = 64 << 10;

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    conn: S,
    ctx: Arc<(Arc<Context>, Option<std::net::SocketAddr>)>,
    token: Option<Arc<str>>,
) {
    let (read, mut write) = tokio::io::split(conn);
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    let reply = match reader.read_line(&mut line).await {
        Err(e) => refusal(e),
        Ok(_) => match serde_json::from_str::<Envelope>(&line) {
            Ok(e)
                if token
                    .as_deref()
                    .is_some_and(|t| !token_matches(t, e.token.as_deref())) =>
            {
                refusal("wrong or missing token (give --token or set VOLLEY_CONTROL_TOKEN)")
            }
            Err(e) => refusal(format!("bad request: {e}")),
            Ok(e) => handle(e.request, &ctx.0, ctx.1).await,
        },
    };
    let mut text = reply.to_string();
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
}

/// Answers one request (the dashboard calls this in-process).
pub async fn handle(
    r: Request,
    ctx: &Context,
    tcp: Option<std::net::SocketAddr>,
) -> serde_json::Value {
    match r {
        Request::Status => serde_json::json!({"ok": true, "status": status(ctx, tcp)}),
        Request::Stop => {
            ctx.abort_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(crate::run::Abort::Stopped(
                    "stopped by `volley stop`".into(),
                ));
            crate::output::log(
                "INFO",
                format_args!("stopped by `volley stop`: finishing iterations in flight"),
            );
            ctx.stop.graceful.cancel();
            serde_json::json!({"ok": true})
        }
        Request::Swap { path } => {
            let began = Instant::now();
            let component = if path.is_dir() || crate::build::source_lang(&path).is_some() {
                let p = path.clone();
                let opts = crate::build::BuildOptions {
                    force: false,
                    quiet: true,
                };
                match tokio::task::spawn_blocking(move || crate::build::build(&p, &opts)).await {
                    Ok(Ok(b)) => b.component,
                    Ok(Err(e)) => return refusal(e),
                    Err(e) => return refusal(e),
                }
            } else {
                path.clone()
            };
            let build = if component == path {
                std::time::Duration::ZERO
            } else {
                began.elapsed()
            };
            let events = ctx.swapper.swap_file(&component, build).await;
            serde_json::json!({"ok": true, "swaps": events})
        }
        Request::Rollback => {
            let events = ctx.swapper.roll_back_last().await;
            serde_json::json!({"ok": true, "swaps": events})
        }
        Request::Scale {
            scenario,
            vus,
            rate,
        } => match scale(ctx, &scenario, vus, rate) {
            Ok(()) => {
                crate::output::log(
                    "INFO",
                    format_args!(
                        "scale: scenario `{}` to {}",
                        crate::output::format::printable(&scenario, 100),
                        match (vus, rate) {
                            (Some(n), _) => format!("{n} VUs"),
                            (_, Some(r)) => format!("{r} iterations/s"),
                            _ => String::new(),
                        }
                    ),
                );
                serde_json::json!({"ok": true, "status": status(ctx, tcp)})
            }
            Err(e) => refusal(e),
        },
    }
}

fn scale(ctx: &Context, scenario: &str, vus: Option<u32>, rate: Option<f64>) -> Result<(), String> {
    let s = ctx
        .scales
        .iter()
        .find(|s| s.scenario() == scenario)
        .ok_or_else(|| {
            let names: Vec<&str> = ctx.scales.iter().map(|s| s.scenario()).collect();
            format!(
                "no scenario `{}` in this run (it has: {})",
                crate::output::format::printable(scenario, 100),
                names.join(", ")
            )
        })?;
    match (vus, rate) {
        (Some(n), None) => s.set_vus(n),
        (None, Some(r)) => s.set_rate(r),
        (Some(_), Some(_)) => return Err("give --vus or --rate, not both".into()),
        (None, None) => Err(ScaleError::Nothing),
    }
    .map_err(|e| e.to_string())
}

fn status(ctx: &Context, tcp: Option<std::net::SocketAddr>) -> Status {
    Status {
        pid: std::process::id(),
        plan: ctx.plan.clone(),
        elapsed_s: ctx.started.elapsed().as_secs_f64(),
        active_vus: ctx.live.active.load(Ordering::Relaxed),
        scenarios: ctx
            .swapper
            .deployments()
            .iter()
            .zip(&ctx.scales)
            .map(|(d, s)| {
                let stable = d.stable();
                ScenarioStatus {
                    name: stable.info.name.clone(),
                    version: stable.id().short(),
                    candidate: d.candidate().map(|c| c.id().short()),
                    vus: s.vus(),
                    rate: s.rate(),
                }
            })
            .collect(),
        control: tcp.map(|a| a.to_string()),
    }
}
