//! Rust scenarios: `cargo build` for `wasm32-wasip2` where rustup has that
//! target, else Debian's `rustc-web` with `-Zbuild-std` for
//! `wasm32-unknown-unknown` (no rustup target is needed).
//!
//! A scenario depends on `volley-sdk = "0.1"`, which is not fetched from a
//! registry: the SDK is embedded in this binary, written once to the user
//! cache, and cargo is pointed at it (`--config patch.crates-io...`), so a
//! scenario folder builds wherever it is, without this checkout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::{BuildOptions, cache_root, guest_target_dir};
use crate::Error;

/// The Rust SDK's sources as this engine was built with them, in the
/// checkout's layout (the SDK finds the WIT at `../../wit`).
const SDK: &[(&str, &[u8])] = &[
    (
        "sdk/rust/Cargo.toml",
        include_bytes!("../../../sdk/rust/Cargo.toml"),
    ),
    (
        "sdk/rust/README.md",
        include_bytes!("../../../sdk/rust/README.md"),
    ),
    (
        "sdk/rust/src/lib.rs",
        include_bytes!("../../../sdk/rust/src/lib.rs"),
    ),
    (
        "sdk/rust/src/http.rs",
        include_bytes!("../../../sdk/rust/src/http.rs"),
    ),
    (
        "sdk/rust/src/kafka.rs",
        include_bytes!("../../../sdk/rust/src/kafka.rs"),
    ),
    (
        "sdk/rust/src/metrics.rs",
        include_bytes!("../../../sdk/rust/src/metrics.rs"),
    ),
    (
        "sdk/rust/src/vu.rs",
        include_bytes!("../../../sdk/rust/src/vu.rs"),
    ),
    (
        "sdk/rust/src/ws.rs",
        include_bytes!("../../../sdk/rust/src/ws.rs"),
    ),
    ("wit/scenario.wit", super::WIT.as_bytes()),
];

/// The crate name scenarios depend on.
const SDK_CRATE: &str = "volley-sdk";

/// Writes the embedded SDK under the user cache (once per SDK content:
/// the folder's name carries its hash) and returns the crate's folder.
fn sdk_crate() -> Result<PathBuf, Error> {
    let mut h = Sha256::new();
    for (rel, bytes) in SDK {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let hash = super::hex(&h.finalize());
    let name = format!("rust-{}-{}", super::SDK_VERSION, &hash[..16]);
    let root = cache_root().join("sdk").join(&name);
    let krate = root.join("sdk/rust");
    if krate.join("Cargo.toml").is_file() {
        return Ok(krate);
    }
    // Written aside, then renamed: a build running at the same time never
    // sees half an SDK (and cargo never sees its files change).
    static STAGES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STAGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stage = root.with_file_name(format!("{name}.tmp{}-{n}", std::process::id()));
    std::fs::remove_dir_all(&stage).ok();
    for (rel, bytes) in SDK {
        super::write_file(&stage, rel, bytes)?;
    }
    if let Err(e) = std::fs::rename(&stage, &root) {
        std::fs::remove_dir_all(&stage).ok();
        if !krate.join("Cargo.toml").is_file() {
            return Err(Error::io(
                format!("writing the Rust SDK to {}", root.display()),
                e,
            ));
        }
    }
    Ok(krate)
}

/// How the scenario's manifest names the SDK.
#[derive(Debug, PartialEq)]
enum SdkDep {
    /// By version (`volley-sdk = "0.1"`): served from the embedded SDK.
    Embedded,
    /// By a path or git source of its own: left alone.
    Own,
    /// Not a dependency (a scenario written against the raw WIT).
    None,
}

/// Reads the manifest's `volley-sdk` dependency; a path that does not exist
/// (a folder copied out of the checkout) is an error that says what to write.
fn sdk_dep(manifest: &Path, doc: &toml::Table) -> Result<SdkDep, Error> {
    let Some(dep) = doc
        .get("dependencies")
        .and_then(|d| d.as_table())
        .and_then(|d| d.get(SDK_CRATE))
    else {
        return Ok(SdkDep::None);
    };
    let Some(table) = dep.as_table() else {
        return Ok(SdkDep::Embedded);
    };
    if let Some(path) = table.get("path").and_then(|p| p.as_str()) {
        let dir = super::folder_of(manifest).join(path);
        if !dir.join("Cargo.toml").is_file() {
            return Err(Error::Build(format!(
                "{}: [dependencies] {SDK_CRATE} points at {}, which has no Cargo.toml. \
                 Write `{SDK_CRATE} = \"0.1\"` instead: volley build provides the SDK",
                manifest.display(),
                dir.display()
            )));
        }
        return Ok(SdkDep::Own);
    }
    Ok(if table.contains_key("git") {
        SdkDep::Own
    } else {
        SdkDep::Embedded
    })
}

pub struct Output {
    pub name: String,
    pub version: String,
    pub wasm: PathBuf,
    pub toolchain: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toolchain {
    /// rustup's toolchain with the wasm32-wasip2 target installed.
    Wasip2,
    /// Debian's rustc-web, cargo-web, rust-web-src and lld-16.
    DebianBuildStd,
}

const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_LINKER: &str = "wasm-ld-16";

const INSTALL_HELP: &str = "no Rust toolchain for wasm found. Install one of:\n  \
    rustup target add wasm32-wasip2\n  \
    apt-get install rustc-web cargo-web rust-web-src lld-16   (Debian 12; or run ./setup.sh)";

fn has_wasip2() -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    !sysroot.is_empty()
        && Path::new(&sysroot)
            .join("lib/rustlib/wasm32-wasip2")
            .is_dir()
}

fn has_debian() -> bool {
    Path::new(DEBIAN_CARGO).exists()
        && Path::new(DEBIAN_RUSTC).exists()
        && Path::new("/usr/lib/rustlib/src/rust/library").is_dir()
        && which(DEBIAN_LINKER)
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

fn choose() -> Result<Toolchain, Error> {
    match std::env::var("VOLLEY_RUST_TOOLCHAIN").as_deref() {
        Ok("wasip2") => return Ok(Toolchain::Wasip2),
        Ok("debian") => return Ok(Toolchain::DebianBuildStd),
        Ok(other) if !other.is_empty() => {
            return Err(Error::Build(format!(
                "VOLLEY_RUST_TOOLCHAIN={other}: use `wasip2` or `debian`"
            )));
        }
        _ => {}
    }
    if has_wasip2() {
        Ok(Toolchain::Wasip2)
    } else if has_debian() {
        Ok(Toolchain::DebianBuildStd)
    } else {
        Err(Error::Build(INSTALL_HELP.into()))
    }
}

/// The crate's name (as the wasm file is called), its version and how it
/// depends on the SDK.
fn package_name(dir: &Path) -> Result<(String, String, SdkDep), Error> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| Error::io(format!("reading {}", manifest.display()), e))?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| Error::Build(format!("{}: {e}", manifest.display())))?;
    let package = doc.get("package").and_then(|p| p.as_table());
    let name = package
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| Error::Build(format!("{}: no [package] name", manifest.display())))?;
    let lib = doc.get("lib").and_then(|l| l.as_table());
    let cdylib = lib
        .and_then(|l| l.get("crate-type"))
        .and_then(|t| t.as_array())
        .is_some_and(|a| a.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        return Err(Error::Build(format!(
            "{}: a scenario crate must be a cdylib: add\n[lib]\ncrate-type = [\"cdylib\"]",
            manifest.display()
        )));
    }
    let version = package
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .unwrap_or("0.1.0")
        .to_string();
    let sdk = sdk_dep(&manifest, &doc)?;
    Ok((name.replace('-', "_"), version, sdk))
}

pub fn build(dir: &Path, opts: &BuildOptions) -> Result<Output, Error> {
    let (name, version, sdk) = package_name(dir)?;
    let toolchain = choose()?;
    let target_dir = guest_target_dir();
    let (mut cmd, triple, label) = match toolchain {
        Toolchain::Wasip2 => {
            let mut c = Command::new("cargo");
            c.args(["build", "--release", "--target", "wasm32-wasip2"]);
            c.env("RUSTFLAGS", "-C link-arg=-zstack-size=65536");
            (c, "wasm32-wasip2", "cargo (wasm32-wasip2)")
        }
        Toolchain::DebianBuildStd => {
            let mut c = Command::new(DEBIAN_CARGO);
            c.args([
                "build",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "-Zbuild-std=std,panic_abort",
            ]);
            c.env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1")
                .env(
                    "RUSTFLAGS",
                    format!("-C linker={DEBIAN_LINKER} -C link-arg=-zstack-size=65536"),
                )
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("RUSTC_WRAPPER")
                .env_remove("RUSTDOC");
            (
                c,
                "wasm32-unknown-unknown",
                "Debian rustc-web (-Zbuild-std)",
            )
        }
    };
    if sdk == SdkDep::Embedded {
        let krate = sdk_crate()?;
        let path = toml::Value::String(krate.display().to_string());
        cmd.arg("--config")
            .arg(format!("patch.crates-io.{SDK_CRATE}.path={path}"));
    }
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS");
    if opts.quiet {
        cmd.arg("--quiet")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit());
        eprintln!("building {} with {label}", dir.display());
    }
    let out = cmd.output().map_err(|e| {
        Error::Build(format!(
            "running cargo for {}: {e}\n{INSTALL_HELP}",
            dir.display()
        ))
    })?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Build(format!(
            "{}: cargo failed ({}){}",
            dir.display(),
            out.status,
            if log.is_empty() {
                String::new()
            } else {
                format!(":\n{log}")
            }
        )));
    }
    let wasm = target_dir
        .join(triple)
        .join("release")
        .join(format!("{name}.wasm"));
    if !wasm.exists() {
        return Err(Error::Build(format!(
            "{}: cargo succeeded but {} is missing (is the crate a cdylib?)",
            dir.display(),
            wasm.display()
        )));
    }
    Ok(Output {
        name,
        version,
        wasm,
        toolchain: label.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_that_is_not_a_cdylib_is_explained() {
        let dir = std::env::temp_dir().join(format!("volley-rust-lib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"x-y\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        let e = package_name(&dir).unwrap_err().to_string();
        assert!(e.contains("cdylib"), "{e}");
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"x-y\"\nversion = \"0.1.0\"\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        assert_eq!(
            package_name(&dir).unwrap(),
            ("x_y".into(), "0.1.0".into(), SdkDep::None)
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_sdk_dependency_is_read_and_a_dangling_path_is_explained() {
        let manifest = Path::new("/nowhere/scenario/Cargo.toml");
        let dep = |text: &str| sdk_dep(manifest, &toml::from_str(text).unwrap());
        assert_eq!(
            dep("[dependencies]\nvolley-sdk = \"0.1\"").unwrap(),
            SdkDep::Embedded
        );
        assert_eq!(
            dep("[dependencies.volley-sdk]\nversion = \"0.1\"").unwrap(),
            SdkDep::Embedded
        );
        assert_eq!(
            dep("[dependencies]\nvolley-sdk = { git = \"https://example.invalid/x\" }").unwrap(),
            SdkDep::Own
        );
        assert_eq!(dep("[dependencies]\nserde = \"1\"").unwrap(), SdkDep::None);
        let e = dep("[dependencies]\nvolley-sdk = { path = \"../../sdk/rust\" }")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nowhere/scenario/Cargo.toml") && e.contains("volley-sdk = \"0.1\""),
            "{e}"
        );
    }

    /// Every file of `sdk/rust/src` is embedded (a module left out would
    /// build here and fail everywhere else).
    #[test]
    fn the_embedded_sdk_is_the_whole_sdk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let src = root.join("sdk/rust/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| format!("sdk/rust/src/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = SDK
            .iter()
            .map(|(rel, _)| rel.to_string())
            .filter(|rel| rel.starts_with("sdk/rust/src/"))
            .collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        for (rel, bytes) in SDK {
            assert_eq!(&std::fs::read(root.join(rel)).unwrap(), bytes, "{rel}");
        }
    }
}
