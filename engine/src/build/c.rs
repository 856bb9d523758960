//! C scenarios: clang for `wasm32-wasi` with wasi-libc, the generated
//! bindings (`sdk/c/gen`, from `wit/` by wit-bindgen) and the SDK's thin
//! layer; the module is wrapped into a component with the WASI preview1
//! reactor adapter.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{BuildOptions, Source, Tool, files_with, find_program, run_tool, write_file};
use crate::Error;

pub const SDK: &[(&str, &[u8])] = &[
    ("volley.h", include_bytes!("../../../sdk/c/volley.h")),
    ("volley.c", include_bytes!("../../../sdk/c/volley.c")),
    (
        "scenario.h",
        include_bytes!("../../../sdk/c/gen/scenario.h"),
    ),
    (
        "scenario.c",
        include_bytes!("../../../sdk/c/gen/scenario.c"),
    ),
    (
        "scenario_component_type.o",
        include_bytes!("../../../sdk/c/gen/scenario_component_type.o"),
    ),
];

/// wasi-libc targets preview1; the adapter maps it onto the preview2 WASI
/// the engine offers.
pub const ADAPTER: &[u8] =
    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

const INSTALL_HELP: &str = "clang for wasm32-wasi was not found. Install it:\n  \
    apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32   (Debian 12; or run ./setup.sh)\n\
    (or set VOLLEY_CLANG to a clang that targets wasm32-wasi, with VOLLEY_WASI_SYSROOT)";

pub fn toolchain() -> Result<Tool, Error> {
    let program = find_program(
        "VOLLEY_CLANG",
        &[PathBuf::from("/usr/bin/clang-16")],
        "clang",
    )
    .ok_or_else(|| Error::Build(INSTALL_HELP.into()))?;
    let version = super::version_of(&program, &["--version"]).ok_or_else(|| {
        Error::Build(format!(
            "{} does not run.\n{INSTALL_HELP}",
            program.display()
        ))
    })?;
    if std::env::var_os("VOLLEY_WASI_SYSROOT").is_none()
        && !Path::new("/usr/lib/wasm32-wasi/libc.a").exists()
    {
        return Err(Error::Build(format!(
            "wasi-libc is missing.\n{INSTALL_HELP}"
        )));
    }
    Ok(Tool::versioned(program, version))
}

pub fn build(
    src: &Source,
    tool: &Tool,
    stage: &Path,
    opts: &BuildOptions,
) -> Result<PathBuf, Error> {
    let sources = match &src.entry {
        // One file names itself; a folder compiles all its .c files.
        Some(e) => vec![e.clone()],
        None => files_with(&src.dir, &["c"]),
    };
    let sdk = stage.join("sdk");
    for (rel, bytes) in SDK {
        write_file(&sdk, rel, bytes)?;
    }
    let out = stage.join("out.wasm");
    let mut cmd = Command::new(&tool.program);
    cmd.args([
        "--target=wasm32-wasi",
        "-mexec-model=reactor",
        "-O2",
        "-std=c11",
        "-Wall",
    ])
    .arg("-I")
    .arg(&sdk)
    .arg("-I")
    .arg(&src.dir);
    if let Some(root) = std::env::var_os("VOLLEY_WASI_SYSROOT") {
        cmd.arg("--sysroot").arg(root);
    }
    cmd.args(&sources)
        .arg(sdk.join("volley.c"))
        .arg(sdk.join("scenario.c"))
        .arg(sdk.join("scenario_component_type.o"))
        .arg("-o")
        .arg(&out);
    run_tool(cmd, &format!("clang for {}", src.dir.display()), opts)?;
    Ok(out)
}
