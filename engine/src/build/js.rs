//! JavaScript scenarios, with one of two JavaScript engines compiled to
//! wasm: QuickJS through componentize-qjs (the default: host calls cost
//! about a tenth, components are 1.7 MiB, builds take a second) or
//! SpiderMonkey through componentize-js (`VOLLEY_JS_ENGINE=spidermonkey`:
//! the fuller Web platform, e.g. Intl). The scenario exports plain
//! functions the way a k6 script does (`setup`, `default`, other entries,
//! `teardown`); a generated glue module makes them the world's exports.
//! `import ... from 'volley'` resolves to the SDK.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{
    BuildOptions, Source, Tool, find_program, on_path, run_tool, source_files, toolchains_dir,
    write_file,
};
use crate::Error;

pub const SDK: &[(&str, &[u8])] = &[("volley.js", include_bytes!("../../../sdk/js/volley.js"))];

/// The pinned versions `./setup.sh` installs.
pub const QJS_VERSION: &str = "0.4.5";
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
    Ok(Tool {
        label: format!("{bin} {pkg} (node {node_version})"),
        identity: format!("{bin} {pkg}"),
        program,
    })
}

/// Points `import ... from 'volley'` at the staged SDK (`depth` folders
/// below the stage's root).
fn rewrite_imports(text: &str, depth: usize) -> String {
    let target = format!(
        "{}volley.js",
        if depth == 0 {
            "./".to_string()
        } else {
            "../".repeat(depth)
        }
    );
    let mut out = text.to_string();
    for q in ['\'', '"'] {
        out = out.replace(
            &format!("from {q}volley{q}"),
            &format!("from {q}{target}{q}"),
        );
        out = out.replace(
            &format!("import {q}volley{q}"),
            &format!("import {q}{target}{q}"),
        );
    }
    out
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
    let root = super::folder_of(entry);
    let src_dir = stage.join("src");
    for rel in source_files(root, &["js", "mjs", "json"]) {
        let from = root.join(&rel);
        let bytes = std::fs::read(&from)
            .map_err(|e| Error::io(format!("reading {}", from.display()), e))?;
        let is_module = rel.extension().is_some_and(|e| e == "js" || e == "mjs");
        let bytes = if is_module {
            let depth = rel.components().count().saturating_sub(1);
            rewrite_imports(&String::from_utf8_lossy(&bytes), depth).into_bytes()
        } else {
            bytes
        };
        write_file(&src_dir, &rel.to_string_lossy(), &bytes)?;
    }
    for (rel, bytes) in SDK {
        write_file(&src_dir, rel, bytes)?;
    }
    write_file(stage, "wit/scenario.wit", super::WIT.as_bytes())?;
    let entry_name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let glue = format!(
        "// Generated by volley build: the world's exports, from the script's.\n\
         import * as scenario from './{entry_name}';\n\
         import {{ __runner }} from './volley.js';\n\
         const runner = __runner(scenario);\n\
         export function setup() {{ return runner.setup(); }}\n\
         export function initVu(data) {{ return runner.initVu(data); }}\n\
         export function run(entry) {{ return runner.run(entry); }}\n\
         export function teardown(data) {{ return runner.teardown(data); }}\n"
    );
    write_file(&src_dir, "__volley_main.js", glue.as_bytes())?;
    // The stage is the working folder (componentize-js refuses relative
    // paths that leave it).
    let mut cmd = Command::new(&tool.program);
    cmd.args(["--wit", "wit", "-n", "scenario", "-o", "out.wasm"]);
    match Engine::chosen()? {
        Engine::QuickJs => {
            cmd.args(["--js", "src/__volley_main.js", "--module-root", "src"])
                // Plain exports and imports, not the component-model async ABI.
                .arg("--sync");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_of_volley_point_at_the_staged_sdk() {
        assert_eq!(
            rewrite_imports(
                "import { http } from 'volley';\nimport x from \"volley\";",
                0
            ),
            "import { http } from './volley.js';\nimport x from \"./volley.js\";"
        );
        assert_eq!(
            rewrite_imports("import 'volley';", 2),
            "import '../../volley.js';"
        );
        assert_eq!(rewrite_imports("from 'volleyball'", 0), "from 'volleyball'");
    }
}
