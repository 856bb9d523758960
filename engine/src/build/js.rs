//! JavaScript scenarios, with one of two JavaScript engines compiled to
//! wasm: QuickJS through componentize-qjs (the default: host calls cost
//! about a tenth, components are 1.7 MiB, builds take a second) or
//! SpiderMonkey through componentize-js (`VOLLEY_JS_ENGINE=spidermonkey`:
//! the fuller Web platform, e.g. Intl). The scenario exports plain
//! functions the way a k6 script does (`setup`, `default`, other entries,
//! `teardown`); a generated glue module makes them the world's exports.
//! Node.js runs `js_bundle.mjs` first: rolldown bundles the script with its
//! own modules into a function each VU calls at init (k6's init context;
//! nothing of the script runs at build time), `import ... from 'volley'`
//! and k6's modules resolve to the SDK (`sdk/js/volley.js`, `k6.js`), files
//! `open()` names are embedded, and `export const options` is read into
//! `<component>.options.json` for `volley run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use super::{
    BuildOptions, Source, Tool, find_program, on_path, run_tool, toolchains_dir, write_file,
};
use crate::Error;

pub const SDK: &[(&str, &[u8])] = &[
    ("volley.js", include_bytes!("../../../sdk/js/volley.js")),
    ("k6.js", include_bytes!("../../../sdk/js/k6.js")),
    ("loop.js", include_bytes!("../../../sdk/js/loop.js")),
    ("hash.js", include_bytes!("../../../sdk/js/hash.js")),
    (
        "webcrypto.js",
        include_bytes!("../../../sdk/js/webcrypto.js"),
    ),
    ("aes.js", include_bytes!("../../../sdk/js/aes.js")),
    ("digest.js", include_bytes!("../../../sdk/js/digest.js")),
    ("k6crypto.js", include_bytes!("../../../sdk/js/k6crypto.js")),
    ("jslib.js", include_bytes!("../../../sdk/js/jslib.js")),
    ("url.js", include_bytes!("../../../sdk/js/url.js")),
    ("k6ws.js", include_bytes!("../../../sdk/js/k6ws.js")),
    // Not a module of the component: in the content hash, so a change rebuilds.
    ("bundle.mjs", BUNDLER),
];

/// The build's front end, run by Node.js (see the file).
const BUNDLER: &[u8] = include_bytes!("js_bundle.mjs");

/// volley's own build of componentize-qjs's QuickJS runtime, the one
/// `volley build` hands the CLI (`--runtime`): QuickJS with the snapshot's
/// values immortal, so a VU never writes their reference counts and the
/// snapshot's pages stay shared between VUs (about 40% less memory per
/// VU). `sdk/js/runtime/README.md` says what it is built from and how;
/// `VOLLEY_QJS_RUNTIME` picks another.
const RUNTIME: &[u8] = include_bytes!("../../../sdk/js/runtime/quickjs.wasm");

/// The QuickJS runtime a build uses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Runtime {
    /// `RUNTIME`, the default.
    Volley,
    /// The one the componentize-qjs CLI bundles (`VOLLEY_QJS_RUNTIME=cli`).
    Cli,
    /// A runtime file (`VOLLEY_QJS_RUNTIME=<path>`).
    File(PathBuf),
}

impl Runtime {
    fn chosen() -> Result<Runtime, Error> {
        match std::env::var_os("VOLLEY_QJS_RUNTIME") {
            None => Ok(Runtime::Volley),
            Some(v) if v.is_empty() || v == "volley" => Ok(Runtime::Volley),
            Some(v) if v == "cli" => Ok(Runtime::Cli),
            Some(v) => {
                let path = PathBuf::from(&v);
                if path.is_file() {
                    Ok(Runtime::File(path))
                } else {
                    Err(Error::Build(format!(
                        "VOLLEY_QJS_RUNTIME={}: no such file. Use `volley` (the default, \
                         volley's own), `cli` (the one componentize-qjs bundles) or the \
                         path of a runtime .wasm",
                        path.display()
                    )))
                }
            }
        }
    }

    /// Whether it drops an owned handle when its object is freed, so that
    /// the SDK may leave a response's parts in the engine (`send-url-held`,
    /// `send-held`). volley's runtime does; a runtime file does when it was
    /// built from volley's runtime (its class for such handles is named
    /// `ImportedResource`), e.g. a rebuilt one being measured.
    fn drops_handles(&self) -> Result<bool, Error> {
        Ok(match self {
            Runtime::Volley => true,
            Runtime::Cli => false,
            Runtime::File(path) => read(path)?
                .windows(b"ImportedResource".len())
                .any(|w| w == b"ImportedResource"),
        })
    }

    /// What goes into the build's cache key: the runtime's bytes, by hash.
    fn identity(&self) -> Result<String, Error> {
        let short = |bytes: &[u8]| super::hex(&sha2::Sha256::digest(bytes))[..16].to_string();
        Ok(match self {
            Runtime::Volley => format!("volley runtime {}", short(RUNTIME)),
            Runtime::Cli => "its own runtime".into(),
            Runtime::File(path) => format!("runtime {} {}", path.display(), short(&read(path)?)),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

/// The rolldown `./setup.sh` installs (componentize-js 0.23.0 brings the same).
pub const ROLLDOWN_VERSION: &str = "1.3.3";

/// The pinned versions `./setup.sh` installs. componentize-qjs 0.4.4: its
/// wit-dylib writes the metadata volley's runtime (`RUNTIME`) reads. Its
/// own runtime (`VOLLEY_QJS_RUNTIME=cli`) is rquickjs 0.12's QuickJS; 0.4.5's
/// (rquickjs 0.13) allocates from per-size arenas whose pages every VU
/// writes (403 against 346 KiB per sleeping VU: docs/PERFORMANCE.md).
pub const QJS_VERSION: &str = "0.4.4";
pub const VERSION: &str = "0.23.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    QuickJs,
    SpiderMonkey,
}

impl Engine {
    fn chosen() -> Result<Engine, Error> {
        match std::env::var("VOLLEY_JS_ENGINE").as_deref() {
            Err(_) | Ok("") | Ok("quickjs") => Ok(Engine::QuickJs),
            Ok("spidermonkey") => Ok(Engine::SpiderMonkey),
            Ok(other) => Err(Error::Build(format!(
                "VOLLEY_JS_ENGINE={other}: use `quickjs` (the default) or `spidermonkey`"
            ))),
        }
    }

    /// The CLI, its npm package, the pinned version and the override variable.
    fn tool(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Engine::QuickJs => (
                "componentize-qjs",
                "componentize-qjs",
                QJS_VERSION,
                "VOLLEY_COMPONENTIZE_QJS",
            ),
            Engine::SpiderMonkey => (
                "componentize-js",
                "@bytecodealliance/componentize-js",
                VERSION,
                "VOLLEY_COMPONENTIZE_JS",
            ),
        }
    }
}

fn install_help(engine: Engine) -> String {
    let (bin, package, version, env) = engine.tool();
    format!(
        "{bin} (builds JavaScript scenarios) was not found. Install it:\n  \
         npm install --prefix {p} {package}@{version}\n\
         (needs Node.js 18+: apt-get install nodejs npm; or run ./setup.sh; or `npm install` it in the scenario folder, or set {env})",
        p = toolchains_dir().join("js").display()
    )
}

pub fn toolchain() -> Result<Tool, Error> {
    let engine = Engine::chosen()?;
    let (bin, _, _, env) = engine.tool();
    let program = find_program(
        env,
        &[toolchains_dir().join("js/node_modules/.bin").join(bin)],
        bin,
    )
    .ok_or_else(|| Error::Build(install_help(engine)))?;
    let node = on_path("node").ok_or_else(|| {
        Error::Build(format!(
            "{bin} needs Node.js 18+ on PATH: apt-get install nodejs npm"
        ))
    })?;
    let node_version = super::version_of(&node, &["--version"]).unwrap_or_default();
    // The package's own version names the engine build it bundles.
    let pkg = program
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.ancestors()
                .find(|a| a.join("package.json").is_file())
                .map(Path::to_path_buf)
        })
        .and_then(|d| std::fs::read_to_string(d.join("package.json")).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("version")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into());
    let runtime = match engine {
        Engine::QuickJs => format!(", {}", Runtime::chosen()?.identity()?),
        Engine::SpiderMonkey => String::new(),
    };
    Ok(Tool {
        label: format!("{bin} {pkg}{runtime} (node {node_version})"),
        identity: format!("{bin} {pkg}{runtime}"),
        program,
    })
}

/// Where rolldown (the bundler; componentize-js depends on it) is: beside
/// the chosen toolchain, else in the toolchains folder.
fn rolldown_dir(tool: &Tool) -> Result<PathBuf, Error> {
    let beside = tool.program.canonicalize().ok().and_then(|p| {
        p.ancestors()
            .map(|a| a.join("node_modules/rolldown"))
            .find(|d| d.join("dist/index.mjs").is_file())
    });
    let shared = toolchains_dir().join("js/node_modules/rolldown");
    beside
        .or_else(|| shared.join("dist/index.mjs").is_file().then_some(shared))
        .ok_or_else(|| {
            Error::Build(format!(
                "rolldown (bundles JavaScript scenarios) was not found. Install it:\n  \
                 npm install --prefix {p} rolldown@{ROLLDOWN_VERSION}\n(or run ./setup.sh)",
                p = toolchains_dir().join("js").display()
            ))
        })
}

pub fn build(
    src: &Source,
    tool: &Tool,
    stage: &Path,
    opts: &BuildOptions,
) -> Result<PathBuf, Error> {
    let entry = src
        .entry
        .as_ref()
        .ok_or_else(|| Error::Build(format!("{}: no JavaScript entry file", src.dir.display())))?;
    let src_dir = stage.join("src");
    for (rel, bytes) in SDK {
        write_file(&src_dir, rel, bytes)?;
    }
    write_file(stage, "wit/scenario.wit", super::WIT.as_bytes())?;
    // The script and its own modules, bundled into the glue by rolldown:
    // unsupported imports and missing open() files fail here, by name.
    let bundler = write_file(stage, "bundle.mjs", BUNDLER)?;
    let node = on_path("node").ok_or_else(|| {
        Error::Build("volley build needs Node.js 18+ on PATH: apt-get install nodejs npm".into())
    })?;
    // Node runs in the stage: the entry by its whole path.
    let entry_abs = std::fs::canonicalize(entry)
        .map_err(|e| Error::io(format!("resolving {}", entry.display()), e))?;
    let mut cmd = Command::new(node);
    cmd.arg(&bundler)
        .arg(rolldown_dir(tool)?)
        .arg(&entry_abs)
        .arg(stage)
        .current_dir(stage);
    if Engine::chosen()? == Engine::QuickJs && Runtime::chosen()?.drops_handles()? {
        cmd.arg("held");
    }
    run_tool(
        cmd,
        &format!("bundling {}", entry.display()),
        &BuildOptions {
            quiet: true,
            ..opts.clone()
        },
    )?;
    // `export const options`, beside the component for `volley run`.
    let out = super::out_dir(src);
    let kept = options_file(&out.join(format!("{}.wasm", src.output)));
    let read = stage.join("options.json");
    match std::fs::read_to_string(&read) {
        Ok(text) if text.trim() != "null" => {
            std::fs::create_dir_all(&out)
                .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
            std::fs::write(&kept, text)
                .map_err(|e| Error::io(format!("writing {}", kept.display()), e))?;
        }
        _ => {
            std::fs::remove_file(&kept).ok();
        }
    }
    // The stage is the working folder (componentize-js refuses relative
    // paths that leave it).
    let mut cmd = Command::new(&tool.program);
    // World `scenario-summary`: the script's `handleSummary`, if it has one.
    cmd.args(["--wit", "wit", "-n", "scenario-summary", "-o", "out.wasm"]);
    match Engine::chosen()? {
        Engine::QuickJs => {
            cmd.args(["--js", "src/__volley_main.js", "--module-root", "src"]);
            // Plain exports and imports, not the component-model async ABI:
            // the CLI's own runtime by `--sync`, volley's is built that way
            // (the CLI refuses `--sync` with `--runtime`).
            match Runtime::chosen()? {
                Runtime::Volley => {
                    write_file(stage, "runtime.wasm", RUNTIME)?;
                    cmd.args(["--runtime", "runtime.wasm"]);
                }
                Runtime::Cli => {
                    cmd.arg("--sync");
                }
                Runtime::File(path) => {
                    let path = std::fs::canonicalize(&path)
                        .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
                    cmd.arg("--runtime").arg(path);
                }
            }
        }
        Engine::SpiderMonkey => {
            cmd.arg("src/__volley_main.js")
                // The engine offers no wasi:http: the SDK's `http` goes through
                // volley's. (After the source: `--disable` takes several values.)
                .args(["--disable", "http", "fetch-event"]);
        }
    }
    cmd.current_dir(stage);
    let tool_name = tool.label.split(' ').next().unwrap_or("componentize");
    run_tool(cmd, &format!("{tool_name} for {}", entry.display()), opts)?;
    Ok(stage.join("out.wasm"))
}

/// The k6 `options` the build read from the script (`export const
/// options`), kept beside the component: `None` when it exports none.
pub fn options_of(component: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(options_file(component)).ok()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .filter(|v| !v.is_null())
}

/// `<component>.options.json`.
pub fn options_file(component: &Path) -> PathBuf {
    let mut name = component.file_name().unwrap_or_default().to_os_string();
    name.push(".options.json");
    component.with_file_name(name)
}
