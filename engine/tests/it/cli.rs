//! The binary: exit codes and messages a user sees.

use std::process::Command;

use crate::support::*;

/// `text` in a file `name`, in a folder of its own (removed when that is
/// dropped).
fn temp(name: &str, text: &[u8]) -> (Scratch, std::path::PathBuf) {
    let dir = scratch("cli", name);
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

#[test]
fn a_malformed_plan_names_the_file_and_field() {
    let (_dir, p) = temp(
        "bad.toml",
        b"[options]\ncomponent = \"x.wasm\"\n[scenarios.a]\nexecutor = \"constant-vus\"\nvus = 2\n",
    );
    let (code, _, err) = volley(&["run", p.to_str().unwrap()]);
    assert_eq!(code, 104, "{err}");
    assert!(
        err.contains("bad.toml") && err.contains("duration"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_wasm_is_refused_clearly() {
    let (_dir, p) = temp("junk.wasm", b"this is not wasm");
    let (code, _, err) = volley(&["run", p.to_str().unwrap()]);
    assert_eq!(code, 107, "{err}");
    assert!(
        err.contains("junk.wasm") && err.contains("not a WebAssembly file"),
        "{err}"
    );
}

#[test]
fn a_component_built_against_wit_0_1_is_told_to_rebuild() {
    // A real component of the previous world, volley:scenario@0.1.0 (how it
    // was made: engine/tests/fixtures/README.md).
    let old = repo().join("engine/tests/fixtures/scenario-0.1.wasm");
    let (code, _, err) = volley(&["run", old.to_str().unwrap(), "-u", "1", "-i", "1"]);
    assert_eq!(code, 107, "{err}");
    assert!(
        err.contains("scenario-0.1.wasm")
            && err.contains("built against volley:scenario@0.1.0")
            && err.contains("volley:scenario@0.2.0")
            && err.contains("volley build --force"),
        "{err}"
    );
}

#[test]
fn inspect_lists_the_world_exports() {
    let c = fixture();
    let (code, out, err) = volley(&["inspect", c.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for e in [
        "setup",
        "init-vu",
        "run",
        "teardown",
        "volley:scenario/http",
    ] {
        assert!(out.contains(e), "{e} missing in {out}");
    }
}

#[test]
fn run_prints_a_summary_and_exports() {
    let c = fixture();
    let export =
        std::env::temp_dir().join(format!("volley-cli-export-{}.json", std::process::id()));
    let (code, out, err) = volley(&[
        "run",
        c.to_str().unwrap(),
        "--iterations",
        "20",
        "--vus",
        "2",
        "--exec",
        "params",
        "-e",
        "expect=x",
        "-e",
        "got=x",
        "--threshold",
        "checks:rate==1",
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("iterations"), "{out}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(doc["metrics"]["iterations"]["values"]["count"], 20.0);
    std::fs::remove_file(&export).ok();
}

#[test]
fn a_failing_threshold_exits_99() {
    let c = fixture();
    let (code, out, err) = volley(&[
        "run",
        c.to_str().unwrap(),
        "--iterations",
        "4",
        "--threshold",
        "iterations:count>100",
        "--quiet",
    ]);
    assert_eq!(code, 99, "{out}\n{err}");
}

#[test]
fn the_example_scenario_folder_runs_with_a_named_plan() {
    let dir = repo().join("scripts/http-ingest");
    let (code, out, err) = volley(&["run", dir.to_str().unwrap(), "--plan", "quick", "--quiet"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("http_req_duration"), "{out}");
    let (code, _, err) = volley(&["run", dir.to_str().unwrap(), "--plan", "nope"]);
    assert_eq!(code, 104);
    assert!(err.contains("quick"), "{err}");
}

#[test]
fn setup_and_teardown_failures_have_their_exit_codes() {
    let c = fixture();
    let (code, _, err) = volley(&[
        "run",
        c.to_str().unwrap(),
        "--exec",
        "empty",
        "-e",
        "fail_setup=1",
        "--quiet",
    ]);
    assert_eq!(code, 107, "{err}");
    assert!(err.contains("setup") && err.contains("fail_setup"), "{err}");
    let (code, out, err) = volley(&[
        "run",
        c.to_str().unwrap(),
        "--exec",
        "empty",
        "--iterations",
        "3",
        "-e",
        "fail_teardown=1",
        "--quiet",
    ]);
    assert_eq!(code, 107, "{out}\n{err}");
    assert!(err.contains("teardown"), "{err}");
    // The summary is still printed: nothing collected is lost.
    assert!(out.contains("iterations"), "{out}");
}

/// k6's codes: 100 when `setup` runs past `setupTimeout`, 101 when
/// `teardown` runs past `teardownTimeout`; the message names the option.
#[test]
fn setup_and_teardown_timeouts_have_their_exit_codes() {
    let c = fixture();
    for (phase, option, code) in [
        ("setup", "setupTimeout", 100),
        ("teardown", "teardownTimeout", 101),
    ] {
        let (_dir, p) = temp(
            &format!("{phase}-timeout.toml"),
            format!(
                "[options]\ncomponent = {:?}\n{option} = \"300ms\"\nparams = {{ {phase}_sleep_ms = \"5000\" }}\n\
                 [scenarios.s]\nexecutor = \"shared-iterations\"\nexec = \"empty\"\niterations = 2\n",
                c.to_str().unwrap()
            )
            .as_bytes(),
        );
        let (got, out, err) = volley(&["run", p.to_str().unwrap(), "--quiet"]);
        assert_eq!(got, code, "{phase}: {out}\n{err}");
        assert!(
            err.contains(phase) && err.contains(option),
            "{phase}: {err}"
        );
    }
}

#[test]
fn a_panic_is_reported_with_its_message_and_location() {
    let c = fixture();
    let (code, out, err) = volley(&[
        "run",
        c.to_str().unwrap(),
        "--exec",
        "trap",
        "-i",
        "2",
        "--quiet",
    ]);
    // Every iteration panicked: the run failed, though no threshold says so.
    assert_eq!(code, 99, "{out}\n{err}");
    assert!(
        err.contains("every iteration failed (2 of 2: trap 2;"),
        "{err}"
    );
    assert!(
        err.contains("iteration trapped: panicked at src/lib.rs:")
            && err.contains(": trap requested"),
        "{err}"
    );
    assert!(!err.contains("unreachable executed"), "{err}");
    // In init-vu too: the error that stops the run names the panic.
    let (code, _, err) = volley(&[
        "run",
        c.to_str().unwrap(),
        "--exec",
        "empty",
        "-e",
        "panic_init=1",
        "--quiet",
    ]);
    assert_eq!(code, 107, "{err}");
    assert!(
        err.contains("panicked at src/lib.rs:") && err.contains("init-vu panics"),
        "{err}"
    );
}

#[test]
fn ctrl_c_finishes_iterations_in_flight_and_still_reports() {
    let c = fixture();
    let export = std::env::temp_dir().join(format!("volley-cli-int-{}.json", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "run",
            c.to_str().unwrap(),
            "--exec",
            "sleep",
            "-e",
            "sleep_ms=500",
            "--vus",
            "3",
            "--duration",
            "60s",
            "--quiet",
            "--summary-export",
            export.to_str().unwrap(),
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Bounded wait: the iterations in flight need at most 500 ms.
    let mut status = None;
    for _ in 0..200 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("volley did not stop within 10 s of Ctrl-C");
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.code(), Some(105), "{stdout}");
    assert!(stdout.contains("iterations"), "{stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    // About three iterations per VU ran before the interrupt; none was cut off.
    let n = doc["metrics"]["iterations"]["values"]["count"]
        .as_f64()
        .unwrap();
    assert!(n >= 3.0, "{n}");
    assert!(doc["metrics"].get("iterations_failed").is_none(), "{doc}");
    std::fs::remove_file(&export).ok();
}

#[test]
fn merge_adds_shards_exactly() {
    let c = fixture();
    let dir = std::env::temp_dir().join(format!("volley-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b, m) = (dir.join("a.json"), dir.join("b.json"), dir.join("m.json"));
    for (path, n) in [(&a, "30"), (&b, "12")] {
        let (code, _, err) = volley(&[
            "run",
            c.to_str().unwrap(),
            "--exec",
            "empty",
            "-i",
            n,
            "-q",
            "--no-summary",
            "--summary-export",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = volley(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    assert_eq!(doc["metrics"]["iterations"]["values"]["count"], 42.0);
    assert_eq!(
        doc["metrics"]["iteration_duration"]["values"]["count"],
        42.0
    );
    let (code, _, err) = volley(&[
        "merge",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
        "-o",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 104, "{err}");
    assert!(err.contains("not a volley summary export"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn new_scaffolds_a_scenario_that_builds_and_runs() {
    let dir = std::env::temp_dir()
        .join(format!("volley-cli-new-{}", std::process::id()))
        .join("first-test");
    let (code, out, err) = volley(&["new", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("plans/default.toml"), "{out}");
    // Its default plan runs against the embedded target; -i keeps it short.
    let (code, out, err) = volley(&["run", dir.to_str().unwrap(), "-i", "5", "-u", "1", "-q"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ status is 201"), "{out}");
    let (code, _, err) = volley(&["new", dir.to_str().unwrap()]);
    assert_eq!(code, 104, "{err}");
    std::fs::remove_dir_all(dir.parent().unwrap()).ok();
}

#[test]
fn every_example_plan_validates() {
    let mut seen = 0;
    for script in std::fs::read_dir(repo().join("scripts")).unwrap() {
        let plans = script.unwrap().path().join("plans");
        let Ok(entries) = std::fs::read_dir(&plans) else {
            continue;
        };
        for p in entries {
            let p = p.unwrap().path();
            let raw = volley::plan::load_plan_file(&p).unwrap_or_else(|e| panic!("{e}"));
            let ov = volley::plan::Overrides {
                component: Some("x.wasm".into()),
                ..Default::default()
            };
            volley::plan::validate(raw, &p, p.parent().unwrap(), &ov)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            seen += 1;
        }
    }
    assert!(seen >= 9, "only {seen} plans found");
}

/// `./volley` (the README's run command) and `./test.sh` build the engine
/// into one target folder: a fresh machine compiles it once, not twice.
#[test]
fn the_volley_wrapper_builds_where_test_sh_builds() {
    let home = std::env::temp_dir().join(format!("volley-wrapper-{}", std::process::id()));
    std::fs::remove_dir_all(&home).ok();
    std::fs::create_dir_all(&home).unwrap();
    // A stand-in for cargo: notes where it was asked to build and leaves a
    // binary there that echoes its arguments.
    let cargo = home.join("fake-cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\nmkdir -p \"$CARGO_TARGET_DIR/release\"\n\
         printf '#!/bin/sh\\necho \"engine ran: $*\"\\n' > \"$CARGO_TARGET_DIR/release/volley\"\n\
         chmod +x \"$CARGO_TARGET_DIR/release/volley\"\necho \"$CARGO_TARGET_DIR\" > \"$HOME/built-in\"\n",
    )
    .unwrap();
    let chmod = Command::new("chmod")
        .arg("+x")
        .arg(&cargo)
        .status()
        .unwrap();
    assert!(chmod.success());
    let out = Command::new(repo().join("volley"))
        .args(["run", "x.js"])
        .env("HOME", &home)
        .env("CARGO", &cargo)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "engine ran: run x.js");
    let wrapper_dir = std::fs::read_to_string(home.join("built-in")).unwrap();
    let test_sh = Command::new("bash")
        .arg("-c")
        .arg("eval \"$(grep -m1 '^export CARGO_TARGET_DIR=' test.sh)\" && echo \"$CARGO_TARGET_DIR\"")
        .current_dir(repo())
        .env("HOME", &home)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let test_sh_dir = String::from_utf8_lossy(&test_sh.stdout);
    assert_eq!(wrapper_dir.trim(), test_sh_dir.trim());
    assert_eq!(
        wrapper_dir.trim(),
        home.join(".cache/volley/target").to_str().unwrap()
    );
    std::fs::remove_dir_all(&home).ok();
}

/// The precompiled cache keeps what fits its budget, least recently used
/// first out: with `VOLLEY_CACHE_MAX_MB=0` only the component compiled last
/// stays; with the default both do.
#[test]
fn the_precompiled_cache_keeps_what_fits_its_budget() {
    let cache = scratch("cli", "cache-budget");
    let a = fixture();
    // The same component with a custom section: other bytes, another entry.
    let variant = |n: u8| {
        let mut bytes = std::fs::read(&a).unwrap();
        bytes.extend_from_slice(&[0, 6, 5, b'v', b'a', b'r', b'i', n]);
        let path = cache.join(format!("variant-{n}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let b = variant(b'b');
    let entries = || {
        std::fs::read_dir(cache.join("components"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
                    .count()
            })
            .unwrap_or(0)
    };
    let run = |wasm: &std::path::Path, budget: Option<&str>| {
        let mut env = vec![("VOLLEY_CACHE_DIR", cache.to_str().unwrap())];
        if let Some(mb) = budget {
            env.push(("VOLLEY_CACHE_MAX_MB", mb));
        }
        let (code, out, err) = volley_with(
            &[
                "run",
                wasm.to_str().unwrap(),
                "--exec",
                "empty",
                "--iterations",
                "1",
                "--quiet",
            ],
            &env,
        );
        assert_eq!(code, 0, "{out}\n{err}");
        err
    };
    run(&a, Some("0"));
    assert_eq!(entries(), 1);
    run(&b, Some("0"));
    assert_eq!(entries(), 1, "the older entry went");
    run(&a, None);
    assert_eq!(entries(), 2, "2 GiB by default: both stay");
    // Read when an entry is written: a component not compiled yet.
    let err = run(&variant(b'c'), Some("lots"));
    assert!(
        err.contains("VOLLEY_CACHE_MAX_MB=\"lots\" is not a whole number of MiB"),
        "{err}"
    );
    std::fs::remove_dir_all(&cache).ok();
}
