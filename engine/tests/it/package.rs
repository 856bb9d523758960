//! Packages against a real registry: Debian's `docker-registry`
//! (distribution v2) started on a free loopback port per test, with its own
//! storage and volley's own package cache, stopped at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{repo, scratch, volley_with};

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A registry process on loopback, removed with its storage when dropped.
struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
}

impl Registry {
    fn start(dir: &Path) -> Registry {
        assert!(
            Path::new(REGISTRY).exists(),
            "{REGISTRY} is missing: run ./setup.sh (it installs Debian's docker-registry)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let storage = dir.join("registry");
        std::fs::create_dir_all(&storage).unwrap();
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY)
            .args(["serve", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        // Bounded wait for it to listen.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            port,
            storage,
        }
    }

    fn reference(&self, repo: &str, tag: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo}:{tag}", self.port)
    }

    /// The file the registry keeps blob `digest` in.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// volley with its own package cache and lock file in `dir`.
fn pv(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let cache = dir.join("cache");
    let lock = dir.join("volley.lock");
    let mut all: Vec<&str> = args.to_vec();
    if matches!(args[0], "run" | "pull" | "accept") {
        all.extend(["--lock", lock.to_str().unwrap()]);
    }
    volley_with(&all, &[("VOLLEY_CACHE_DIR", cache.to_str().unwrap())])
}

fn digest_in(out: &str) -> String {
    let at = out.rfind("@sha256:").expect("a digest in the output");
    out[at + 1..at + 1 + 71].to_string()
}

fn pack_http_ingest(dir: &Path) -> PathBuf {
    let out = dir.join("http-ingest.pkg.wasm");
    let folder = repo().join("scripts/http-ingest");
    let (code, _, err) = pv(
        dir,
        &[
            "pack",
            folder.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    out
}

fn iterations(export: &Path) -> (f64, f64) {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export).unwrap()).unwrap();
    let count = |m: &str| {
        doc["metrics"]
            .get(m)
            .map_or(0.0, |v| v["values"]["count"].as_f64().unwrap_or(0.0))
    };
    (count("iterations"), count("iterations_failed"))
}

fn run_package(dir: &Path, reference: &str, extra: &[&str]) -> (i32, String, String) {
    let export = dir.join("export.json");
    std::fs::remove_file(&export).ok();
    let mut args = vec![
        "run",
        reference,
        "--iterations",
        "20",
        "--vus",
        "2",
        "--quiet",
        "--no-summary",
        "--summary-export",
        export.to_str().unwrap(),
    ];
    args.extend(extra);
    pv(dir, &args)
}

#[test]
fn pack_embeds_metadata_params_plans_and_capabilities() {
    let dir = scratch("package", "pack");
    let pkg = pack_http_ingest(&dir);
    let (code, out, err) = pv(&dir, &["inspect", pkg.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p = &v["package"];
    assert_eq!(p["name"], "http_ingest", "{p}");
    assert_eq!(p["version"], "0.1.0");
    assert_eq!(
        p["description"],
        "POST chat messages to an ingest API and check each is accepted"
    );
    assert_eq!(p["license"], "Apache-2.0");
    assert_eq!(p["authors"][0], "The volley authors");
    assert_eq!(p["homepage"], "https://example.invalid/volley");
    let plans: Vec<&str> = p["plans"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(plans, ["default", "extreme", "quick", "stress"]);
    let api = p["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "api")
        .unwrap();
    assert_eq!(
        api["description"],
        "Base URL of the ingest API (the plan's `api` target)"
    );
    let caps = &p["capabilities"];
    let network: Vec<&str> = caps["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.as_str())
        .filter(|i| ["http", "kafka", "ws"].contains(i))
        .collect();
    assert_eq!(network, ["http"], "{caps}");
    assert_eq!(caps["targets"]["api"]["protocols"][0], "http");
    assert_eq!(caps["targets"]["api"]["url"], "embedded:http");
    // wasm-metadata carries the OCI-style fields as well.
    assert_eq!(v["metadata"]["name"], "http_ingest");
    let (code, text, err) = pv(&dir, &["inspect", pkg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("wants:       http \u{2192} the `api` target (embedded:http)"),
        "{text}"
    );
    assert!(text.contains("license:     Apache-2.0"), "{text}");
    assert!(text.contains("  quick "), "{text}");
    // The package is still a component volley runs.
    let (code, _, err) = pv(
        &dir,
        &[
            "run",
            pkg.to_str().unwrap(),
            "--iterations",
            "4",
            "-q",
            "--no-summary",
            "--target",
            "api=embedded:http",
        ],
    );
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn push_pull_lock_accept_run_offline_and_tamper() {
    let dir = scratch("package", "flow");
    let mut reg = Registry::start(&dir);
    let pkg = pack_http_ingest(&dir);
    let tagged = reg.reference("volley/http-ingest", "0.1.0");
    let (code, out, err) = pv(&dir, &["push", pkg.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    let digest = digest_in(&out);

    // Pull into a fresh cache: byte-identical, digest pinned in the lock.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let pulled = other.join("pulled.wasm");
    let (code, out, err) = pv(&other, &["pull", &tagged, "-o", pulled.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(digest_in(&out), digest);
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&pkg).unwrap()
    );
    let lock = std::fs::read_to_string(other.join("volley.lock")).unwrap();
    assert!(lock.contains(&format!("digest = \"{digest}\"")), "{lock}");
    assert!(
        lock.contains(&format!("reference = \"{tagged}\"")),
        "{lock}"
    );

    // Not accepted: nothing runs, the error names the command and the imports.
    let (code, _, err) = run_package(&dir, &tagged, &[]);
    assert_eq!(code, 104, "{err}");
    assert!(
        err.contains("wants http \u{2192} the `api` target (embedded:http)"),
        "{err}"
    );
    assert!(err.contains(&format!("volley accept {tagged}")), "{err}");
    assert!(!dir.join("export.json").exists());

    let (code, out, err) = pv(&dir, &["accept", &tagged]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&digest), "{out}");
    // Inspecting a reference shows the package (from the cache).
    let (code, out, err) = pv(&dir, &["inspect", &tagged, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["package"]["name"], "http_ingest", "{out}");

    // By tag: the package's own default plan against the embedded target.
    let (code, _, err) = run_package(&dir, &tagged, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");

    // By digest: the same code, accepted once for its digest.
    let by_digest = format!("oci://127.0.0.1:{}/volley/http-ingest@{digest}", reg.port);
    let (code, _, err) = run_package(&dir, &by_digest, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");

    // --locked: a tag the lock does not pin would change it.
    let latest = reg.reference("volley/http-ingest", "latest");
    let (code, _, err) = pv(&dir, &["push", pkg.to_str().unwrap(), &latest]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_package(&dir, &latest, &["--locked"]);
    assert_eq!(code, 104, "{err}");
    assert!(err.contains("--locked"), "{err}");
    let lock_before = std::fs::read_to_string(dir.join("volley.lock")).unwrap();
    assert!(!lock_before.contains(":latest"), "{lock_before}");

    // Re-pushing other code under the pinned tag changes nothing here: the
    // lock pins the digest.
    let fixture = crate::support::fixture();
    let (code, _, err) = pv(&dir, &["push", fixture.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_package(&dir, &tagged, &["--locked"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");

    // A plan of the runner's names the package.
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            "[targets]\napi = \"embedded:http\"\n[options]\ncomponent = \"{tagged}\"\n[scenarios.a]\nexecutor = \"shared-iterations\"\nvus = 2\niterations = 12\n"
        ),
    )
    .unwrap();
    let export = dir.join("plan-export.json");
    let (code, _, err) = pv(
        &dir,
        &[
            "run",
            plan.to_str().unwrap(),
            "-q",
            "--no-summary",
            "--summary-export",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&export), (12.0, 0.0), "{err}");

    // The registry is gone: a locked, cached reference needs no request at
    // all, even without --offline.
    reg.stop();
    let (code, _, err) = run_package(&dir, &tagged, &["--locked"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");
    let (code, _, err) = run_package(&dir, &tagged, &["--offline", "--locked"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");
    let (code, _, err) = run_package(&dir, &latest, &["--offline"]);
    assert_eq!(code, 104, "{err}");
    assert!(err.contains("--offline"), "{err}");

    // A cached component changed on disk is refused, never run.
    let layer = find_blob(&dir.join("cache/packages"), &std::fs::read(&pkg).unwrap());
    let mut bytes = std::fs::read(&layer).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x20;
    std::fs::write(&layer, bytes).unwrap();
    let (code, _, err) = run_package(&dir, &tagged, &["--offline"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("does not match its digest"), "{err}");
    assert!(!dir.join("export.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// The cached blob holding exactly `bytes`.
fn find_blob(cache: &Path, bytes: &[u8]) -> PathBuf {
    let blobs = cache.join("blobs/sha256");
    std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read(p).is_ok_and(|b| b == bytes))
        .expect("the component is cached")
}

#[test]
fn a_tampered_layer_in_the_registry_is_refused() {
    let dir = scratch("package", "tamper");
    let reg = Registry::start(&dir);
    let pkg = pack_http_ingest(&dir);
    let tagged = reg.reference("volley/http-ingest", "0.1.0");
    let (code, _, err) = pv(&dir, &["push", pkg.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&pkg).unwrap();
    let layer = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(&bytes);
        format!(
            "sha256:{}",
            h.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    };
    let file = reg.blob_file(&layer);
    let mut changed = bytes.clone();
    let n = changed.len();
    changed[n - 3] ^= 0x20;
    std::fs::write(&file, &changed).unwrap();
    // A fresh cache: the component must come from the registry.
    let fresh = dir.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let (code, _, err) = pv(&fresh, &["pull", &tagged]);
    assert_ne!(code, 0, "a tampered layer was accepted: {err}");
    assert!(
        err.contains("sha256") && (err.contains("tampered") || err.contains("digest")),
        "{err}"
    );
    assert!(
        !fresh
            .join("cache/packages/blobs/sha256")
            .join(&layer[7..])
            .exists()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn signatures_are_required_checked_and_refused_when_tampered() {
    let dir = scratch("package", "sign");
    let reg = Registry::start(&dir);
    let pkg = pack_http_ingest(&dir);
    let tagged = reg.reference("volley/http-ingest", "0.1.0");
    let (code, out, err) = pv(&dir, &["push", pkg.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    let digest = digest_in(&out);
    let prefix = dir.join("me");
    let (code, _, err) = pv(
        &dir,
        &[
            "generate-key-pair",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (key, public) = (dir.join("me.key"), dir.join("me.pub"));
    let (code, _, err) = pv(
        &dir,
        &[
            "generate-key-pair",
            "--output-key-prefix",
            dir.join("other").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let other = dir.join("other.pub");

    // Unsigned: refused, and nothing is cached as accepted.
    let (code, _, err) = pv(
        &dir,
        &[
            "pull",
            &tagged,
            "--require-signed",
            public.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("is not signed"), "{err}");
    assert!(
        err.contains(&format!("sha256-{}.sig", &digest[7..])),
        "{err}"
    );

    let (code, out, err) = pv(&dir, &["sign", &tagged, "--key", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&digest), "{out}");
    let (code, _, err) = pv(
        &dir,
        &["verify", &tagged, "--key", public.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pv(&dir, &["verify", &tagged, "--key", other.to_str().unwrap()]);
    assert_ne!(code, 0, "another key verified it: {err}");
    assert!(err.contains("no signature"), "{err}");

    // Signed: pull and run with the key.
    let (code, _, err) = pv(&dir, &["accept", &tagged]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_package(
        &dir,
        &tagged,
        &["--require-signed", public.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");
    // Offline, the signature checked online before is used from the cache;
    // another key still fails.
    let (code, _, err) = run_package(
        &dir,
        &tagged,
        &["--offline", "--require-signed", public.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_package(
        &dir,
        &tagged,
        &["--offline", "--require-signed", other.to_str().unwrap()],
    );
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("no signature"), "{err}");

    // Tampered: other code pushed under the signed tag is not what was signed.
    let fixture = crate::support::fixture();
    let (code, out, err) = pv(&dir, &["push", fixture.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(digest_in(&out), digest);
    let (code, _, err) = pv(
        &dir,
        &[
            "pull",
            &tagged,
            "--require-signed",
            public.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0, "a changed package passed: {err}");
    assert!(err.contains("is not signed"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A copy of the http-ingest scenario whose extra plan asks for a data file.
fn greedy_scenario(dir: &Path) -> PathBuf {
    let src = repo().join("scripts/http-ingest");
    let dst = dir.join("greedy");
    std::fs::create_dir_all(dst.join("src")).unwrap();
    std::fs::create_dir_all(dst.join("plans")).unwrap();
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "plans/default.toml",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    std::fs::write(
        dst.join("plans/greedy.toml"),
        "[targets]\napi = \"http://192.0.2.10:8080\"\n[options]\nallowHosts = [\"*.example.net\"]\n[data]\nsecrets = \"/etc/passwd\"\n",
    )
    .unwrap();
    dst
}

#[test]
fn a_package_runs_only_with_what_the_runner_grants() {
    let dir = scratch("package", "caps");
    let reg = Registry::start(&dir);
    let folder = greedy_scenario(&dir);
    let tagged = reg.reference("volley/greedy", "1.0.0");
    let (code, _, err) = pv(&dir, &["push", folder.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    // What it wants lists exactly its network import and the hosts its plans name.
    let (code, _, err) = run_package(&dir, &tagged, &[]);
    assert_eq!(code, 104, "{err}");
    let wants = err
        .lines()
        .find(|l| l.starts_with("package "))
        .unwrap_or_default();
    assert!(
        wants.ends_with("wants http \u{2192} the `api` target (embedded:http); hosts its plans name: *.example.net, 192.0.2.10:8080"),
        "{err}"
    );
    assert!(!wants.contains("kafka") && !wants.contains("ws"), "{wants}");
    // Accepting records exactly that; the lock entry names it.
    let (code, _, err) = pv(&dir, &["accept", &tagged]);
    assert_eq!(code, 0, "{err}");
    let lock = std::fs::read_to_string(dir.join("volley.lock")).unwrap();
    assert!(lock.contains("imports = [\"http\"]"), "{lock}");
    assert!(
        lock.contains("hosts = [\"*.example.net\", \"192.0.2.10:8080\"]"),
        "{lock}"
    );
    // Its own plan may never touch the runner's files, accepted or not.
    let (code, _, err) = run_package(&dir, &tagged, &["--plan", "greedy"]);
    assert_eq!(code, 104, "{err}");
    assert!(err.contains("cannot touch files"), "{err}");
    assert!(!dir.join("export.json").exists());
    // Accepted, its default plan runs.
    let (code, _, err) = run_package(&dir, &tagged, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(iterations(&dir.join("export.json")), (20.0, 0.0), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_example_scenarios_are_published_as_packages() {
    let dir = scratch("package", "examples");
    let reg = Registry::start(&dir);
    let others =
        "kafka, ws \u{2192} only hosts the runner allows (--allow-host, the plan's targets)";
    let http = "http \u{2192} the `api` target (embedded:http)";
    let kafka = "kafka \u{2192} the `kafka` target (embedded:kafka)";
    let examples = [
        (
            "auction",
            "http, ws \u{2192} the `api` target (embedded:auction)".to_string(),
        ),
        // The JavaScript and Python SDKs import every interface.
        ("booking", format!("{http}; {others}")),
        ("http-ingest", http.to_string()),
        ("http-ingest-c", http.to_string()),
        ("http-ingest-py", format!("{http}; {others}")),
        ("kafka-burst", kafka.to_string()),
        ("kafka-roundtrip", kafka.to_string()),
    ];
    let fresh = dir.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    for (name, wants) in &examples {
        let packed = dir.join(format!("{name}.wasm"));
        let folder = repo().join("scripts").join(name);
        let (code, _, err) = pv(
            &dir,
            &[
                "pack",
                folder.to_str().unwrap(),
                "-o",
                packed.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{name}: {err}");
        let reference = reg.reference(&format!("examples/{name}"), "0.1.0");
        let (code, out, err) = pv(&dir, &["push", packed.to_str().unwrap(), &reference]);
        assert_eq!(code, 0, "{name}: {err}");
        let digest = digest_in(&out);
        let pulled = fresh.join(format!("{name}.wasm"));
        let (code, out, err) = pv(
            &fresh,
            &["pull", &reference, "-o", pulled.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(digest_in(&out), digest, "{name}");
        assert_eq!(
            std::fs::read(&pulled).unwrap(),
            std::fs::read(&packed).unwrap(),
            "{name}: the pulled component differs from the pushed one"
        );
        let line = err
            .lines()
            .find(|l| l.contains(": wants "))
            .unwrap_or_default();
        assert!(line.ends_with(&format!(": wants {wants}")), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A package whose own plan carries a `[[fault]]` command: refused (the
/// command never runs) unless the runner passes `--allow-fault-commands`.
#[test]
fn a_package_plan_runs_fault_commands_only_when_the_runner_allows() {
    let dir = scratch("package", "fault-cmd");
    let reg = Registry::start(&dir);
    let folder = greedy_scenario(&dir);
    let marker = dir.join("fault-ran");
    std::fs::write(
        folder.join("plans/faulty.toml"),
        format!(
            "[targets]\napi = \"embedded:http\"\n[[fault]]\nat = \"0s\"\ncommand = [\"touch\", \"{}\"]\n",
            marker.display()
        ),
    )
    .unwrap();
    let tagged = reg.reference("volley/faulty", "1.0.0");
    let (code, _, err) = pv(&dir, &["push", folder.to_str().unwrap(), &tagged]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = pv(&dir, &["accept", &tagged]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_package(&dir, &tagged, &["--plan", "faulty"]);
    assert_eq!(code, 104, "{err}");
    assert!(
        err.contains("runs commands") && err.contains("--allow-fault-commands"),
        "{err}"
    );
    assert!(!marker.exists(), "the package's command ran");
    let (code, _, err) = run_package(
        &dir,
        &tagged,
        &["--plan", "faulty", "--allow-fault-commands"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(marker.exists(), "the allowed command did not run: {err}");
    std::fs::remove_dir_all(&dir).ok();
}
