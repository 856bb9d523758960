//! Random components through the binary: `volley inspect` and a short
//! `volley run` on each must end, within a bound, with a documented exit
//! code and a clear error line, never a panic.
//!
//! The inputs come from the `wasm-tools` CLI (setup.sh installs it; not a
//! crate dependency, which would change wasmtime's features): modules
//! `wasm-tools smith` makes from seeded random bytes, wrapped as components
//! of volley's world where they fit (random function bodies behind the real
//! imports and exports), plain core modules, random bytes behind a
//! component header, and a real component truncated or with bytes flipped.
//! The seed is fixed; `VOLLEY_FUZZ_SEED` and `VOLLEY_FUZZ_CASES` change it.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Cases per run unless `VOLLEY_FUZZ_CASES` says otherwise.
const CASES: u64 = 200;
/// No single `volley` call may take longer (a hang is a failure).
const BOUND: Duration = Duration::from_secs(60);
/// Exit codes the README documents for these commands (101, a teardown
/// past its timeout, is also what a Rust panic exits with: it counts only
/// with its error line).
const DOCUMENTED: [i32; 7] = [0, 1, 99, 100, 101, 104, 107];
/// The run's plan: one iteration, and random code that sleeps or loops in
/// `setup`, an iteration or `teardown` is stopped well within [`BOUND`].
const PLAN: &str = r#"[options]
setupTimeout = "5s"
teardownTimeout = "5s"
iterationTimeout = "5s"

[scenarios.default]
executor = "shared-iterations"
vus = 1
iterations = 1
"#;
/// What wasm-smith may use: what volley's wasmtime accepts (reference types
/// off: wasm-smith's encoding of them reads as GC types to wasmtime).
const SMITH_CONFIG: &str = r#"{"reference-types-enabled": false, "gc-enabled": false,
 "exceptions-enabled": false, "threads-enabled": false, "wide-arithmetic-enabled": false,
 "memory64-enabled": false, "compact-imports-enabled": false, "custom-page-sizes-enabled": false}"#;

/// SplitMix64: the same cases for the same seed, on any machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The wasm-tools binary: `VOLLEY_WASM_TOOLS`, setup.sh's, or on the PATH.
fn wasm_tools() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let candidates = [
        std::env::var_os("VOLLEY_WASM_TOOLS").map(PathBuf::from),
        home.map(|h| h.join(".cache/volley/wasm-tools/bin/wasm-tools")),
        Some(PathBuf::from("wasm-tools")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `wasm-tools ARGS`; true when it succeeded.
fn tool(wt: &Path, args: &[&Path]) -> bool {
    Command::new(wt)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The generators' fixed inputs.
struct Kit {
    wt: PathBuf,
    dir: PathBuf,
    wit: PathBuf,
    /// A core module with the world's imports and exports (wasm-smith's
    /// template for them).
    dummy: PathBuf,
    config: PathBuf,
    real: Vec<u8>,
}

impl Kit {
    fn new(wt: PathBuf, dir: PathBuf) -> Kit {
        let wit = repo().join("wit");
        let dummy = dir.join("dummy.wasm");
        let p = |s: &str| PathBuf::from(s);
        assert!(
            tool(
                &wt,
                &[
                    &p("component"),
                    &p("embed"),
                    &p("--dummy"),
                    // The package has two worlds; `scenario` is what every
                    // component implements.
                    &p("--world"),
                    &p("scenario"),
                    &wit,
                    &p("-o"),
                    &dummy
                ]
            ),
            "wasm-tools component embed --dummy {} failed",
            wit.display()
        );
        let config = dir.join("smith.json");
        std::fs::write(&config, SMITH_CONFIG).unwrap();
        let real = std::fs::read(fixture()).unwrap();
        Kit {
            wt,
            dir,
            wit,
            dummy,
            config,
            real,
        }
    }

    /// A module wasm-smith makes from `seed` bytes; with the world's shape
    /// when `world`. None when wasm-smith declines the seed.
    fn smith(&self, rng: &mut Rng, world: bool, out: &Path) -> Option<()> {
        let seed = self.dir.join("seed");
        let n = 200 + rng.below(4000) as usize;
        std::fs::write(&seed, rng.bytes(n)).unwrap();
        let p = |s: &str| PathBuf::from(s);
        let mut args = vec![p("smith"), p("-c"), self.config.clone()];
        if world {
            args.extend([p("--exports"), self.dummy.clone()]);
            args.extend([p("--available-imports"), self.dummy.clone()]);
            args.push(p("--ensure-termination"));
        }
        args.extend([seed, p("-o"), out.to_path_buf()]);
        let refs: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
        tool(&self.wt, &refs).then_some(())
    }

    /// A smith module wrapped as a component of volley's world; the bare
    /// module when the wrap does not apply.
    fn world_component(&self, rng: &mut Rng, out: &Path) -> Option<&'static str> {
        let module = self.dir.join("module.wasm");
        self.smith(rng, true, &module)?;
        let embedded = self.dir.join("embedded.wasm");
        let p = |s: &str| PathBuf::from(s);
        let wrapped = tool(
            &self.wt,
            &[
                &p("component"),
                &p("embed"),
                &p("--world"),
                &p("scenario"),
                &self.wit,
                &module,
                &p("-o"),
                &embedded,
            ],
        ) && tool(
            &self.wt,
            &[&p("component"), &p("new"), &embedded, &p("-o"), out],
        );
        if wrapped {
            Some("smith component")
        } else {
            std::fs::copy(&module, out).unwrap();
            Some("smith module (wrap failed)")
        }
    }

    /// Case `i`: writes it to `out`; what kind it is.
    fn case(&self, i: u64, rng: &mut Rng, out: &Path) -> &'static str {
        match i % 5 {
            0 | 1 => self
                .world_component(rng, out)
                .unwrap_or_else(|| self.noise(rng, out)),
            2 => match self.smith(rng, false, out) {
                Some(()) => "smith core module",
                None => self.noise(rng, out),
            },
            3 => {
                let cut = 8 + rng.below(self.real.len() as u64 - 8) as usize;
                std::fs::write(out, &self.real[..cut]).unwrap();
                "truncated component"
            }
            _ => {
                let mut bytes = self.real.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = 8 + rng.below(bytes.len() as u64 - 8) as usize;
                    bytes[at] = rng.next() as u8;
                }
                std::fs::write(out, bytes).unwrap();
                "component with bytes changed"
            }
        }
    }

    /// Random bytes behind a component's header.
    fn noise(&self, rng: &mut Rng, out: &Path) -> &'static str {
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        let n = rng.below(2048) as usize;
        bytes.extend(rng.bytes(n));
        std::fs::write(out, bytes).unwrap();
        "random bytes"
    }
}

/// What one `volley` call did, or why it is a failure.
fn bounded(args: &[&str], cache: &Path) -> Result<i32, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("VOLLEY_CACHE_DIR", cache)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("volley starts");
    // Read stderr on a thread: a full pipe must not stall the child.
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut s).ok();
        s
    });
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap();
    let tail = || stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
    let Some(code) = status.map(|s| s.code()) else {
        return Err(format!("still running after {BOUND:?}: {}", tail()));
    };
    let Some(code) = code else {
        return Err(format!("killed by a signal: {}", tail()));
    };
    if stderr.contains("panicked at") {
        return Err(format!("panicked (exit {code}): {}", tail()));
    }
    if !DOCUMENTED.contains(&code) {
        return Err(format!("exit {code} is not documented: {}", tail()));
    }
    if code == 101 && !stderr.contains("`teardown` ran past") {
        return Err(format!("exit 101 is not a teardown timeout: {}", tail()));
    }
    // `error: ` when it could not run, `volley: ` when the run failed.
    let clear = |l: &str| (l.starts_with("error: ") || l.starts_with("volley: ")) && l.len() > 12;
    if code != 0 && !stderr.lines().any(clear) {
        return Err(format!("exit {code} without an error line: {}", tail()));
    }
    Ok(code)
}

#[test]
fn random_components_never_panic_or_hang_inspect_or_run() {
    let Some(wt) = wasm_tools() else {
        eprintln!(
            "SKIPPED: wasm-tools is missing (./setup.sh installs it into ~/.cache/volley/wasm-tools)"
        );
        return;
    };
    let dir = scratch("robust", "random");
    let cache = dir.join("cache");
    let kit = Kit::new(wt, dir.clone());
    let seed = env_u64("VOLLEY_FUZZ_SEED", 0x766f_6c6c_6579);
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let mut seen: std::collections::BTreeMap<String, u64> = Default::default();
    for i in 0..env_u64("VOLLEY_FUZZ_CASES", CASES) {
        let file = dir.join(format!("case-{i}.wasm"));
        let kind = kit.case(i, &mut rng, &file);
        let f = file.to_str().unwrap();
        let plan = dir.join("plan.toml");
        let component = format!("component = {f:?}\n");
        std::fs::write(
            &plan,
            PLAN.replacen("[options]\n", &format!("[options]\n{component}"), 1),
        )
        .unwrap();
        let p = plan.to_str().unwrap();
        let calls: [&[&str]; 2] = [&["inspect", f], &["run", p, "--quiet"]];
        for args in calls {
            match bounded(args, &cache) {
                Ok(code) => *seen.entry(format!("{kind}: exit {code}")).or_default() += 1,
                Err(why) => failures.push(format!("case {i} ({kind}), volley {}: {why}", args[0])),
            }
        }
        if failures.is_empty() {
            std::fs::remove_file(&file).ok();
        }
    }
    eprintln!("seed {seed:#x}: {seen:#?}");
    assert!(
        failures.is_empty(),
        "{} failures (cases kept in {}):\n{}",
        failures.len(),
        dir.display(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&dir).ok();
}
