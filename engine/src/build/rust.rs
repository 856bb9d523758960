//! Rust scenarios: `cargo build` for `wasm32-wasip2` where rustup has that
//! target, else Debian's `rustc-web` with `-Zbuild-std` for
//! `wasm32-unknown-unknown` (no rustup target is needed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{BuildOptions, guest_target_dir};
use crate::Error;

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

/// The crate's name (as the wasm file is called) and version.
fn package_name(dir: &Path) -> Result<(String, String), Error> {
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
    Ok((name.replace('-', "_"), version))
}

pub fn build(dir: &Path, opts: &BuildOptions) -> Result<Output, Error> {
    let (name, version) = package_name(dir)?;
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
        assert_eq!(package_name(&dir).unwrap(), ("x_y".into(), "0.1.0".into()));
        std::fs::remove_dir_all(&dir).ok();
    }
}
