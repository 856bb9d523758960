//! Where runs are found on this machine and how a client reaches one: each
//! run's Unix socket (`<run>.sock`) and, when it listens on TCP, an entry
//! beside it (`<run>.tcp`: address and token, readable by the user only).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixListener, UnixStream};

use super::ControlError;
use super::api::{Envelope, Request};

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

/// Binds this run's socket in [`runs_dir`].
pub(super) fn bind() -> Result<(PathBuf, UnixListener), ControlError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = runs_dir().ok_or_else(|| {
        ControlError::NoRun("no folder for the control socket: set VOLLEY_RUNS_DIR".into())
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| ControlError::io(dir.display(), e))?;
    // Only this user may control its runs.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| ControlError::io(dir.display(), e))?;
    // Named by the process id (and a number for a library running several).
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let name = match n {
        0 => std::process::id().to_string(),
        n => format!("{}-{n}", std::process::id()),
    };
    let path = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| ControlError::io(path.display(), e))?;
    Ok((path, listener))
}

/// Writes the TCP entry beside `socket`, readable by the user only.
pub(super) fn write_tcp_entry(
    socket: &Path,
    addr: std::net::SocketAddr,
    token: &str,
) -> Result<PathBuf, ControlError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = socket.with_extension("tcp");
    let text = serde_json::json!({"addr": addr.to_string(), "token": token}).to_string();
    let _ = std::fs::remove_file(&path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| ControlError::io(path.display(), e))?;
    Ok(path)
}

/// A run found on this machine.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id (the process id).
    pub run: String,
    pub socket: PathBuf,
    /// Its TCP address and token, if it listens on TCP.
    pub tcp: Option<(String, String)>,
}

/// The runs in [`runs_dir`], by id.
pub fn entries() -> Vec<Entry> {
    let Some(dir) = runs_dir() else {
        return Vec::new();
    };
    let mut out: Vec<Entry> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let run = p.file_stem()?.to_str()?.to_string();
            (p.extension()? == "sock").then(|| Entry {
                run,
                tcp: read_tcp_entry(&p.with_extension("tcp")),
                socket: p,
            })
        })
        .collect();
    out.sort_by(|a, b| a.run.cmp(&b.run));
    out
}

fn read_tcp_entry(path: &Path) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some((v["addr"].as_str()?.into(), v["token"].as_str()?.into()))
}

/// How a client reaches a run.
#[derive(Debug, Clone)]
pub enum Target {
    Unix(PathBuf),
    Tcp { addr: String, token: Option<String> },
}

/// The run `run` names: a process id (`volley ps`; optional when one run
/// is going) or a TCP address `HOST:PORT`, whose token is `token` or, for a
/// run of this machine, the one in its entry.
pub fn find(run: Option<&str>, token: Option<String>) -> Result<Target, ControlError> {
    let no_run = |m: &str| ControlError::NoRun(m.to_string());
    let all = entries();
    match run {
        Some(r) if r.contains(':') => {
            let token = token.or_else(|| {
                all.iter()
                    .filter_map(|e| e.tcp.clone())
                    .find(|(addr, _)| addr == r)
                    .map(|(_, t)| t)
            });
            Ok(Target::Tcp {
                addr: r.to_string(),
                token,
            })
        }
        Some(r) => all
            .into_iter()
            .find(|e| e.run == r)
            .map(|e| Target::Unix(e.socket))
            .ok_or_else(|| {
                ControlError::NoRun(format!("no run `{r}` (`volley ps` lists runs by process id; HOST:PORT reaches one over TCP)"))
            }),
        None => match all.as_slice() {
            [e] => Ok(Target::Unix(e.socket.clone())),
            [] => Err(no_run(
                "no run is going (`volley run` opens a control socket)",
            )),
            _ => Err(no_run(
                "several runs are going: name one by its process id (`volley ps`)",
            )),
        },
    }
}

/// Sends `r` to the run at `target` and returns its answer.
pub async fn request(target: &Target, r: &Request) -> Result<serde_json::Value, ControlError> {
    match target {
        Target::Unix(socket) => {
            let conn = UnixStream::connect(socket).await.map_err(|e| {
                ControlError::io(
                    format_args!(
                        "{} (is the run still going? `volley ps` lists runs)",
                        socket.display()
                    ),
                    e,
                )
            })?;
            exchange(conn, None, r, &socket.display().to_string()).await
        }
        Target::Tcp { addr, token } => {
            let conn = TcpStream::connect(addr.as_str()).await.map_err(|e| {
                ControlError::io(format_args!("{addr} (is the run still going?)"), e)
            })?;
            exchange(conn, token.clone(), r, addr).await
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    conn: S,
    token: Option<String>,
    r: &Request,
    name: &str,
) -> Result<serde_json::Value, ControlError> {
    let (read, mut write) = tokio::io::split(conn);
    let envelope = Envelope {
        token,
        request: r.clone(),
    };
    let mut text = serde_json::to_string(&envelope).expect("a request serializes");
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(|e| ControlError::io(name, e))?;
    let mut line = String::new();
    BufReader::new(read)
        .read_line(&mut line)
        .await
        .map_err(|e| ControlError::io(name, e))?;
    serde_json::from_str(&line).map_err(|source| ControlError::BadAnswer {
        from: name.to_string(),
        source,
    })
}
