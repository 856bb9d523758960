//! `volley build`: scenario source folder -> component.
//!
//! Each language is one file that runs its toolchain and returns a wasm
//! binary; this module turns a core module into a component (in-process,
//! with `wit-component`), caches the result by the content hash of what the
//! toolchain produced, and names what to install when a toolchain is missing.
//! It runs compilers; it never loads or runs the result.

mod new;
mod rust;

pub use new::scaffold;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Re-encode the component even when the toolchain output did not change.
    pub force: bool,
    /// Capture the toolchain's output (shown only when it fails).
    pub quiet: bool,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Built {
    /// The component file.
    pub component: PathBuf,
    /// Which toolchain built it, in words.
    pub toolchain: String,
    /// False when the component was already up to date.
    pub rebuilt: bool,
}

/// Builds the scenario in `dir`.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<Built, Error> {
    if !dir.is_dir() {
        return Err(Error::Build(format!("{}: not a folder", dir.display())));
    }
    if dir.join("Cargo.toml").exists() {
        let out = rust::build(dir, opts)?;
        return finish(dir, &out.name, &out.wasm, out.toolchain, opts);
    }
    Err(Error::Build(format!(
        "{}: no scenario source found (a Rust scenario has a Cargo.toml; Python, JavaScript and C are coming)",
        dir.display()
    )))
}

/// The folder guest toolchains share their build output in: std for the
/// wasm target is compiled once for every scenario.
pub fn guest_target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VOLLEY_GUEST_TARGET_DIR") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("volley").join("guest-target")
}

/// Writes `<dir>/target/volley/<name>.wasm` from the toolchain output `wasm`
/// (a core module is encoded as a component), unless the hash of `wasm`
/// matches the last build.
fn finish(
    dir: &Path,
    name: &str,
    wasm: &Path,
    toolchain: String,
    opts: &BuildOptions,
) -> Result<Built, Error> {
    let bytes =
        std::fs::read(wasm).map_err(|e| Error::io(format!("reading {}", wasm.display()), e))?;
    let out_dir = dir.join("target").join("volley");
    let component = out_dir.join(format!("{name}.wasm"));
    let stamp = out_dir.join(format!("{name}.sha256"));
    let hash = hex(&Sha256::digest(&bytes));
    let fresh =
        component.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash);
    if fresh && !opts.force {
        return Ok(Built {
            component,
            toolchain,
            rebuilt: false,
        });
    }
    let encoded = if wasmparser::Parser::is_component(&bytes) {
        bytes
    } else {
        to_component(&bytes).map_err(|e| Error::Build(format!("{}: {e}", wasm.display())))?
    };
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| Error::io(format!("creating {}", out_dir.display()), e))?;
    std::fs::write(&component, encoded)
        .map_err(|e| Error::io(format!("writing {}", component.display()), e))?;
    std::fs::write(&stamp, &hash)
        .map_err(|e| Error::io(format!("writing {}", stamp.display()), e))?;
    Ok(Built {
        component,
        toolchain,
        rebuilt: true,
    })
}

/// Encodes a core module that embeds its WIT (wit-bindgen does) as a component.
pub fn to_component(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .map_err(|e| {
            format!("not a core module with embedded WIT (built with wit-bindgen?): {e:#}")
        })?
        .validate(true)
        .encode()
        .map_err(|e| format!("cannot be encoded as a component: {e:#}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_scenario() {
        let dir = std::env::temp_dir().join(format!("volley-build-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = build(&dir, &BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no scenario source"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
        let e = build(Path::new("/definitely/not/here"), &BuildOptions::default()).unwrap_err();
        assert!(e.to_string().contains("not a folder"));
    }

    #[test]
    fn what_is_not_a_core_module_is_explained() {
        let e = to_component(b"not wasm at all").unwrap_err();
        assert!(e.contains("wit-bindgen"), "{e}");
        // An empty module encodes; the engine then names the missing exports.
        assert!(to_component(b"\0asm\x01\0\0\0").is_ok());
    }
}
