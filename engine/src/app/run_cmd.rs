//! `volley run`: resolve what the user pointed at to a plan, apply the
//! command-line overrides, run it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// What `volley run <target>` points at, resolved to a plan.
#[derive(Debug)]
pub struct Resolved {
    pub raw: RawPlan,
    pub source: PathBuf,
    pub base_dir: PathBuf,
    pub component: Option<PathBuf>,
    /// Built here from the user's own sources (a script or scenario
    /// folder), not a package or a prebuilt component.
    pub own_sources: bool,
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
            own_sources: true,
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
                own_sources: false,
            })
        }
        _ => Ok(Resolved {
            raw: RawPlan::default(),
            source: PathBuf::from("<command line>"),
            base_dir: PathBuf::from("."),
            component: Some(target.to_path_buf()),
            own_sources: false,
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
    let bad =
        |flag: &str, v: &str, why: crate::Invalid| Error::Config(format!("{flag} {v}: {why}"));
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
                .map_err(|_| bad("--stage", s, format!("`{t}` is not a VU count").into()))?,
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

/// What `--watch` follows: the sources when volley builds the component,
/// else the component file itself.
fn watch_target(
    target: &Path,
    built_from: Option<PathBuf>,
    plan: &plan::Plan,
) -> crate::swap::Watch {
    use crate::swap::Watch;
    let is_toml = target.extension().is_some_and(|e| e == "toml");
    match (is_toml, built_from) {
        (false, _) if target.is_dir() || crate::build::source_lang(target).is_some() => {
            Watch::Sources(target.to_path_buf())
        }
        (true, Some(folder)) => Watch::Sources(folder),
        _ => Watch::Component(
            plan.scenarios
                .first()
                .map_or_else(|| target.to_path_buf(), |s| s.component.clone()),
        ),
    }
}

/// What `--watch` will follow if volley builds `target` itself (a scenario
/// folder, a source file, or a plan in a folder's `plans/`), known before the
/// build, fingerprinted then.
fn watched_before_build(target: &Path) -> Option<(crate::swap::Watch, u64)> {
    let is_toml = target.extension().is_some_and(|e| e == "toml");
    let sources = if target.is_dir() || crate::build::source_lang(target).is_some() {
        target.to_path_buf()
    } else {
        let plans = target
            .parent()
            .filter(|d| is_toml && d.ends_with("plans"))?;
        plans.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let what = crate::swap::Watch::Sources(sources);
    let since = crate::swap::fingerprint_now(&what);
    Some((what, since))
}

pub(super) fn cmd_run(args: RunArgs) -> Result<ExitCode, Error> {
    crate::output::set_log_level(&args.log_level);
    let mut ov = overrides(&args)?;
    // Before the build: a source saved while it runs is swapped to.
    let before_build = args
        .watch
        .then(|| watched_before_build(&args.target))
        .flatten();
    let mut resolved =
        match crate::package::open_target(&args.target, args.plan.as_deref(), &args.package)? {
            Some(r) => r,
            None => resolve(&args.target, args.plan.as_deref(), args.quiet)?,
        };
    let own_sources = resolved.own_sources;
    crate::package::prepare_run(&mut resolved.raw, &args.package)?;
    ov.component = resolved.component.clone();
    // A plan whose folder volley built: the folder's sources.
    let built_from = resolved
        .component
        .is_some()
        .then(|| resolved.base_dir.clone());
    let plan = plan::validate(resolved.raw, &resolved.source, &resolved.base_dir, &ov)?;
    let control = args
        .control
        .as_deref()
        .map(|a| crate::control::TcpOptions::new(a, args.control_token.clone()))
        .transpose()?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let watch = args
        .watch
        .then(|| watch_target(&args.target, built_from.clone(), &plan));
    let opts = RunOptions {
        summary_export: args.summary_export.clone(),
        progress: !args.quiet,
        summary: !args.no_summary,
        color: !args.no_color && std::env::var_os("NO_COLOR").is_none() && is_terminal(),
        no_pooling: args.no_pooling,
        out: args.out.clone(),
        watch_since: before_build
            .filter(|(what, _)| Some(what) == watch.as_ref())
            .map(|(_, since)| since),
        watch,
        dashboard: args
            .dashboard
            .as_deref()
            .map(|a| {
                crate::output::dashboard::DashboardOptions::parse(a, args.dashboard_allow_remote)
            })
            .transpose()?,
        control,
        own_sources,
    };
    let rt = runtime(args.threads)?;
    let outcome = rt.block_on(run(plan, &opts))?;
    if let Some(p) = &outcome.problem {
        eprintln!(
            "volley: {}",
            crate::output::format::terminal_safe(p, 64 * 1024)
        );
    }
    // Iterations still blocked in host calls must not keep the process up.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(outcome.exit)
}

pub(super) fn is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}
