//! The commands behind the CLI: resolve what the user pointed at, call the
//! library, map the result to an exit code. `anyhow`-free: every failure is a
//! [`crate::Error`] with a message naming what to fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{
    BuildArgs, Cli, Command, InspectArgs, KafkaCommand, KafkaConn, KafkaLagArgs, KafkaResetArgs,
    MergeArgs, NewArgs, RunArgs, TargetsArgs,
};
use crate::plan::{self, Overrides, RawPlan, Stage, parse_duration};
use crate::protocol::{Allowlist, kafka};
use crate::run::{RunOptions, run};
use crate::wasm::{Runtime, RuntimeConfig};
use crate::{Error, ExitCode};

/// Runs a parsed command line; returns the process exit code.
pub fn execute(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => cmd_run(*args),
        Command::Build(args) => cmd_build(args),
        Command::New(args) => cmd_new(args),
        Command::Inspect(args) => cmd_inspect(args),
        Command::Targets(args) => cmd_targets(args),
        Command::Merge(args) => cmd_merge(args),
        Command::Kafka(KafkaCommand::Lag(args)) => cmd_kafka_lag(args),
        Command::Kafka(KafkaCommand::ResetOffsets(args)) => cmd_kafka_reset(args),
    };
    match result {
        Ok(code) => code.code(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code().code()
        }
    }
}

fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, Error> {
    // One thread needs no work stealing: the current-thread scheduler is
    // markedly cheaper per wake-up.
    let mut b = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n.max(1));
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    b.enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}

/// What `volley run <target>` points at, resolved to a plan.
#[derive(Debug)]
pub struct Resolved {
    pub raw: RawPlan,
    pub source: PathBuf,
    pub base_dir: PathBuf,
    pub component: Option<PathBuf>,
}

/// Resolves a component, plan file or scenario folder (building the folder).
pub fn resolve(
    target: &Path,
    plan_name: Option<&str>,
    build_quiet: bool,
) -> Result<Resolved, Error> {
    if !target.exists() {
        return Err(Error::Config(format!(
            "{}: no such file or folder (give a component .wasm, a plan .toml or a scenario folder)",
            target.display()
        )));
    }
    let is_source = target.is_file() && crate::build::source_lang(target).is_some();
    if target.is_dir() || is_source {
        let built = crate::build::build(
            target,
            &crate::build::BuildOptions {
                force: false,
                quiet: build_quiet,
            },
        )?;
        // A source file's plans are its folder's.
        let folder = if is_source {
            crate::build::folder_of(target)
        } else {
            target
        };
        let plans = folder.join("plans");
        let chosen = match plan_name {
            Some(name) => {
                let p = plans.join(format!("{name}.toml"));
                if !p.exists() {
                    return Err(Error::Config(format!(
                        "--plan {name}: {} does not exist (plans here: {})",
                        p.display(),
                        list_plans(&plans).join(", ")
                    )));
                }
                Some(p)
            }
            None => Some(plans.join("default.toml")).filter(|p| p.exists()),
        };
        // No plan file: a k6 script's `export const options` is the plan.
        let (raw, source) = match chosen {
            Some(p) => (plan::load_plan_file(&p)?, p),
            None => match crate::build::k6_options(&built.component) {
                Some(o) => (plan::from_k6_options(&o, target)?, target.to_path_buf()),
                None if is_source => (
                    crate::build::default_plan(target)?.unwrap_or_default(),
                    target.to_path_buf(),
                ),
                None => (RawPlan::default(), target.to_path_buf()),
            },
        };
        return Ok(Resolved {
            raw,
            source,
            base_dir: folder.to_path_buf(),
            component: Some(built.component),
        });
    }
    if plan_name.is_some() {
        return Err(Error::Config(
            "--plan picks a plan of a scenario folder; pass the folder, or the plan file itself"
                .into(),
        ));
    }
    match target.extension().and_then(|e| e.to_str()) {
        Some("toml") => {
            let raw = plan::load_plan_file(target)?;
            let dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();
            // A plan inside `<scenario>/plans/` runs that folder's component
            // unless it names one.
            let component = match (raw.options.component.is_none(), dir.file_name()) {
                (true, Some(n)) if n == "plans" => {
                    let folder = dir.parent().unwrap_or(Path::new("."));
                    Some(
                        crate::build::build(
                            folder,
                            &crate::build::BuildOptions {
                                force: false,
                                quiet: build_quiet,
                            },
                        )?
                        .component,
                    )
                }
                _ => None,
            };
            let base_dir = match dir.file_name() {
                Some(n) if n == "plans" => dir.parent().unwrap_or(Path::new(".")).to_path_buf(),
                _ => dir,
            };
            Ok(Resolved {
                raw,
                source: target.to_path_buf(),
                base_dir,
                component,
            })
        }
        _ => Ok(Resolved {
            raw: RawPlan::default(),
            source: PathBuf::from("<command line>"),
            base_dir: PathBuf::from("."),
            component: Some(target.to_path_buf()),
        }),
    }
}

fn list_plans(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension()? != "toml" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    if names.is_empty() {
        names.push("none".into());
    }
    names
}

/// Turns `run` flags into plan overrides.
pub fn overrides(args: &RunArgs) -> Result<Overrides, Error> {
    let bad = |flag: &str, v: &str, why: String| Error::Config(format!("{flag} {v}: {why}"));
    let mut ov = Overrides {
        vus: args.vus,
        iterations: args.iterations,
        rate: args.rate,
        seed: args.seed,
        only_scenarios: args.scenarios.clone(),
        exec: args.exec.clone(),
        allow_hosts: args.allow_hosts.clone(),
        insecure_skip_tls_verify: args.insecure_skip_tls_verify,
        ..Default::default()
    };
    if let Some(r) = args.spawn_rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(bad(
                "--spawn-rate",
                &r.to_string(),
                "VUs started per second, more than 0".into(),
            ));
        }
        ov.spawn_rate = Some(r);
    }
    if let Some(d) = &args.duration {
        ov.duration = Some(parse_duration(d).map_err(|m| bad("--duration", d, m))?);
    }
    if let Some(d) = &args.iteration_timeout {
        ov.iteration_timeout =
            Some(parse_duration(d).map_err(|m| bad("--iteration-timeout", d, m))?);
    }
    for s in &args.stages {
        let (d, t) = s
            .split_once(':')
            .ok_or_else(|| bad("--stage", s, "write DURATION:TARGET, e.g. 30s:100".into()))?;
        ov.stages.push(Stage {
            duration: parse_duration(d).map_err(|m| bad("--stage", s, m))?,
            target: t
                .trim()
                .parse()
                .map_err(|_| bad("--stage", s, format!("`{t}` is not a VU count")))?,
        });
    }
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| bad("-e", p, "write KEY=VALUE".into()))?;
        ov.params.push((k.to_string(), v.to_string()));
    }
    for t in &args.targets {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| bad("--target", t, "write NAME=URL".into()))?;
        ov.targets.push((k.to_string(), v.to_string()));
    }
    for t in &args.thresholds {
        // The metric may carry `{tag:value}`: split at the first `:` outside braces.
        let mut depth = 0;
        let split = t.char_indices().find(|&(_, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            c == ':' && depth == 0
        });
        let (m, e) = match split {
            Some((i, _)) => (&t[..i], &t[i + 1..]),
            None => {
                return Err(bad(
                    "--threshold",
                    t,
                    "write METRIC:EXPR, e.g. http_req_duration:p(99)<500".into(),
                ));
            }
        };
        ov.thresholds
            .push((m.trim().to_string(), e.trim().to_string()));
    }
    Ok(ov)
}

fn cmd_run(args: RunArgs) -> Result<ExitCode, Error> {
    crate::output::set_log_level(&args.log_level);
    let mut ov = overrides(&args)?;
    let resolved = resolve(&args.target, args.plan.as_deref(), args.quiet)?;
    ov.component = resolved.component.clone();
    let plan = plan::validate(resolved.raw, &resolved.source, &resolved.base_dir, &ov)?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let opts = RunOptions {
        summary_export: args.summary_export.clone(),
        progress: !args.quiet,
        summary: !args.no_summary,
        color: !args.no_color && std::env::var_os("NO_COLOR").is_none() && is_terminal(),
        no_pooling: args.no_pooling,
        out: args.out.clone(),
    };
    let rt = runtime(args.threads)?;
    let outcome = rt.block_on(run(plan, &opts))?;
    if let Some(p) = &outcome.problem {
        eprintln!("volley: {p}");
    }
    // Iterations still blocked in host calls must not keep the process up.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(outcome.exit)
}

fn is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

fn cmd_build(args: BuildArgs) -> Result<ExitCode, Error> {
    let built = crate::build::build(
        &args.dir,
        &crate::build::BuildOptions {
            force: args.force,
            quiet: false,
        },
    )?;
    eprintln!(
        "{} ({}, {}{})",
        built.component.display(),
        built.lang.as_str(),
        built.toolchain,
        if built.rebuilt { "" } else { ", up to date" }
    );
    println!("{}", built.component.display());
    Ok(ExitCode::Ok)
}

fn cmd_new(args: NewArgs) -> Result<ExitCode, Error> {
    let files = crate::build::scaffold(&args.dir, &args.lang)?;
    for f in &files {
        println!("created {}", f.display());
    }
    println!("run it: volley run {}", args.dir.display());
    Ok(ExitCode::Ok)
}

fn cmd_inspect(args: InspectArgs) -> Result<ExitCode, Error> {
    let runtime = Runtime::new(RuntimeConfig {
        max_vus: 1,
        pooling: false,
        ..Default::default()
    })?;
    let c = runtime.load(&args.component)?;
    let info = c.info();
    let meta = std::fs::read(&args.component)
        .map(|b| crate::build::read_metadata(&b))
        .unwrap_or_default();
    if args.json {
        let v = serde_json::json!({
            "path": args.component,
            "world": "volley:scenario/scenario@0.1.0",
            "metadata": meta,
            "size": info.size,
            "imports": info.imports,
            "exports": info.exports,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("component: {}", args.component.display());
        println!("world:     volley:scenario/scenario@0.1.0");
        let show = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                println!("{label:<10} {v}");
            }
        };
        show("name:", &meta.name);
        show("version:", &meta.version);
        show("language:", &meta.language);
        show("sdk:", &meta.sdk);
        if !meta.processed_by.is_empty() {
            println!("built by:  {}", meta.processed_by.join(", "));
        }
        println!(
            "size:      {} bytes ({:.1} KiB)",
            info.size,
            info.size as f64 / 1024.0
        );
        println!("imports:");
        for i in &info.imports {
            println!("  {i}");
        }
        println!("exports:");
        for e in &info.exports {
            println!("  {e}");
        }
    }
    Ok(ExitCode::Ok)
}

fn cmd_targets(args: TargetsArgs) -> Result<ExitCode, Error> {
    let addr: std::net::SocketAddr = args.http.parse().map_err(|_| {
        Error::Config(format!(
            "--http {}: not an address like 127.0.0.1:8080",
            args.http
        ))
    })?;
    let auction_addr: std::net::SocketAddr = args.auction.parse().map_err(|_| {
        Error::Config(format!(
            "--auction {}: not an address like 127.0.0.1:8081",
            args.auction
        ))
    })?;
    let delay = args
        .delay
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|m| Error::Config(format!("--delay: {m}")))?
        .unwrap_or_default();
    if !(0.0..=1.0).contains(&args.error_rate) {
        return Err(Error::Config(
            "--error-rate: a share between 0.0 and 1.0".into(),
        ));
    }
    if !(0.0..=1.0).contains(&args.kafka_drop_rate) {
        return Err(Error::Config(
            "--kafka-drop-rate: a share between 0.0 and 1.0".into(),
        ));
    }
    let kafka_opts = match args.kafka {
        false => None,
        true => Some(crate::embedded::kafka::PipelineOptions {
            delay: args
                .kafka_delay
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|m| Error::Config(format!("--kafka-delay: {m}")))?
                .unwrap_or_default(),
            failure_rate: args.kafka_drop_rate,
        }),
    };
    let rt = runtime(None)?;
    rt.block_on(async {
        let opts = crate::embedded::http::IngestOptions {
            delay,
            error_rate: args.error_rate,
            seats: args.seats,
        };
        let server = crate::embedded::http::start(addr, opts)
            .await
            .map_err(|e| Error::io(format!("binding {addr}"), e))?;
        let auction = crate::embedded::auction::start(auction_addr)
            .await
            .map_err(|e| Error::io(format!("binding {auction_addr}"), e))?;
        println!(
            "http ingest target: {}  (POST /messages, GET /health, GET /stats; booking: POST /users, POST /login, GET /events?q=, POST /events/ID/bookings)",
            server.url()
        );
        println!(
            "auction target:     {}  (POST /items/ID/bids, GET /items/ID, WS /ws/items/ID, GET /stats)",
            auction.url()
        );
        use crate::embedded::kafka as ek;
        enum Kafka {
            Mock(ek::KafkaServer),
            Broker(ek::Pipeline),
        }
        let kafka = match (kafka_opts, &args.kafka_broker) {
            (Some(opts), None) => {
                let k = ek::start(opts)
                    .await
                    .map_err(|e| Error::io("starting the Kafka mock cluster", e))?;
                println!(
                    "kafka target:       {}  (topics orders.raw, orders.enriched; enricher group `enricher`)",
                    k.bootstrap()
                );
                Some(Kafka::Mock(k))
            }
            (Some(opts), Some(bootstrap)) => {
                ek::create_topics(bootstrap).await.map_err(|m| {
                    Error::Other(format!("--kafka-broker: {m} (is the broker up?)"))
                })?;
                println!(
                    "kafka target:       {bootstrap}  (your broker; enricher group `enricher` on orders.raw -> orders.enriched)"
                );
                Some(Kafka::Broker(ek::Pipeline::start(bootstrap, opts)))
            }
            (None, _) => None,
        };
        println!("Ctrl-C to stop");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown().await;
        auction.shutdown().await;
        match kafka {
            Some(Kafka::Mock(k)) => k.shutdown().await,
            Some(Kafka::Broker(p)) => p.shutdown().await,
            None => {}
        }
        Ok(ExitCode::Ok)
    })
}

fn cmd_merge(args: MergeArgs) -> Result<ExitCode, Error> {
    let mut merged: Option<crate::output::Export> = None;
    for p in &args.inputs {
        let bytes =
            std::fs::read(p).map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        let e: crate::output::Export = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Config(format!(
                "{}: not a volley summary export (write one with `volley run --summary-export`): {e}",
                p.display()
            ))
        })?;
        merged = Some(match merged {
            None => e,
            Some(m) => crate::output::merge_exports(&m, &e)
                .map_err(|m| Error::Config(format!("{}: {m}", p.display())))?,
        });
    }
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    std::fs::write(&args.output, text)
        .map_err(|e| Error::io(format!("writing {}", args.output.display()), e))?;
    println!(
        "merged {} exports into {}",
        args.inputs.len(),
        args.output.display()
    );
    Ok(ExitCode::Ok)
}

/// The connection the user named on the command line: its brokers are
/// allowed because the user named them.
fn kafka_conn(c: &KafkaConn) -> Result<(Allowlist, kafka::Config), Error> {
    let mut properties = Vec::new();
    for p in &c.properties {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("-X {p}: write KEY=VALUE")))?;
        properties.push((k.to_string(), v.to_string()));
    }
    let allow = Allowlist::parse(&["*"]).map_err(Error::Config)?;
    Ok((
        allow,
        kafka::Config {
            bootstrap: c.bootstrap.clone(),
            properties,
        },
    ))
}

fn kafka_failed(what: &str, e: kafka::Error) -> Error {
    Error::Other(format!("{what}: {e}"))
}

fn cmd_kafka_lag(args: KafkaLagArgs) -> Result<ExitCode, Error> {
    let (allow, config) = kafka_conn(&args.conn)?;
    let lag = kafka::group_lag(&allow, &config, &args.group, &args.topic)
        .map_err(|e| kafka_failed(&format!("lag of group `{}`", args.group), e))?;
    let total: i64 = lag.iter().map(kafka::PartitionLag::lag).sum();
    if args.json {
        let parts: Vec<serde_json::Value> = lag
            .iter()
            .map(|l| {
                serde_json::json!({
                    "partition": l.partition, "committed": l.committed,
                    "high": l.high, "lag": l.lag(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "group": args.group, "topic": args.topic, "lag": total, "partitions": parts,
        });
        println!("{out}");
        return Ok(ExitCode::Ok);
    }
    println!("group `{}` on `{}`", args.group, args.topic);
    println!(
        "{:>9}  {:>12}  {:>12}  {:>10}",
        "partition", "committed", "high", "lag"
    );
    for l in &lag {
        let committed = l.committed.map_or("-".to_string(), |c| c.to_string());
        println!(
            "{:>9}  {:>12}  {:>12}  {:>10}",
            l.partition,
            committed,
            l.high,
            l.lag()
        );
    }
    println!("total lag: {total}");
    Ok(ExitCode::Ok)
}

fn cmd_kafka_reset(args: KafkaResetArgs) -> Result<ExitCode, Error> {
    let (allow, config) = kafka_conn(&args.conn)?;
    let to = match (args.to_earliest, args.to_latest, args.to_offset) {
        (true, _, _) => kafka::Position::Earliest,
        (_, true, _) => kafka::Position::Latest,
        (_, _, Some(n)) => kafka::Position::Offset(n),
        _ => {
            return Err(Error::Config(
                "say where to: --to-earliest, --to-latest or --to-offset N".into(),
            ));
        }
    };
    let wait = args
        .wait
        .as_deref()
        .map(crate::plan::parse_duration)
        .transpose()
        .map_err(|m| Error::Config(format!("--wait: {m}")))?
        .unwrap_or_default();
    let deadline = std::time::Instant::now() + wait;
    let mut said = false;
    let done = loop {
        match kafka::reset_offsets(&allow, &config, &args.group, &args.topic, to, args.join) {
            Err(e)
                if e.class == kafka::ErrorClass::GroupActive
                    && std::time::Instant::now() < deadline =>
            {
                if !said {
                    said = true;
                    eprintln!(
                        "group `{}` still has members; retrying for up to {}",
                        args.group,
                        crate::plan::format_duration(wait)
                    );
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            r => {
                break r
                    .map_err(|e| kafka_failed(&format!("resetting group `{}`", args.group), e))?;
            }
        }
    };
    for (p, o) in &done {
        println!(
            "{}/{p}: group `{}` now at offset {o}",
            args.topic, args.group
        );
    }
    Ok(ExitCode::Ok)
}
