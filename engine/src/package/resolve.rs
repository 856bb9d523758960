//! From a package reference to a verified component file: tag -> digest
//! through `volley.lock` (or the registry on first use), manifest and
//! component from the cache (or the registry), signature checked when the
//! runner asks, capabilities granted before anything runs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::cmd::RunPackageArgs;
use super::lock::{self, Accepted, Lock};
use super::manifest::{Package, read_package};
use super::oci::{Manifest, Registry};
use super::reference::{Reference, is_oci};
use super::store::Store;
use crate::Error;
use crate::plan::RawPlan;

/// How references are resolved.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lock: PathBuf,
    /// Fail instead of changing the lock file.
    pub locked: bool,
    /// The cache only: no network.
    pub offline: bool,
    /// Refuse packages without a signature that verifies with this key.
    pub require_signed: Option<PathBuf>,
    /// Re-resolve tags even when the lock pins them (`volley pull`).
    pub update: bool,
}

impl Options {
    pub fn from_args(a: &RunPackageArgs) -> Options {
        Options {
            lock: lock::path_of(a.lock.as_deref()),
            locked: a.locked,
            offline: a.offline,
            require_signed: a.require_signed.clone(),
            update: false,
        }
    }
}

/// A package on disk, verified.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The reference as written.
    pub written: String,
    pub reference: Reference,
    /// The manifest digest.
    pub digest: String,
    /// The component file (in the cache, checked against its digest).
    pub component: PathBuf,
    pub package: Option<Package>,
}

impl Fetched {
    pub fn name(&self) -> String {
        self.package
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_else(|| {
                self.reference
                    .repository
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
    }
}

/// A registry connection made only when one is needed: a locked, cached
/// reference makes no request at all.
struct Lazy<'a> {
    r: &'a Reference,
    reg: Option<Registry>,
    offline: bool,
}

impl Lazy<'_> {
    async fn get(&mut self, why: &str) -> Result<&Registry, Error> {
        if self.offline {
            return Err(Error::Config(format!(
                "--offline: {why} needs the registry {}; run once without --offline to cache it",
                self.r.registry
            )));
        }
        if self.reg.is_none() {
            self.reg = Some(Registry::connect(self.r).await);
        }
        Ok(self.reg.as_ref().expect("just connected"))
    }
}

/// Resolves and caches `written`; records its digest in `lock` (the caller
/// saves it).
pub async fn fetch(
    written: &str,
    opts: &Options,
    lock: &mut Lock,
    store: &Store,
) -> Result<Fetched, Error> {
    let r = Reference::parse(written)?;
    let mut net = Lazy {
        r: &r,
        reg: None,
        offline: opts.offline,
    };
    let lock_name = opts.lock.display().to_string();
    let pinned = lock.get(written).map(|e| e.digest.clone());
    let mut fresh_manifest = None;
    let digest = match (&r.digest, pinned) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) if !opts.update => d,
        (None, pinned) => {
            if opts.locked && !opts.update {
                return Err(Error::Config(format!(
                    "--locked: {written} is not in {lock_name}; resolving its tag would change the lock (run once without --locked)"
                )));
            }
            let tag = r.tag.clone().unwrap_or_default();
            let reg = net.get(&format!("resolving the tag of {written}")).await?;
            let Some((bytes, d)) = reg.manifest_at(&r, Some(&tag)).await? else {
                return Err(Error::Config(format!(
                    "{written}: the registry has no tag `{tag}` in {} (push it with `volley push`)",
                    r.repository
                )));
            };
            if opts.locked && pinned.as_deref() != Some(d.as_str()) {
                return Err(Error::Config(format!(
                    "--locked: {written} now resolves to {d}, not the {} in {lock_name}",
                    pinned.unwrap_or_default()
                )));
            }
            fresh_manifest = Some(bytes);
            d
        }
    };
    let pinned_ref = r.pinned(&digest);
    let manifest = match (fresh_manifest, store.get(&digest)?) {
        (Some(bytes), _) => {
            store.put(&digest, &bytes)?;
            bytes
        }
        (None, Some(bytes)) => bytes,
        (None, None) => {
            let reg = net.get(&format!("fetching {written}")).await?;
            let Some((bytes, _)) = reg.manifest(&pinned_ref).await? else {
                return Err(Error::Config(format!(
                    "{written}: the registry has no manifest {digest}"
                )));
            };
            store.put(&digest, &bytes)?;
            bytes
        }
    };
    let m: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| Error::Config(format!("{written}: its manifest is not OCI JSON: {e}")))?;
    let layer = m.wasm_layer(written)?.digest.clone();
    let component = match store.get(&layer)? {
        Some(_) => store.path(&layer)?,
        None => {
            let reg = net.get(&format!("fetching {written}")).await?;
            let bytes = reg.blob(&pinned_ref, &layer).await?;
            store
                .put(&layer, &bytes)
                .map_err(|e| Error::Config(format!("{written}: its component layer: {e}")))?
        }
    };
    if let Some(key) = &opts.require_signed {
        let reg = if opts.offline {
            None
        } else {
            Some(net.get("checking the signature").await?)
        };
        super::sign::verify(reg, store, &r, &digest, key).await?;
    }
    let bytes = std::fs::read(&component)
        .map_err(|e| Error::io(format!("reading {}", component.display()), e))?;
    let package = read_package(&bytes).map_err(|e| Error::Component {
        path: component.clone(),
        message: e.to_string(),
    })?;
    let fetched = Fetched {
        written: written.to_string(),
        reference: r.clone(),
        digest: digest.clone(),
        component,
        package,
    };
    let before = lock.get(written).cloned();
    if before.as_ref().map(|e| e.digest.as_str()) != Some(digest.as_str()) {
        if opts.locked {
            return Err(Error::Config(format!(
                "--locked: {written} is not in {lock_name} at {digest}; running it would change the lock (run once without --locked)"
            )));
        }
        lock.set(written, &fetched.name(), &digest);
    }
    Ok(fetched)
}

/// What the runner must accept for `f`: its network imports, and when its
/// own plan runs, the hosts that plan names.
fn wanted(f: &Fetched, own_plan: bool) -> Accepted {
    let caps = f.package.as_ref().map(|p| p.capabilities.clone());
    let imports = match &caps {
        Some(c) => c.network().into_iter().map(str::to_string).collect(),
        None => std::fs::read(&f.component)
            .ok()
            .and_then(|b| super::manifest::scenario_imports(&b).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|i| super::caps::NETWORK.contains(&i.as_str()))
            .collect(),
    };
    Accepted {
        imports,
        hosts: match (own_plan, caps) {
            (true, Some(c)) => c.hosts,
            _ => Vec::new(),
        },
    }
}

/// Prints what `f` wants, then checks the runner accepted it (the lock
/// entry), asking on a terminal; a non-interactive run fails naming the
/// command that accepts it.
pub fn grant(f: &Fetched, own_plan: bool, lock: &mut Lock, opts: &Options) -> Result<(), Error> {
    let describe = match &f.package {
        Some(p) => p.capabilities.describe(),
        None => format!("imports {}", wanted(f, false).imports.join(", ")),
    };
    eprintln!(
        "package {} ({}{}): wants {describe}",
        f.written,
        f.name(),
        f.package
            .as_ref()
            .map(|p| format!(" {}", p.version))
            .unwrap_or_default()
    );
    let want = wanted(f, own_plan);
    // Acceptance belongs to the code: any entry of the same digest counts
    // (a tag and a digest reference of one package are accepted once).
    let covered = lock
        .packages
        .iter()
        .filter(|e| e.digest == f.digest)
        .filter_map(|e| e.accepted.as_ref())
        .any(|a| {
            want.imports.iter().all(|i| a.imports.contains(i))
                && want.hosts.iter().all(|h| a.hosts.contains(h))
        });
    if covered {
        return Ok(());
    }
    let how = format!(
        "volley accept {}{}",
        f.written,
        if opts.lock == Path::new("volley.lock") {
            String::new()
        } else {
            format!(" --lock {}", opts.lock.display())
        }
    );
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive && !opts.locked {
        eprint!("run it with these capabilities? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        if matches!(line.trim(), "y" | "Y" | "yes") {
            lock.accept(&f.written, full(f));
            return Ok(());
        }
        return Err(Error::Config(format!(
            "{} was not accepted; nothing ran",
            f.written
        )));
    }
    Err(Error::Config(format!(
        "{} ({}) has not been accepted to run here: it wants {describe}. Accept it with `{how}` (recorded in {}), then run again",
        f.written,
        f.digest,
        opts.lock.display()
    )))
}

/// Everything the package asks for (what `volley accept` records).
pub fn full(f: &Fetched) -> Accepted {
    wanted(f, true)
}

/// A package's own plan comes from whoever wrote the package: it may shape
/// the load, never reach the runner's files.
fn check_own_plan(
    plan: &RawPlan,
    written: &str,
    name: &str,
    allow_commands: bool,
) -> Result<(), Error> {
    let refuse = |what: &str| {
        Err(Error::Config(format!(
            "{written}: its plan `{name}` {what}; a package's own plan cannot touch files. Write a plan of your own with `component = \"{written}\"`"
        )))
    };
    if !plan.data.is_empty() {
        return refuse("reads data files ([data])");
    }
    if plan.track.iter().any(|t| t.samples.is_some()) {
        return refuse("writes a samples file ([[track]] samples)");
    }
    if !allow_commands && plan.faults.iter().any(|f| f.command.is_some()) {
        return Err(Error::Config(format!(
            "{written}: its plan `{name}` runs commands ([[fault]] command); a package's own plan may not run commands on this machine. Check them and pass --allow-fault-commands, or write a plan of your own with `component = \"{written}\"`"
        )));
    }
    let mut components = plan
        .scenarios
        .values()
        .filter_map(|s| s.component.as_deref())
        .chain(plan.options.component.as_deref());
    if components.any(|c| !c.is_empty()) {
        return refuse("names a component of its own");
    }
    Ok(())
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    Ok(rt.block_on(f))
}

/// `volley run oci://...`: the package, its plan (`--plan NAME`, else
/// `default`, else none), granted. None when `target` is not a reference.
pub fn open_target(
    target: &Path,
    plan_name: Option<&str>,
    args: &RunPackageArgs,
) -> Result<Option<crate::app::Resolved>, Error> {
    let Some(written) = target.to_str().filter(|t| is_oci(t)) else {
        return Ok(None);
    };
    let opts = Options::from_args(args);
    let store = Store::open();
    let mut lock = Lock::load(&opts.lock)?;
    let before = lock.clone();
    let f = block_on(fetch(written, &opts, &mut lock, &store))??;
    let plans = f.package.as_ref().map(|p| &p.plans);
    let text = match (plan_name, plans) {
        (Some(n), Some(p)) => Some(p.get(n).ok_or_else(|| {
            Error::Config(format!(
                "--plan {n}: {written} has no such plan (it has: {})",
                p.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?),
        (Some(n), None) => {
            return Err(Error::Config(format!(
                "--plan {n}: {written} is a plain component without plans (pack it with `volley pack`)"
            )));
        }
        (None, Some(p)) => p.get("default"),
        (None, None) => None,
    };
    let chosen = plan_name.unwrap_or("default");
    let raw: RawPlan = match text {
        Some(t) => toml::from_str(t).map_err(|e| Error::Plan {
            path: PathBuf::from(format!("{written} plans/{chosen}.toml")),
            message: e.to_string().trim_end().to_string(),
        })?,
        None => RawPlan::default(),
    };
    check_own_plan(&raw, written, chosen, args.allow_fault_commands)?;
    grant(&f, true, &mut lock, &opts)?;
    if lock != before {
        lock.save(&opts.lock)?;
    }
    Ok(Some(crate::app::Resolved {
        raw,
        source: PathBuf::from(written),
        base_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        component: Some(f.component),
        own_sources: false,
    }))
}

/// A plan of the runner's that names packages (`component = "oci://..."`):
/// each is fetched, granted and replaced with its cached file.
pub fn prepare_run(raw: &mut RawPlan, args: &RunPackageArgs) -> Result<(), Error> {
    let mut slots: Vec<&mut Option<String>> = vec![&mut raw.options.component];
    slots.extend(raw.scenarios.values_mut().map(|s| &mut s.component));
    if !slots.iter().any(|c| c.as_deref().is_some_and(is_oci)) {
        return Ok(());
    }
    let opts = Options::from_args(args);
    let store = Store::open();
    let mut lock = Lock::load(&opts.lock)?;
    let before = lock.clone();
    let mut done: Vec<Fetched> = Vec::new();
    for slot in slots {
        let Some(written) = slot.clone().filter(|c| is_oci(c)) else {
            continue;
        };
        let f = match done.iter().find(|f| f.written == written) {
            Some(f) => f.clone(),
            None => {
                let f = block_on(fetch(&written, &opts, &mut lock, &store))??;
                grant(&f, false, &mut lock, &opts)?;
                done.push(f.clone());
                f
            }
        };
        let abs = std::fs::canonicalize(&f.component).unwrap_or(f.component.clone());
        *slot = Some(abs.to_string_lossy().into_owned());
    }
    if lock != before {
        lock.save(&opts.lock)?;
    }
    Ok(())
}

/// `volley inspect oci://...`: the package's component from the cache,
/// fetched when missing (the lock is read, never written: inspecting runs
/// nothing, so nothing needs granting). None for anything else.
pub fn inspect_target(target: &Path) -> Result<Option<PathBuf>, Error> {
    let Some(written) = target.to_str().filter(|t| is_oci(t)) else {
        return Ok(None);
    };
    let opts = Options {
        lock: lock::path_of(None),
        ..Default::default()
    };
    let mut lock = Lock::load(&opts.lock)?;
    let f = block_on(fetch(written, &opts, &mut lock, &Store::open()))??;
    Ok(Some(f.component))
}
