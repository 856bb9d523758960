//! `volley build`: scenario source (a folder or one file) -> component.
//!
//! The language is detected from what the folder holds (`Cargo.toml`, `*.js`,
//! `*.py`, `*.c`) or from the file's extension. Each language is one file that
//! runs its toolchain and returns a wasm binary; this module turns a core
//! module into a component (in-process, with `wit-component`), embeds the
//! metadata (name, version, language, SDK) with `wasm-metadata`, caches by
//! content hash, and names what to install when a toolchain is missing. It
//! runs compilers; it never loads or runs the result.

mod c;
mod js;
mod new;
mod python;
mod rust;

pub use js::options_of as k6_options;
pub use new::scaffold;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::Error;

/// The WIT every guest is built against (the engine's own).
pub const WIT: &str = include_str!("../../../wit/scenario.wit");
/// The version of the SDKs embedded in this engine.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Rebuild even when the sources did not change.
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
    pub lang: Lang,
}

/// A scenario's source language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::Rust, Lang::Python, Lang::Js, Lang::C];

    pub fn parse(s: &str) -> Option<Lang> {
        match s.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Some(Lang::Rust),
            "python" | "py" => Some(Lang::Python),
            "js" | "javascript" | "mjs" => Some(Lang::Js),
            "c" => Some(Lang::C),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }

    /// The name the producers section uses.
    fn producer_name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C11",
        }
    }

    /// Source files of this language (what the content hash covers).
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Lang::Rust => &["rs", "toml"],
            Lang::Python => &["py"],
            // And what `open()` may embed.
            Lang::Js => &["js", "mjs", "json", "csv", "txt", "xml", "html", "bin"],
            Lang::C => &["c", "h"],
        }
    }
}

/// A scenario to build: where, in what, and from which entry file.
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
    pub lang: Lang,
    /// The entry file (JS and Python: the module whose functions are the
    /// entries); C compiles every `.c` of the folder.
    pub entry: Option<PathBuf>,
    /// The component's name (file stem or folder name, or the crate's).
    pub name: String,
    pub version: String,
    /// What `target/volley/<output>.wasm` is called: the name, and for a
    /// single file also its extension (`a.js` and `a.py` may sit side by side).
    pub output: String,
}

fn sanitize(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s
    } else {
        format!("scenario_{s}")
    }
}

/// Files of `dir` (not below) whose extension is one of `exts`, sorted.
fn files_with(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    out.sort();
    out
}

/// The entry among several candidate files: a conventional name, or the
/// only one.
fn pick_entry(dir: &Path, files: &[PathBuf], conventional: &[&str]) -> Result<PathBuf, Error> {
    for name in conventional {
        let p = dir.join(name);
        if files.contains(&p) {
            return Ok(p);
        }
    }
    match files {
        [one] => Ok(one.clone()),
        _ => Err(Error::Build(format!(
            "{}: several source files ({}) and none is called {}; pass the entry file: volley build {}/<file>",
            dir.display(),
            files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", "),
            conventional.join(" or "),
            dir.display()
        ))),
    }
}

/// The folder `file` is in (`.` for a bare file name).
pub fn folder_of(file: &Path) -> &Path {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The language of a scenario source file, by its extension (`.js`,
/// `.mjs`, `.py`, `.c`); none for anything else.
pub fn source_lang(path: &Path) -> Option<Lang> {
    match path.extension().and_then(|e| e.to_str())? {
        "js" | "mjs" => Some(Lang::Js),
        "py" => Some(Lang::Python),
        "c" => Some(Lang::C),
        _ => None,
    }
}

/// Finds what `path` (a folder or a source file) is written in.
pub fn detect(path: &Path) -> Result<Source, Error> {
    if path.is_file() {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let lang = match (source_lang(path), ext) {
            (Some(lang), _) => lang,
            (None, "rs" | "toml") => {
                return Err(Error::Build(format!(
                    "{}: a Rust scenario builds from its folder (the one with Cargo.toml)",
                    path.display()
                )));
            }
            (None, _) => {
                return Err(Error::Build(format!(
                    "{}: not a scenario source (.js, .mjs, .py or .c; a Rust scenario is a folder with Cargo.toml)",
                    path.display()
                )));
            }
        };
        let dir = folder_of(path).to_path_buf();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario");
        return Ok(Source {
            dir,
            lang,
            entry: Some(path.to_path_buf()),
            name: sanitize(stem),
            version: "0.1.0".into(),
            output: format!("{}.{ext}", sanitize(stem)),
        });
    }
    if !path.is_dir() {
        return Err(Error::Build(format!("{}: not a folder", path.display())));
    }
    let folder_name = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "scenario".into());
    let source = |lang, entry| Source {
        dir: path.to_path_buf(),
        lang,
        entry,
        name: sanitize(&folder_name),
        version: "0.1.0".into(),
        output: sanitize(&folder_name),
    };
    if path.join("Cargo.toml").exists() {
        return Ok(source(Lang::Rust, None));
    }
    let js = files_with(path, &["js", "mjs"]);
    let py = files_with(path, &["py"]);
    let c = files_with(path, &["c"]);
    let found = [!js.is_empty(), !py.is_empty(), !c.is_empty()];
    if found.iter().filter(|f| **f).count() > 1 {
        return Err(Error::Build(format!(
            "{}: sources in more than one language (.js: {}, .py: {}, .c: {}); pass the entry file",
            path.display(),
            js.len(),
            py.len(),
            c.len()
        )));
    }
    if !js.is_empty() {
        let mut s = source(
            Lang::Js,
            Some(pick_entry(
                path,
                &js,
                &["scenario.js", "index.js", "main.js", "script.js"],
            )?),
        );
        read_package_json(&mut s);
        return Ok(s);
    }
    if !py.is_empty() {
        return Ok(source(
            Lang::Python,
            Some(pick_entry(
                path,
                &py,
                &["scenario.py", "main.py", "app.py"],
            )?),
        ));
    }
    if !c.is_empty() {
        return Ok(source(Lang::C, None));
    }
    Err(Error::Build(format!(
        "{}: no scenario source found (Cargo.toml, *.js, *.py or *.c); `volley new <dir> --lang rust|python|js|c` makes one",
        path.display()
    )))
}

/// `package.json` names the component and its version, and may name the entry.
fn read_package_json(s: &mut Source) {
    let Ok(text) = std::fs::read_to_string(s.dir.join("package.json")) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    if let Some(n) = v.get("name").and_then(|n| n.as_str()) {
        s.name = sanitize(n.rsplit('/').next().unwrap_or(n));
        s.output = s.name.clone();
    }
    if let Some(ver) = v.get("version").and_then(|n| n.as_str()) {
        s.version = ver.to_string();
    }
    if let Some(main) = v.get("main").and_then(|n| n.as_str()) {
        let p = s.dir.join(main);
        if p.is_file() {
            s.entry = Some(p);
        }
    }
}

/// The plan a single source file brings when no plan is given (a
/// locustfile's users and hosts); none for a plain scenario.
pub fn default_plan(file: &Path) -> Result<Option<crate::plan::RawPlan>, Error> {
    match source_lang(file) {
        Some(Lang::Python) => python::locust_plan(file),
        _ => Ok(None),
    }
}

/// Builds the scenario at `path` (a folder, or a `.js`/`.py`/`.c` file).
pub fn build(path: &Path, opts: &BuildOptions) -> Result<Built, Error> {
    let src = detect(path)?;
    if src.lang == Lang::Rust {
        let out = rust::build(&src.dir, opts)?;
        let src = Source {
            name: out.name.clone(),
            output: out.name.clone(),
            version: out.version.clone(),
            ..src
        };
        let bytes = std::fs::read(&out.wasm)
            .map_err(|e| Error::io(format!("reading {}", out.wasm.display()), e))?;
        let hash = hex(&Sha256::digest(&bytes));
        return finish(&src, &hash, opts, out.toolchain, || Ok(bytes));
    }
    let tool = match src.lang {
        Lang::Python => python::toolchain()?,
        Lang::Js => js::toolchain()?,
        Lang::C => c::toolchain()?,
        Lang::Rust => unreachable!("handled above"),
    };
    let hash = input_hash(&src, &tool.identity)?;
    let stage = out_dir(&src).join(format!("build-{}", src.lang.as_str()));
    let label = tool.label.clone();
    finish(&src, &hash, opts, label, || {
        if stage.exists() {
            std::fs::remove_dir_all(&stage)
                .map_err(|e| Error::io(format!("clearing {}", stage.display()), e))?;
        }
        std::fs::create_dir_all(&stage)
            .map_err(|e| Error::io(format!("creating {}", stage.display()), e))?;
        // Toolchains run in the stage or elsewhere: hand them whole paths.
        let stage = std::fs::canonicalize(&stage)
            .map_err(|e| Error::io(format!("resolving {}", stage.display()), e))?;
        if !opts.quiet {
            eprintln!(
                "building {} ({}) with {}",
                src.dir.display(),
                src.lang.as_str(),
                tool.label
            );
        }
        let wasm = match src.lang {
            Lang::Python => python::build(&src, &tool, &stage, opts)?,
            Lang::Js => js::build(&src, &tool, &stage, opts)?,
            Lang::C => c::build(&src, &tool, &stage, opts)?,
            Lang::Rust => unreachable!("handled above"),
        };
        std::fs::read(&wasm).map_err(|e| Error::io(format!("reading {}", wasm.display()), e))
    })
}

/// A found toolchain.
#[derive(Debug, Clone)]
pub struct Tool {
    /// The program to run.
    pub program: PathBuf,
    /// In words, for progress lines.
    pub label: String,
    /// What the content hash includes (its version).
    pub identity: String,
}

impl Tool {
    /// A toolchain whose version line is both its label and its identity.
    fn versioned(program: PathBuf, version: String) -> Tool {
        Tool {
            label: version.clone(),
            identity: version,
            program,
        }
    }
}

/// The cache folder shared by guest builds (`$XDG_CACHE_HOME/volley` or
/// `~/.cache/volley`).
fn cache_root() -> PathBuf {
    crate::wasm::cache::user_cache_dir().unwrap_or_else(|| std::env::temp_dir().join("volley"))
}

/// Where `./setup.sh` installs guest toolchains (`VOLLEY_TOOLCHAINS` overrides).
pub fn toolchains_dir() -> PathBuf {
    std::env::var_os("VOLLEY_TOOLCHAINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_root().join("toolchains"))
}

/// The first of `candidates` that is an executable file, else `bin` on PATH.
fn find_program(env: &str, candidates: &[PathBuf], bin: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .or_else(|| on_path(bin))
}

fn on_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// `program args` -> its first line of output (a version), if it runs.
fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .lines()
    .next()
    .unwrap_or("")
    .trim()
    .to_string();
    out.status.success().then_some(text)
}

/// Runs a toolchain command; its output is shown live, or only when it
/// fails with `quiet`.
fn run_tool(mut cmd: Command, what: &str, opts: &BuildOptions) -> Result<(), Error> {
    // componentize-py is Rust: a scenario's SyntaxError should not come
    // with the tool's own stack backtrace.
    cmd.stdin(Stdio::null()).env("RUST_BACKTRACE", "0");
    if opts.quiet {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        // stdout is the component's path (scripts read it): the
        // toolchain's chatter goes to stderr.
        cmd.stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit());
    }
    let out = cmd
        .output()
        .map_err(|e| Error::Build(format!("{what}: cannot start {:?}: {e}", cmd.get_program())))?;
    if out.status.success() {
        return Ok(());
    }
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(Error::Build(format!(
        "{what} failed ({}){}",
        out.status,
        if log.trim().is_empty() {
            String::new()
        } else {
            format!(":\n{}", log.trim_end())
        }
    )))
}

/// Writes `file` under `root`, creating folders.
fn write_file(root: &Path, rel: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::write(&path, bytes)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

/// Every source file of the scenario (any depth, outside `target/`,
/// `node_modules/`, `plans/` and hidden folders), relative, sorted.
fn source_files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    fn walk(root: &Path, rel: &Path, exts: &[&str], depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 8 {
            return;
        }
        for e in std::fs::read_dir(root.join(rel))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name();
            let n = name.to_string_lossy();
            let path = rel.join(&name);
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if n.starts_with('.')
                    || ["target", "node_modules", "plans", "__pycache__"].contains(&n.as_ref())
                {
                    continue;
                }
                walk(root, &path, exts, depth + 1, out);
            } else if Path::new(&name)
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), exts, 0, &mut out);
    out.sort();
    out
}

/// The content hash of everything a non-Rust build reads: the sources, the
/// entry, the embedded SDK and WIT, and the toolchain's version.
fn input_hash(src: &Source, tool_identity: &str) -> Result<String, Error> {
    let mut h = Sha256::new();
    for part in [
        SDK_VERSION,
        src.lang.as_str(),
        tool_identity,
        &src.name,
        &src.version,
        WIT,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for (rel, bytes) in sdk_files(src.lang) {
        h.update(rel.as_bytes());
        h.update(bytes);
    }
    if let Some(e) = &src.entry {
        h.update(
            e.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    for rel in source_files(&src.dir, src.lang.extensions()) {
        let path = src.dir.join(&rel);
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

/// The SDK files a language's build stages, relative path and contents.
fn sdk_files(lang: Lang) -> &'static [(&'static str, &'static [u8])] {
    match lang {
        Lang::Python => python::SDK,
        Lang::Js => js::SDK,
        Lang::C => c::SDK,
        Lang::Rust => &[],
    }
}

fn out_dir(src: &Source) -> PathBuf {
    src.dir.join("target").join("volley")
}

/// The folder guest toolchains share their build output in: std for the
/// wasm target is compiled once for every scenario.
pub fn guest_target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VOLLEY_GUEST_TARGET_DIR") {
        return PathBuf::from(d);
    }
    cache_root().join("guest-target")
}

/// Writes `<dir>/target/volley/<name>.wasm` unless the stamp holds `hash`:
/// `produce` gives the toolchain's output (a core module is encoded as a
/// component), then the metadata is embedded.
fn finish(
    src: &Source,
    hash: &str,
    opts: &BuildOptions,
    toolchain: String,
    produce: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> Result<Built, Error> {
    let out_dir = out_dir(src);
    let component = out_dir.join(format!("{}.wasm", src.output));
    let stamp = out_dir.join(format!("{}.sha256", src.output));
    let fresh =
        component.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash);
    if fresh && !opts.force {
        return Ok(Built {
            component,
            toolchain,
            rebuilt: false,
            lang: src.lang,
        });
    }
    let bytes = produce()?;
    let encoded = if wasmparser::Parser::is_component(&bytes) {
        bytes
    } else {
        let adapter = (src.lang == Lang::C).then_some(c::ADAPTER);
        to_component(&bytes, adapter)
            .map_err(|e| Error::Build(format!("{}: {e}", src.dir.display())))?
    };
    let encoded = add_metadata(&encoded, src)
        .map_err(|e| Error::Build(format!("{}: embedding metadata: {e:#}", src.dir.display())))?;
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| Error::io(format!("creating {}", out_dir.display()), e))?;
    std::fs::write(&component, encoded)
        .map_err(|e| Error::io(format!("writing {}", component.display()), e))?;
    std::fs::write(&stamp, hash)
        .map_err(|e| Error::io(format!("writing {}", stamp.display()), e))?;
    Ok(Built {
        component,
        toolchain,
        rebuilt: true,
        lang: src.lang,
    })
}

/// Name, version, language and SDK into the component's own sections.
fn add_metadata(component: &[u8], src: &Source) -> anyhow::Result<Vec<u8>> {
    let mut m = wasm_metadata::AddMetadata::default();
    m.name = wasm_metadata::AddMetadataField::Set(src.name.clone());
    m.language = vec![(src.lang.producer_name().to_string(), String::new())];
    m.processed_by = vec![("volley".to_string(), SDK_VERSION.to_string())];
    m.sdk = vec![(
        format!("volley-sdk-{}", src.lang.as_str()),
        SDK_VERSION.to_string(),
    )];
    m.version =
        wasm_metadata::AddMetadataField::Set(wasm_metadata::Version::new(src.version.clone()));
    m.to_wasm(component)
}

/// What `volley inspect` shows of a component's metadata.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Metadata {
    pub name: Option<String>,
    pub version: Option<String>,
    pub language: Option<String>,
    pub sdk: Option<String>,
    pub processed_by: Vec<String>,
}

/// Reads the metadata `volley build` embeds (and what other tools add).
pub fn read_metadata(bytes: &[u8]) -> Metadata {
    let Ok(payload) = wasm_metadata::Payload::from_binary(bytes) else {
        return Metadata::default();
    };
    let m = payload.metadata();
    let field = |name: &str| -> Vec<String> {
        m.producers
            .as_ref()
            .and_then(|p| p.get(name))
            .map(|f| {
                f.iter()
                    .map(|(n, v)| {
                        if v.is_empty() {
                            n.clone()
                        } else {
                            format!("{n} {v}")
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Metadata {
        name: m.name.clone(),
        version: m.version.as_ref().map(|v| v.to_string()),
        language: field("language").into_iter().next(),
        sdk: field("sdk").into_iter().next(),
        processed_by: field("processed-by"),
    }
}

/// Encodes a core module that embeds its WIT (wit-bindgen does) as a
/// component; `adapter` is the WASI preview1 adapter a module built against
/// wasi-libc needs.
fn to_component(core: &[u8], adapter: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut enc = wit_component::ComponentEncoder::default()
        .module(core)
        .map_err(|e| {
            format!("not a core module with embedded WIT (built with wit-bindgen?): {e:#}")
        })?;
    if let Some(a) = adapter {
        enc = enc
            .adapter("wasi_snapshot_preview1", a)
            .map_err(|e| format!("the WASI preview1 adapter: {e:#}"))?;
    }
    enc.validate(true)
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

    /// A folder holding `files` (path, text), removed when dropped.
    fn folder(name: &str, files: &[(&str, &str)]) -> Folder {
        let dir = std::env::temp_dir().join(format!("volley-detect-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        for (rel, text) in files {
            write_file(&dir, rel, text.as_bytes()).unwrap();
        }
        Folder(dir)
    }

    struct Folder(PathBuf);

    impl std::ops::Deref for Folder {
        type Target = PathBuf;
        fn deref(&self) -> &PathBuf {
            &self.0
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    #[test]
    fn the_language_and_entry_are_found_from_the_folder_or_the_file() {
        let d = folder("rust", &[("Cargo.toml", ""), ("helper.py", "")]);
        assert_eq!(detect(&d).unwrap().lang, Lang::Rust);
        let d = folder(
            "js",
            &[("scenario.js", ""), ("lib.js", ""), ("plans/x.py", "")],
        );
        let s = detect(&d).unwrap();
        assert_eq!((s.lang, s.entry), (Lang::Js, Some(d.join("scenario.js"))));
        let d = folder("two", &[("a.js", ""), ("b.js", "")]);
        let e = detect(&d).unwrap_err().to_string();
        assert!(
            e.contains("a.js, b.js") && e.contains("pass the entry file"),
            "{e}"
        );
        let d = folder("py", &[("load_test.py", "")]);
        let s = detect(&d).unwrap();
        assert_eq!(
            (s.lang, s.entry),
            (Lang::Python, Some(d.join("load_test.py")))
        );
        let d = folder("c", &[("a.c", ""), ("b.c", ""), ("x.h", "")]);
        let s = detect(&d).unwrap();
        assert_eq!((s.lang, s.entry), (Lang::C, None));
        let d = folder(
            "pkg",
            &[
                (
                    "package.json",
                    r#"{"name":"@acme/shop-test","version":"2.1.0","main":"src/run.js"}"#,
                ),
                ("src/run.js", ""),
                ("other.js", ""),
            ],
        );
        let s = detect(&d).unwrap();
        assert_eq!(s.name, "shop_test");
        assert_eq!(s.version, "2.1.0");
        assert_eq!(s.entry, Some(d.join("src/run.js")));
        // A single file: named after its stem, output kept apart per language.
        let s = detect(&d.join("other.js")).unwrap();
        assert_eq!((s.name.as_str(), s.output.as_str()), ("other", "other.js"));
        let e = detect(&d.join("package.json")).unwrap_err().to_string();
        assert!(e.contains("not a scenario source"), "{e}");
    }

    #[test]
    fn the_content_hash_follows_the_sources_not_the_plans() {
        let d = folder("hash", &[("scenario.js", "a"), ("plans/default.toml", "x")]);
        let s = detect(&d).unwrap();
        let first = input_hash(&s, "tool 1").unwrap();
        write_file(&d, "plans/default.toml", b"y").unwrap();
        assert_eq!(input_hash(&s, "tool 1").unwrap(), first);
        assert_ne!(input_hash(&s, "tool 2").unwrap(), first);
        write_file(&d, "lib/util.js", b"b").unwrap();
        assert_ne!(input_hash(&s, "tool 1").unwrap(), first);
    }

    #[test]
    fn what_is_not_a_core_module_is_explained() {
        let e = to_component(b"not wasm at all", None).unwrap_err();
        assert!(e.contains("wit-bindgen"), "{e}");
        // An empty module encodes; the engine then names the missing exports.
        assert!(to_component(b"\0asm\x01\0\0\0", None).is_ok());
    }
}
