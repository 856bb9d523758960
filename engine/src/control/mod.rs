//! A running test's control endpoint: a Unix socket, private to the user
//! (a 0700 folder), one per run, named by the run's process id. One JSON
//! request per connection, one JSON answer: `status`, `stop`, `swap`,
//! `rollback`. `volley ps`, `volley stop`, `volley swap` and
//! `volley rollback` are its clients.
//!
//! Owns the socket and the wire format only: stopping is `schedule::Stop`,
//! swapping is `swap::Swapper`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::schedule::{Live, Stop};
use crate::swap::Swapper;

/// A request on the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    /// Stop starting iterations (like one Ctrl-C).
    Stop,
    /// Swap to the component at `path` (a `.wasm` file, or a scenario
    /// folder or source file, built first).
    Swap {
        path: PathBuf,
    },
    /// Roll back the swap in progress, or the last committed one.
    Rollback,
}

/// What a run says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub plan: String,
    pub elapsed_s: f64,
    pub active_vus: u64,
    pub scenarios: Vec<ScenarioStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioStatus {
    pub name: String,
    pub version: String,
    /// The version being rolled out, if a swap is in progress.
    pub candidate: Option<String>,
}

/// The folder of the runs' sockets: `$XDG_RUNTIME_DIR/volley`, else
/// `~/.cache/volley/runs`.
pub fn runs_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("VOLLEY_RUNS_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Some(PathBuf::from(d).join("volley"));
    }
    crate::wasm::cache::user_cache_dir().map(|d| d.join("runs"))
}

/// What the endpoint acts on.
pub struct Context {
    pub plan: String,
    pub live: Arc<Live>,
    pub stop: Stop,
    /// Why the run stopped early (shared with the signal handler).
    pub abort_reason: Arc<std::sync::Mutex<Option<crate::run::Abort>>>,
    pub swapper: Arc<Swapper>,
    pub started: Instant,
}

/// The endpoint of a run; removes its socket when dropped.
#[derive(Debug)]
pub struct Endpoint {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Opens this run's socket and answers on it until dropped.
pub fn serve(ctx: Context) -> Result<Endpoint, String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = runs_dir().ok_or("no folder for the control socket: set VOLLEY_RUNS_DIR")?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Only this user may control its runs.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    // Named by the process id (and a number for a library running several).
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let name = match n {
        0 => std::process::id().to_string(),
        n => format!("{}-{n}", std::process::id()),
    };
    let path = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ctx = Arc::new(ctx);
    let task = tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(answer(conn, ctx.clone()));
        }
    });
    Ok(Endpoint { path, task })
}

/// Requests longer than this are refused.
const MAX_REQUEST: u64 = 64 << 10;

async fn answer(conn: UnixStream, ctx: Arc<Context>) {
    let (read, mut write) = conn.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    let reply = match reader.read_line(&mut line).await {
        Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}),
        Ok(_) => match serde_json::from_str::<Request>(&line) {
            Err(e) => serde_json::json!({"ok": false, "error": format!("bad request: {e}")}),
            Ok(r) => handle(r, &ctx).await,
        },
    };
    let mut text = reply.to_string();
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
}

async fn handle(r: Request, ctx: &Context) -> serde_json::Value {
    match r {
        Request::Status => serde_json::json!({"ok": true, "status": status(ctx)}),
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
            let component = if path.is_dir() || crate::build::source_lang(&path).is_some() {
                let p = path.clone();
                let opts = crate::build::BuildOptions {
                    force: false,
                    quiet: true,
                };
                match tokio::task::spawn_blocking(move || crate::build::build(&p, &opts)).await {
                    Ok(Ok(b)) => b.component,
                    Ok(Err(e)) => return serde_json::json!({"ok": false, "error": e.to_string()}),
                    Err(e) => return serde_json::json!({"ok": false, "error": e.to_string()}),
                }
            } else {
                path
            };
            let events = ctx.swapper.swap_file(&component).await;
            serde_json::json!({"ok": true, "swaps": events})
        }
        Request::Rollback => {
            let events = ctx.swapper.roll_back_last().await;
            serde_json::json!({"ok": true, "swaps": events})
        }
    }
}

fn status(ctx: &Context) -> Status {
    Status {
        pid: std::process::id(),
        plan: ctx.plan.clone(),
        elapsed_s: ctx.started.elapsed().as_secs_f64(),
        active_vus: ctx.live.active.load(Ordering::Relaxed),
        scenarios: ctx
            .swapper
            .deployments()
            .iter()
            .map(|d| {
                let stable = d.stable();
                ScenarioStatus {
                    name: stable.info.name.clone(),
                    version: stable.id().short(),
                    candidate: d.candidate().map(|c| c.id().short()),
                }
            })
            .collect(),
    }
}

/// Sends `r` to the run at `socket` and returns its answer.
pub async fn request(socket: &Path, r: &Request) -> Result<serde_json::Value, String> {
    let conn = UnixStream::connect(socket).await.map_err(|e| {
        format!(
            "{}: {e} (is the run still going? `volley ps` lists runs)",
            socket.display()
        )
    })?;
    let (read, mut write) = conn.into_split();
    let mut text = serde_json::to_string(r).map_err(|e| e.to_string())?;
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(read)
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&line).map_err(|e| format!("bad answer from {}: {e}", socket.display()))
}

/// The sockets of runs in [`runs_dir`], by run id (the process id).
pub fn sockets() -> Vec<(String, PathBuf)> {
    let Some(dir) = runs_dir() else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let run = p.file_stem()?.to_str()?.to_string();
            (p.extension()? == "sock").then_some((run, p))
        })
        .collect();
    out.sort();
    out
}

/// The socket of run `run` (as `volley ps` shows it), or the only run.
pub fn find(run: Option<&str>) -> Result<PathBuf, String> {
    let all = sockets();
    match run {
        Some(r) => all
            .into_iter()
            .find(|(id, _)| id == r)
            .map(|(_, s)| s)
            .ok_or_else(|| format!("no run `{r}` (`volley ps` lists runs by process id)")),
        None => match all.as_slice() {
            [(_, s)] => Ok(s.clone()),
            [] => Err("no run is going (`volley run` opens a control socket)".into()),
            _ => Err("several runs are going: name one by its process id (`volley ps`)".into()),
        },
    }
}
