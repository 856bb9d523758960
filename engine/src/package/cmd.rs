//! The package commands (`pack`, `push`, `pull`, `sign`, `verify`,
//! `generate-key-pair`, `accept`) and the `run` flags that resolve package
//! references. Clap types live here so `cli.rs` only names them.

use std::path::{Path, PathBuf};

use clap::Args;

use super::lock::Lock;
use super::manifest::{Package, read_package};
use super::oci::{Registry, package_manifest};
use super::reference::Reference;
use super::resolve::{Options, fetch, full};
use super::store::Store;
use crate::{Error, ExitCode};

/// `volley run` flags for package references (`oci://...`).
#[derive(Debug, Args, Default, Clone)]
pub struct RunPackageArgs {
    /// Fail instead of changing volley.lock (a tag not yet pinned, a new digest).
    #[arg(long)]
    pub locked: bool,
    /// Use only the package cache: no registry requests.
    #[arg(long)]
    pub offline: bool,
    /// The lock file (default: `volley.lock` in the current folder).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Refuse packages without a signature that verifies with this public
    /// key (cosign's PEM format).
    #[arg(long, value_name = "KEY")]
    pub require_signed: Option<PathBuf>,
    /// Let a package's own plan run the commands of its `[[fault]]`
    /// entries (refused by default: a package's plan is not the runner's).
    #[arg(long)]
    pub allow_fault_commands: bool,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The scenario folder.
    pub dir: PathBuf,
    /// Where to write the package (default: `<dir>/target/volley/NAME-VERSION.pkg.wasm`).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// A package (`.wasm`) or a scenario folder (packed first).
    pub source: PathBuf,
    /// Where to: `oci://HOST[:PORT]/NAMESPACE/NAME:TAG`.
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// `oci://HOST/NAMESPACE/NAME:TAG` or `...@sha256:DIGEST`.
    pub reference: String,
    /// Also copy the component here.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The lock file to record the digest in (default: `volley.lock`).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Refuse it unless a signature verifies with this public key.
    #[arg(long, value_name = "KEY")]
    pub require_signed: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The package to sign (its tag is resolved to the digest signed).
    pub reference: String,
    /// The private key (`volley generate-key-pair`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The package whose signature to check.
    pub reference: String,
    /// The public key (PEM, as `cosign.pub`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

#[derive(Debug, Args)]
pub struct KeyPairArgs {
    /// Writes PREFIX.key (private) and PREFIX.pub.
    #[arg(long, default_value = "volley", value_name = "PREFIX")]
    pub output_key_prefix: PathBuf,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The package whose capabilities to accept.
    pub reference: String,
    /// The lock file to record the acceptance in (default: `volley.lock`).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Use only the package cache.
    #[arg(long)]
    pub offline: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}

/// Lines `volley inspect` prints for a package.
pub fn describe(pkg: &Package) -> Vec<String> {
    let mut out = Vec::new();
    let mut put = |label: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push(format!("{label:<12} {v}"));
        }
    };
    put("package:", Some(&format!("{} {}", pkg.name, pkg.version)));
    put("description:", pkg.description.as_deref());
    put("authors:", Some(&pkg.authors.join(", ")));
    put("license:", pkg.license.as_deref());
    put("source:", pkg.source.as_deref());
    put("homepage:", pkg.homepage.as_deref());
    put("wants:", Some(&pkg.capabilities.describe()));
    if !pkg.params.is_empty() {
        out.push("parameters:".into());
        for p in &pkg.params {
            let mut line = format!("  {}", p.name);
            if let Some(d) = &p.default {
                line.push_str(&format!(" = {d:?}"));
            }
            if let Some(d) = &p.description {
                line.push_str(&format!("  {d}"));
            }
            out.push(line);
        }
    }
    if !pkg.plans.is_empty() {
        out.push("plans:".into());
        for (name, text) in &pkg.plans {
            let about = toml::from_str::<crate::plan::RawPlan>(text)
                .ok()
                .and_then(|p| p.description)
                .unwrap_or_default();
            out.push(format!("  {name:<10} {about}").trim_end().to_string());
        }
    }
    out
}

pub fn cmd_pack(args: PackArgs) -> Result<ExitCode, Error> {
    let (path, pkg) = super::pack(&args.dir, args.output.as_deref(), false)?;
    for line in describe(&pkg) {
        eprintln!("{line}");
    }
    println!("{}", path.display());
    Ok(ExitCode::Ok)
}

/// The component to push: a package file, or a folder packed now.
fn package_bytes(source: &Path) -> Result<(Vec<u8>, Option<Package>), Error> {
    let file = if source.is_dir() {
        super::pack(source, None, false)?.0
    } else {
        source.to_path_buf()
    };
    let bytes =
        std::fs::read(&file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
    let pkg = read_package(&bytes).map_err(|e| Error::Component {
        path: file.clone(),
        message: e.to_string(),
    })?;
    Ok((bytes, pkg))
}

pub fn cmd_push(args: PushArgs) -> Result<ExitCode, Error> {
    let r = Reference::parse(&args.reference)?;
    let Some(tag) = r.tag.clone().filter(|_| r.digest.is_none()) else {
        return Err(Error::Config(format!(
            "{}: push to a tag (`oci://HOST/NS/NAME:1.2.0`), not a digest",
            args.reference
        )));
    };
    let (bytes, pkg) = package_bytes(&args.source)?;
    let (manifest, config) = package_manifest(&bytes, pkg.as_ref());
    let digest = runtime()?.block_on(async {
        let reg = Registry::connect(&r).await;
        reg.push(&r, &tag, &[&bytes, &config], &manifest).await
    })?;
    // What was pushed is cached too: a run right after needs no download.
    let store = Store::open();
    store.put(&digest, &manifest)?;
    store.put(&super::store::digest_of(&bytes), &bytes)?;
    eprintln!(
        "pushed {} ({} bytes{})",
        args.reference,
        bytes.len(),
        pkg.map(|p| format!(", {} {}", p.name, p.version))
            .unwrap_or_default()
    );
    println!("{}@{digest}", args.reference);
    Ok(ExitCode::Ok)
}

pub fn cmd_pull(args: PullArgs) -> Result<ExitCode, Error> {
    let opts = Options {
        lock: super::lock::path_of(args.lock.as_deref()),
        require_signed: args.require_signed.clone(),
        update: true,
        ..Default::default()
    };
    let store = Store::open();
    let mut lock = Lock::load(&opts.lock)?;
    let f = runtime()?.block_on(fetch(&args.reference, &opts, &mut lock, &store))?;
    lock.save(&opts.lock)?;
    if let Some(out) = &args.output {
        std::fs::copy(&f.component, out)
            .map_err(|e| Error::io(format!("writing {}", out.display()), e))?;
    }
    if let Some(p) = &f.package {
        eprintln!(
            "{} {}: wants {}",
            p.name,
            p.version,
            p.capabilities.describe()
        );
    }
    println!("{}@{}", args.reference, f.digest);
    Ok(ExitCode::Ok)
}

/// The manifest digest `r` names now (asking the registry for a tag).
async fn digest_now(reg: &Registry, r: &Reference) -> Result<String, Error> {
    if let Some(d) = &r.digest {
        return Ok(d.clone());
    }
    match reg.manifest(r).await? {
        Some((_, d)) => Ok(d),
        None => Err(Error::Config(format!("{r}: no such tag in the registry"))),
    }
}

pub fn cmd_sign(args: SignArgs) -> Result<ExitCode, Error> {
    let r = Reference::parse(&args.reference)?;
    let (digest, tag) = runtime()?.block_on(async {
        let reg = Registry::connect(&r).await;
        let digest = digest_now(&reg, &r).await?;
        let tag = super::sign::sign(&reg, &r, &digest, &args.key).await?;
        Ok::<_, Error>((digest, tag))
    })?;
    println!(
        "signed {}@{digest} (signature at the tag {tag})",
        r.repo_path()
    );
    Ok(ExitCode::Ok)
}

pub fn cmd_verify(args: VerifyArgs) -> Result<ExitCode, Error> {
    let r = Reference::parse(&args.reference)?;
    let digest = runtime()?.block_on(async {
        let reg = Registry::connect(&r).await;
        let digest = digest_now(&reg, &r).await?;
        super::sign::verify(Some(&reg), &Store::open(), &r, &digest, &args.key).await?;
        Ok::<_, Error>(digest)
    })?;
    println!(
        "verified {}@{digest} with {}",
        r.repo_path(),
        args.key.display()
    );
    Ok(ExitCode::Ok)
}

pub fn cmd_key_pair(args: KeyPairArgs) -> Result<ExitCode, Error> {
    let (key, public) = super::sign::generate_key_pair(&args.output_key_prefix)?;
    println!("private key: {} (keep it secret)", key.display());
    println!(
        "public key:  {} (give it to who runs your packages: --require-signed)",
        public.display()
    );
    Ok(ExitCode::Ok)
}

pub fn cmd_accept(args: AcceptArgs) -> Result<ExitCode, Error> {
    let opts = Options {
        lock: super::lock::path_of(args.lock.as_deref()),
        offline: args.offline,
        ..Default::default()
    };
    let store = Store::open();
    let mut lock = Lock::load(&opts.lock)?;
    let f = runtime()?.block_on(fetch(&args.reference, &opts, &mut lock, &store))?;
    let accepted = full(&f);
    lock.accept(&f.written, accepted.clone());
    lock.save(&opts.lock)?;
    let what = match &f.package {
        Some(p) => p.capabilities.describe(),
        None => format!("imports {}", accepted.imports.join(", ")),
    };
    println!(
        "accepted {} ({}) in {}: {what}",
        f.written,
        f.digest,
        opts.lock.display()
    );
    Ok(ExitCode::Ok)
}
