//! Raw plan + command-line overrides -> [`Plan`]. Every error names the file
//! and the field to fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::duration::{parse_duration, parse_size};
use super::raw::{RawPlan, RawScenario, RawStage, RawThreshold, RawTrack};
use super::{ExecutorConfig, IdSource, Plan, Scenario, Stage, Target, TargetKind, Track};
use crate::Error;
use crate::metrics::{Builtin, NoData, Selector, Threshold, Thresholds};

/// What the command line adds to or replaces in a plan (k6's shortcuts).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub vus: Option<u32>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub stages: Vec<Stage>,
    /// Iterations per second: an arrival-rate scenario instead of VU loops.
    pub rate: Option<u64>,
    /// VUs started per second (Locust's `--spawn-rate`).
    pub spawn_rate: Option<f64>,
    /// `--seed`: replaces the plan's `seed`.
    pub seed: Option<u64>,
    pub params: Vec<(String, String)>,
    /// `--target NAME=URL`: replaces (or adds) the plan's target `NAME`.
    pub targets: Vec<(String, String)>,
    /// `METRIC: EXPR` pairs, added to the plan's thresholds.
    pub thresholds: Vec<(String, String)>,
    /// Run only these scenarios of the plan.
    pub only_scenarios: Vec<String>,
    /// The component for scenarios that name none.
    pub component: Option<PathBuf>,
    /// The entry name for every scenario (k6 `--exec`).
    pub exec: Option<String>,
    pub allow_hosts: Vec<String>,
    pub iteration_timeout: Option<Duration>,
    pub insecure_skip_tls_verify: bool,
}

impl Overrides {
    fn shapes_load(&self) -> bool {
        self.vus.is_some()
            || self.duration.is_some()
            || self.iterations.is_some()
            || !self.stages.is_empty()
            || self.rate.is_some()
    }

    /// The load flags as written, e.g. `--vus 100 --duration 5s`.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.vus {
            parts.push(format!("--vus {v}"));
        }
        if let Some(d) = self.duration {
            parts.push(format!("--duration {}", super::format_duration(d)));
        }
        if let Some(i) = self.iterations {
            parts.push(format!("--iterations {i}"));
        }
        for st in &self.stages {
            parts.push(format!(
                "--stage {}:{}",
                super::format_duration(st.duration),
                st.target
            ));
        }
        if let Some(r) = self.rate {
            parts.push(format!("--rate {r}"));
        }
        parts.join(" ")
    }
}

/// Reads and parses a plan file (TOML).
pub fn load_plan_file(path: &Path) -> Result<RawPlan, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading plan {}", path.display()), e))?;
    toml::from_str(&text).map_err(|e| Error::Plan {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);
/// k6 follows 10 redirects.
const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// Validates `raw` (read from `source`; relative paths resolve against
/// `base_dir`) with command-line `ov` applied.
pub fn validate(
    mut raw: RawPlan,
    source: &Path,
    base_dir: &Path,
    ov: &Overrides,
) -> Result<Plan, Error> {
    let err = |message: String| Error::Plan {
        path: source.to_path_buf(),
        message,
    };

    // `--scenario` first: shortcuts then shape what is left.
    let mut notes = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    if !ov.only_scenarios.is_empty() {
        for name in &ov.only_scenarios {
            if !raw.scenarios.contains_key(name) {
                return Err(err(format!(
                    "--scenario {name}: the plan has no such scenario (it has: {})",
                    raw.scenarios.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        dropped = raw
            .scenarios
            .keys()
            .filter(|k| !ov.only_scenarios.contains(k))
            .cloned()
            .collect();
        raw.scenarios.retain(|k, _| ov.only_scenarios.contains(k));
    }

    // Shortcuts (top of the plan, or -u/-d/-i/--stage/--rate) replace the
    // load shape of the plan's one scenario, keeping what it runs (component,
    // exec, tags, params, start time). With several scenarios there is no one
    // right answer, so they are refused (k6 quietly ran one of them).
    let top_level_shape = raw.vus.is_some()
        || raw.duration.is_some()
        || raw.iterations.is_some()
        || raw.stages.is_some();
    if (ov.shapes_load() || top_level_shape) && raw.scenarios.len() > 1 {
        let names: Vec<String> = raw.scenarios.keys().cloned().collect();
        let (what, fix) = if ov.shapes_load() {
            (
                "--vus/--duration/--iterations/--stage/--rate".to_string(),
                format!(
                    "run one of them with its own load: `--scenario {} {}`; or change the load of each in the plan's [scenarios.NAME] tables",
                    names[0],
                    ov.describe()
                ),
            )
        } else {
            (
                "the top-level vus/duration/iterations/stages".to_string(),
                "move them into one of the [scenarios.NAME] tables, or remove them".to_string(),
            )
        };
        return Err(err(format!(
            "{what} would replace {} scenarios ({}) with one, running only one scenario's code; {fix}",
            names.len(),
            names.join(", ")
        )));
    }
    if ov.shapes_load() || top_level_shape || raw.scenarios.is_empty() {
        let (name, kept) = raw
            .scenarios
            .iter()
            .next()
            .map(|(n, s)| (n.clone(), s.clone()))
            .unwrap_or_else(|| ("default".to_string(), RawScenario::default()));
        let mut s = RawScenario {
            component: kept.component.clone(),
            exec: kept.exec.clone(),
            tags: kept.tags.clone(),
            params: kept.params.clone(),
            start_time: kept.start_time.clone(),
            graceful_stop: kept.graceful_stop.clone(),
            ..Default::default()
        };
        // k6's precedence: a duration, iteration count or stages given on
        // the command line replace all three of the plan's (a script's
        // `stages` give way to `-i 3`), where merging them would make a shape
        // no executor takes.
        let cli_shape = ov.duration.is_some() || ov.iterations.is_some() || !ov.stages.is_empty();
        let (duration, iterations, stages) = if cli_shape {
            (None, None, None)
        } else {
            (raw.duration.clone(), raw.iterations, raw.stages.clone())
        };
        s.vus = ov.vus.or(raw.vus);
        s.duration = ov
            .duration
            .map(|d| format!("{}ms", d.as_millis()))
            .or(duration);
        s.iterations = ov.iterations.or(iterations);
        s.stages = if ov.stages.is_empty() {
            stages
        } else {
            Some(
                ov.stages
                    .iter()
                    .map(|st| RawStage {
                        duration: format!("{}ms", st.duration.as_millis()),
                        target: st.target,
                    })
                    .collect(),
            )
        };
        let executor = shortcut_executor(&s, ov.rate, raw.scenarios.is_empty());
        s.executor = Some(executor.into());
        if executor == "ramping-vus" {
            // k6: with stages, `vus` is where the ramp starts.
            s.start_vus = s.vus.take();
        }
        if executor != "constant-arrival-rate" && executor != "per-vu-iterations" {
            s.spawn_rate = kept.spawn_rate;
        }
        if let Some(rate) = ov.rate {
            s.rate = Some(rate);
            s.pre_allocated_vus = Some(s.vus.unwrap_or(rate.clamp(1, 1000) as u32));
            s.max_vus = Some(s.pre_allocated_vus.unwrap_or(1).max(s.vus.unwrap_or(0)));
            s.vus = None;
            if s.duration.is_none() {
                return Err(err("`--rate` needs `--duration`".into()));
            }
        }
        if let Some(was) = raw.scenarios.get(&name).and_then(|k| k.executor.clone()) {
            let by = if ov.shapes_load() {
                format!("the command line's load ({})", ov.describe())
            } else {
                "the plan's top-level vus/duration/iterations/stages".to_string()
            };
            notes.push(format!(
                "scenario `{name}`: {by} replaces its {was} load ({executor} now); it keeps its exec `{}`, component, tags and params",
                kept.exec.as_deref().unwrap_or("default"),
            ));
        }
        raw.scenarios = BTreeMap::from([(name, s)]);
    }
    // `--spawn-rate`: on the one scenario that is left.
    if let Some(rate) = ov.spawn_rate {
        if raw.scenarios.len() != 1 {
            let names: Vec<String> = raw.scenarios.keys().cloned().collect();
            return Err(err(format!(
                "--spawn-rate applies to one scenario; the plan has {} ({}): pick one with `--scenario NAME`, or set `spawnRate` in the plan's [scenarios.NAME] tables",
                names.len(),
                names.join(", ")
            )));
        }
        if let Some(s) = raw.scenarios.values_mut().next() {
            s.spawn_rate = Some(rate);
        }
    }

    let default_component = ov
        .component
        .clone()
        .or_else(|| raw.options.component.as_ref().map(|c| base_dir.join(c)));

    let mut scenarios = Vec::new();
    for (name, s) in &raw.scenarios {
        let mut sc = scenario(name, s, base_dir, default_component.as_deref())
            .map_err(|m| err(format!("scenario `{name}`: {m}")))?;
        if let Some(exec) = &ov.exec {
            sc.exec = exec.clone();
        }
        scenarios.push(sc);
    }

    let mut targets = Vec::new();
    let mut target_list: Vec<(String, String)> = raw
        .targets
        .iter()
        .filter(|(name, _)| !ov.targets.iter().any(|(n, _)| n == *name))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    target_list.extend(ov.targets.iter().cloned());
    for (name, value) in &target_list {
        let kind = TargetKind::parse(value).map_err(|m| err(format!("targets.{name}: {m}")))?;
        targets.push(Target {
            name: name.clone(),
            kind,
        });
    }

    for (i, l) in raw.lag.iter().enumerate() {
        if !targets.iter().any(|t| t.name == l.target) {
            return Err(err(format!(
                "lag[{i}].target = \"{}\": no such target in [targets]",
                l.target
            )));
        }
    }

    let mut track = Vec::new();
    for (i, t) in raw.track.iter().enumerate() {
        track.push(validate_track(t, &targets).map_err(|m| err(format!("track[{i}]{m}")))?);
    }

    let target_names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let mut probes = Vec::new();
    for (i, p) in raw.probe.iter().enumerate() {
        probes.push(
            super::probe::validate_probe(p, &target_names)
                .map_err(|m| err(format!("probe[{i}]{m}")))?,
        );
    }

    let mut thresholds = Thresholds::default();
    let plan_thresholds = raw
        .thresholds
        .iter()
        .flat_map(|(m, list)| list.iter().map(move |t| (m.clone(), t.clone())));
    let cli_thresholds = ov
        .thresholds
        .iter()
        .map(|(m, e)| (m.clone(), RawThreshold::Expr(e.clone())));
    for (metric, t) in plan_thresholds.chain(cli_thresholds) {
        let selector = Selector::parse(&metric).map_err(|m| err(format!("thresholds: {m}")))?;
        let (expr, abort, delay, no_data) = match &t {
            RawThreshold::Expr(e) => (e.clone(), false, None, None),
            RawThreshold::Full(f) => (
                f.threshold.clone(),
                f.abort_on_fail,
                f.delay_abort_eval.clone(),
                f.no_data.clone(),
            ),
        };
        if let Some((_, gone)) = selector
            .filter
            .iter()
            .find(|(k, v)| k == "scenario" && dropped.contains(v))
        {
            notes.push(format!(
                "threshold `{metric}: {expr}` is not evaluated: scenario `{gone}` does not run (--scenario)"
            ));
            continue;
        }
        let mut th =
            Threshold::parse(selector, &expr).map_err(|m| err(format!("thresholds: {m}")))?;
        th.abort_on_fail = abort;
        if let Some(n) = no_data {
            th.no_data = NoData::parse(&n)
                .map_err(|m| err(format!("thresholds.\"{metric}\".noData = {m}")))?;
        }
        if let Some(d) = delay {
            th.delay_abort_eval = parse_duration(&d)
                .map_err(|m| err(format!("thresholds.\"{metric}\".delayAbortEval: {m}")))?;
        }
        // Built-ins are known now; custom metrics are checked when they appear.
        if let Some(b) = Builtin::ALL.iter().find(|b| b.name() == th.selector.metric) {
            th.check_kind(b.kind())
                .map_err(|m| err(format!("thresholds: {m}")))?;
        }
        thresholds.list.push(th);
    }

    let mut params = raw.options.params.clone();
    params.extend(ov.params.iter().cloned());

    let opt_duration = |field: &str, v: &Option<String>, default: Duration| {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|m| err(format!("options.{field}: {m}")))
            .map(|d| d.unwrap_or(default))
    };
    let iteration_timeout = match ov.iteration_timeout {
        Some(d) => d,
        None => opt_duration(
            "iterationTimeout",
            &raw.options.iteration_timeout,
            Duration::from_secs(60),
        )?,
    };
    let memory_limit = raw
        .options
        .memory_limit
        .as_deref()
        .map(parse_size)
        .transpose()
        .map_err(|m| err(format!("options.memoryLimit: {m}")))?
        .unwrap_or(64 << 20);
    if memory_limit < 1 << 16 {
        return Err(err(
            "options.memoryLimit: at least 64KiB (one wasm page)".into()
        ));
    }

    let mut allow_hosts = raw.options.allow_hosts.clone();
    allow_hosts.extend(ov.allow_hosts.iter().cloned());
    let faults = super::fault::validate(&raw.faults, &targets).map_err(err)?;

    Ok(Plan {
        source: source.to_path_buf(),
        description: raw.description.clone(),
        targets,
        scenarios,
        thresholds,
        params,
        allow_hosts,
        data: raw
            .data
            .iter()
            .map(|(k, v)| (k.clone(), base_dir.join(v)))
            .collect(),
        iteration_timeout,
        memory_limit,
        setup_timeout: opt_duration(
            "setupTimeout",
            &raw.options.setup_timeout,
            Duration::from_secs(60),
        )?,
        teardown_timeout: opt_duration(
            "teardownTimeout",
            &raw.options.teardown_timeout,
            Duration::from_secs(60),
        )?,
        lag: raw.lag.clone(),
        track,
        faults,
        probes,
        mark_timeout: opt_duration(
            "markTimeout",
            &raw.options.mark_timeout,
            Duration::from_secs(60),
        )?,
        insecure_skip_tls_verify: ov.insecure_skip_tls_verify
            || raw.options.insecure_skip_tls_verify.unwrap_or(false),
        seed: ov.seed.or(raw.options.seed),
        max_redirects: raw.options.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS),
        swap: super::swap::policy(&raw.swap, iteration_timeout).map_err(err)?,
        notes,
        dropped_scenarios: dropped,
    })
}

/// One `[[track]]`; an error starts with the field (`.id: ...`).
fn validate_track(t: &RawTrack, targets: &[Target]) -> Result<Track, String> {
    if !targets.iter().any(|x| x.name == t.target) {
        return Err(format!(
            ".target = \"{}\": no such target in [targets]",
            t.target
        ));
    }
    if t.input.is_empty() || t.output.is_empty() {
        return Err(": `input` and `output` name topics; neither may be empty".into());
    }
    let id =
        t.id.as_deref()
            .map(IdSource::parse)
            .transpose()
            .map_err(|m| format!(".id = {m}"))?
            .unwrap_or(IdSource::Header("volley-id".into()));
    let duration = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|m| format!(".{field}: {m}"))
    };
    let timeout = duration("timeout", &t.timeout)?;
    if timeout.is_some() && t.until.is_none() {
        return Err(".timeout: applies to `until` (the run ends when `until` messages were seen, or fails at the timeout); add `until`".into());
    }
    if t.until == Some(0) {
        return Err(".until: at least 1".into());
    }
    Ok(Track {
        target: t.target.clone(),
        input: t.input.clone(),
        output: t.output.clone(),
        id,
        until: t.until,
        timeout,
        grace: duration("grace", &t.grace)?.unwrap_or(Duration::from_secs(30)),
        samples: t.samples.as_ref().map(PathBuf::from),
    })
}

/// k6's rule for which executor the shortcuts mean.
fn shortcut_executor(s: &RawScenario, rate: Option<u64>, no_scenarios: bool) -> &'static str {
    if rate.is_some() {
        "constant-arrival-rate"
    } else if s.stages.is_some() {
        "ramping-vus"
    } else if s.iterations.is_some() {
        "shared-iterations"
    } else if s.duration.is_some() {
        "constant-vus"
    } else if no_scenarios {
        // `volley run x.wasm` with nothing else: one iteration, like k6.
        "per-vu-iterations"
    } else {
        "constant-vus"
    }
}

fn scenario(
    name: &str,
    s: &RawScenario,
    base_dir: &Path,
    default_component: Option<&Path>,
) -> Result<Scenario, String> {
    let dur = |field: &str, v: &Option<String>| -> Result<Option<Duration>, String> {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|m| format!("{field}: {m}"))
    };
    let required = |field: &str, v: &Option<String>| -> Result<Duration, String> {
        dur(field, v)?.ok_or_else(|| format!("`{field}` is required for this executor"))
    };
    let stages = |v: &Option<Vec<RawStage>>| -> Result<Vec<Stage>, String> {
        let list = v
            .as_ref()
            .filter(|l| !l.is_empty())
            .ok_or("`stages` is required for this executor (e.g. stages = [{ duration = \"30s\", target = 10 }])")?;
        list.iter()
            .enumerate()
            .map(|(i, st)| {
                Ok(Stage {
                    duration: parse_duration(&st.duration)
                        .map_err(|m| format!("stages[{i}].duration: {m}"))?,
                    target: st.target,
                })
            })
            .collect()
    };
    let positive = |field: &str, v: u64| {
        if v == 0 {
            Err(format!("`{field}` must be at least 1"))
        } else {
            Ok(v)
        }
    };

    let executor_name = s.executor.as_deref().ok_or(
        "`executor` is required: constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations or shared-iterations",
    )?;
    if let Some(r) = s.spawn_rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(format!(
            "`spawnRate` ({r}): VUs started per second, more than 0"
        ));
    }
    // Fields that the chosen executor would silently ignore are errors.
    let mut allowed: Vec<&str> = vec![];
    let executor = match executor_name {
        "constant-vus" => {
            allowed.extend(["vus", "duration", "spawnRate", "maxVUs"]);
            let vus = positive("vus", s.vus.unwrap_or(1) as u64)? as u32;
            ExecutorConfig::ConstantVus {
                vus,
                max_vus: scale_ceiling(s.max_vus, vus, "vus")?,
                duration: required("duration", &s.duration)?,
                spawn_rate: s.spawn_rate,
            }
        }
        "ramping-vus" => {
            allowed.extend([
                "startVUs",
                "stages",
                "gracefulRampDown",
                "spawnRate",
                "maxVUs",
            ]);
            let stages = stages(&s.stages)?;
            let start_vus = s.start_vus.unwrap_or(1);
            let highest = stages
                .iter()
                .map(|s| s.target.min(u32::MAX as u64) as u32)
                .fold(start_vus, u32::max);
            ExecutorConfig::RampingVus {
                start_vus,
                max_vus: scale_ceiling(s.max_vus, highest, "the stages' highest target")?,
                stages,
                graceful_ramp_down: dur("gracefulRampDown", &s.graceful_ramp_down)?
                    .unwrap_or(DEFAULT_GRACEFUL_STOP),
                spawn_rate: s.spawn_rate,
            }
        }
        "constant-arrival-rate" => {
            allowed.extend(["rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"]);
            let pre = s
                .pre_allocated_vus
                .ok_or("`preAllocatedVUs` is required for constant-arrival-rate")?;
            ExecutorConfig::ConstantArrivalRate {
                rate: positive("rate", s.rate.ok_or("`rate` is required")?)?,
                time_unit: dur("timeUnit", &s.time_unit)?.unwrap_or(Duration::from_secs(1)),
                duration: required("duration", &s.duration)?,
                pre_allocated_vus: pre,
                max_vus: s.max_vus.unwrap_or(pre).max(pre),
            }
        }
        "ramping-arrival-rate" => {
            allowed.extend([
                "startRate",
                "timeUnit",
                "stages",
                "preAllocatedVUs",
                "maxVUs",
            ]);
            let pre = s
                .pre_allocated_vus
                .ok_or("`preAllocatedVUs` is required for ramping-arrival-rate")?;
            ExecutorConfig::RampingArrivalRate {
                start_rate: s.start_rate.unwrap_or(0),
                time_unit: dur("timeUnit", &s.time_unit)?.unwrap_or(Duration::from_secs(1)),
                stages: stages(&s.stages)?,
                pre_allocated_vus: pre,
                max_vus: s.max_vus.unwrap_or(pre).max(pre),
            }
        }
        "per-vu-iterations" => {
            allowed.extend(["vus", "iterations", "maxDuration"]);
            ExecutorConfig::PerVuIterations {
                vus: positive("vus", s.vus.unwrap_or(1) as u64)? as u32,
                iterations: positive("iterations", s.iterations.unwrap_or(1))?,
                max_duration: dur("maxDuration", &s.max_duration)?.unwrap_or(DEFAULT_MAX_DURATION),
            }
        }
        "shared-iterations" => {
            allowed.extend(["vus", "iterations", "maxDuration", "spawnRate"]);
            let vus = positive("vus", s.vus.unwrap_or(1) as u64)? as u32;
            let iterations = positive("iterations", s.iterations.unwrap_or(1))?;
            if iterations < vus as u64 {
                return Err(format!(
                    "`iterations` ({iterations}) must be at least `vus` ({vus}) for shared-iterations"
                ));
            }
            ExecutorConfig::SharedIterations {
                vus,
                iterations,
                max_duration: dur("maxDuration", &s.max_duration)?.unwrap_or(DEFAULT_MAX_DURATION),
                spawn_rate: s.spawn_rate,
            }
        }
        other => {
            return Err(format!(
                "unknown executor `{other}` (constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations, shared-iterations)"
            ));
        }
    };
    let present: [(&str, bool); 13] = [
        ("vus", s.vus.is_some()),
        ("iterations", s.iterations.is_some()),
        ("duration", s.duration.is_some()),
        ("maxDuration", s.max_duration.is_some()),
        ("startVUs", s.start_vus.is_some()),
        ("stages", s.stages.is_some()),
        ("gracefulRampDown", s.graceful_ramp_down.is_some()),
        ("rate", s.rate.is_some()),
        ("startRate", s.start_rate.is_some()),
        ("timeUnit", s.time_unit.is_some()),
        ("preAllocatedVUs", s.pre_allocated_vus.is_some()),
        ("maxVUs", s.max_vus.is_some()),
        ("spawnRate", s.spawn_rate.is_some()),
    ];
    if let Some((field, _)) = present.iter().find(|(f, set)| *set && !allowed.contains(f)) {
        return Err(format!(
            "`{field}` does not apply to executor `{executor_name}` (it takes: {})",
            allowed.join(", ")
        ));
    }
    if executor.max_vus() == 0 {
        return Err("the executor never has a VU (raise vus, stages' target or maxVUs)".into());
    }
    if executor.max_duration().is_zero() {
        return Err("the executor's duration is zero".into());
    }

    let component = match (&s.component, default_component) {
        (Some(c), _) => base_dir.join(c),
        (None, Some(c)) => c.to_path_buf(),
        (None, None) => {
            return Err(
                "no component: set `component = \"path.wasm\"` on the scenario or in [options], or pass one to `volley run`".into(),
            );
        }
    };
    Ok(Scenario {
        name: name.to_string(),
        component,
        exec: s.exec.clone().unwrap_or_else(|| "default".into()),
        start_time: dur("startTime", &s.start_time)?.unwrap_or_default(),
        graceful_stop: dur("gracefulStop", &s.graceful_stop)?.unwrap_or(DEFAULT_GRACEFUL_STOP),
        tags: s.tags.clone(),
        params: s.params.clone(),
        executor,
    })
}

/// `maxVUs` of a VU-looping executor: how far `volley scale` may raise it,
/// at least what the plan runs (`planned`, named by `what`).
fn scale_ceiling(max_vus: Option<u32>, planned: u32, what: &str) -> Result<Option<u32>, String> {
    match max_vus {
        Some(m) if m < planned => Err(format!(
            "`maxVUs` ({m}) is below {what} ({planned}): it is the most VUs `volley scale` may set"
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str, ov: &Overrides) -> Result<Plan, Error> {
        let raw: RawPlan = toml::from_str(text).map_err(|e| Error::Other(e.to_string()))?;
        validate(raw, Path::new("p.toml"), Path::new("/base"), ov)
    }

    #[test]
    fn full_plan_validates() {
        let p = plan(
            r#"
            [targets]
            api = "embedded:http"
            [options]
            component = "s.wasm"
            [scenarios.a]
            executor = "ramping-arrival-rate"
            preAllocatedVUs = 5
            maxVUs = 20
            stages = [{ duration = "10s", target = 100 }, { duration = "5s", target = 0 }]
            [scenarios.b]
            executor = "per-vu-iterations"
            vus = 3
            iterations = 7
            startTime = "2s"
            exec = "other"
            [thresholds]
            "http_req_duration{name:x}" = ["p(99)<200", { threshold = "avg<100", abortOnFail = true, delayAbortEval = "5s" }]
            "#,
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(p.scenarios.len(), 2);
        assert_eq!(p.scenarios[0].component, PathBuf::from("/base/s.wasm"));
        assert_eq!(p.scenarios[0].executor.max_vus(), 20);
        assert_eq!(
            p.scenarios[0].executor.max_duration(),
            Duration::from_secs(15)
        );
        assert_eq!(p.scenarios[1].exec, "other");
        assert_eq!(p.max_vus(), 23);
        assert_eq!(p.thresholds.list.len(), 2);
        assert!(p.thresholds.list[1].abort_on_fail);
        assert_eq!(
            p.thresholds.list[1].delay_abort_eval,
            Duration::from_secs(5)
        );
        assert_eq!(
            p.targets[0].kind,
            TargetKind::Embedded(crate::embedded::Kind::Http)
        );
    }

    #[test]
    fn target_overrides_replace_or_add_targets() {
        let ov = Overrides {
            targets: vec![
                ("api".into(), "http://127.0.0.1:9000/".into()),
                ("extra".into(), "embedded:auction".into()),
            ],
            ..Default::default()
        };
        let p = plan(
            "[targets]\napi = \"embedded:http\"\nother = \"http://127.0.0.1:1\"\n[options]\ncomponent = \"s.wasm\"\n",
            &ov,
        )
        .unwrap();
        let kinds: Vec<(&str, &TargetKind)> = p
            .targets
            .iter()
            .map(|t| (t.name.as_str(), &t.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    "other",
                    &TargetKind::Http {
                        url: "http://127.0.0.1:1".into(),
                        host: "127.0.0.1:1".into()
                    }
                ),
                (
                    "api",
                    &TargetKind::Http {
                        url: "http://127.0.0.1:9000".into(),
                        host: "127.0.0.1:9000".into()
                    }
                ),
                (
                    "extra",
                    &TargetKind::Embedded(crate::embedded::Kind::Auction)
                ),
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = plan(
            "[scenarios.a]\nexecutor = \"constant-vus\"\nvus = 2\ncomponent = \"x.wasm\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("scenario `a`") && e.contains("duration"), "{e}");
        let e = plan(
            "[scenarios.a]\nexecutor = \"constant-vus\"\nduration = \"1s\"\niterations = 3\ncomponent = \"x.wasm\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`iterations` does not apply"), "{e}");
        let e = plan(
            "[scenarios.a]\nexecutor = \"warp\"\ncomponent = \"x.wasm\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown executor `warp`"), "{e}");
        let e = plan(
            "[options]\ncomponent = \"x.wasm\"\n[thresholds]\nchecks = [\"p(99)<1\"]\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("a rate metric allows rate"), "{e}");
        let e = plan("bogus = 1\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = plan(
            "[targets]\napi = \"ftp://x\"\n[options]\ncomponent = \"x.wasm\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("targets.api"), "{e}");
    }

    #[test]
    fn track_tables_validate() {
        let base = "[options]\ncomponent = \"x.wasm\"\n[targets]\nkafka = \"kafka://127.0.0.1:9092\"\n[[track]]\ninput = \"a\"\noutput = \"b\"\n";
        let p = plan(
            &format!(
                "{base}target = \"kafka\"\nid = \"json:order_id\"\nuntil = 5\ntimeout = \"1m\"\n"
            ),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(p.track[0].id, IdSource::Json("order_id".into()));
        assert_eq!(p.track[0].grace, Duration::from_secs(30));
        assert_eq!(p.track[0].timeout, Some(Duration::from_secs(60)));
        for (extra, want) in [
            (
                "target = \"nope\"\n",
                "track[0].target = \"nope\": no such target",
            ),
            (
                "target = \"kafka\"\nid = \"body\"\n",
                "track[0].id = `body`: write `header`",
            ),
            (
                "target = \"kafka\"\ntimeout = \"1m\"\n",
                "track[0].timeout: applies to `until`",
            ),
            (
                "target = \"kafka\"\nuntil = 0\n",
                "track[0].until: at least 1",
            ),
        ] {
            let e = plan(&format!("{base}{extra}"), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn cli_shortcuts_replace_scenarios() {
        let ov = Overrides {
            vus: Some(10),
            duration: Some(Duration::from_secs(5)),
            component: Some(PathBuf::from("/c.wasm")),
            ..Default::default()
        };
        let p = plan("", &ov).unwrap();
        assert_eq!(
            p.scenarios[0].executor,
            ExecutorConfig::ConstantVus {
                vus: 10,
                max_vus: None,
                duration: Duration::from_secs(5),
                spawn_rate: None,
            }
        );
        let ov = Overrides {
            iterations: Some(100),
            vus: Some(4),
            component: Some(PathBuf::from("/c.wasm")),
            ..Default::default()
        };
        assert_eq!(
            plan("", &ov).unwrap().scenarios[0].executor.name(),
            "shared-iterations"
        );
        let ov = Overrides {
            rate: Some(50),
            duration: Some(Duration::from_secs(5)),
            component: Some(PathBuf::from("/c.wasm")),
            ..Default::default()
        };
        let p = plan("", &ov).unwrap();
        assert_eq!(p.scenarios[0].executor.name(), "constant-arrival-rate");
        let ov = Overrides {
            component: Some(PathBuf::from("/c.wasm")),
            ..Default::default()
        };
        let p = plan("", &ov).unwrap();
        assert_eq!(
            p.scenarios[0].executor,
            ExecutorConfig::PerVuIterations {
                vus: 1,
                iterations: 1,
                max_duration: DEFAULT_MAX_DURATION
            }
        );
    }

    #[test]
    fn only_scenarios_filters() {
        let text = "[options]\ncomponent = \"x.wasm\"\n[scenarios.a]\nexecutor = \"per-vu-iterations\"\n[scenarios.b]\nexecutor = \"per-vu-iterations\"\n";
        let ov = Overrides {
            only_scenarios: vec!["b".into()],
            ..Default::default()
        };
        let p = plan(text, &ov).unwrap();
        assert_eq!(p.scenarios.len(), 1);
        assert_eq!(p.scenarios[0].name, "b");
        let ov = Overrides {
            only_scenarios: vec!["zz".into()],
            ..Default::default()
        };
        let e = plan(text, &ov).unwrap_err().to_string();
        assert!(e.contains("no such scenario") && e.contains("a, b"), "{e}");
    }

    const TWO: &str = "[options]\ncomponent = \"x.wasm\"\n[scenarios.viewers]\nexecutor = \"constant-vus\"\nexec = \"viewer\"\nvus = 100\nduration = \"40s\"\n[scenarios.publisher]\nexecutor = \"constant-arrival-rate\"\nexec = \"fanout\"\nrate = 1\nduration = \"30s\"\npreAllocatedVUs = 1\nstartTime = \"5s\"\ntags = { role = \"pub\" }\n[thresholds]\n\"checks{scenario:viewers}\" = [\"rate>0.9\"]\nchecks = [\"rate>0.9\"]\n";

    #[test]
    fn shortcuts_on_several_scenarios_are_refused_with_the_alternative() {
        let ov = Overrides {
            vus: Some(100),
            duration: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let e = plan(TWO, &ov).unwrap_err().to_string();
        assert!(
            e.contains("2 scenarios (publisher, viewers)")
                && e.contains("`--scenario publisher --vus 100 --duration 5s`"),
            "{e}"
        );
        let e = plan(&format!("duration = \"5s\"\n{TWO}"), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("top-level") && e.contains("[scenarios.NAME]"),
            "{e}"
        );
    }

    #[test]
    fn shortcuts_reshape_the_one_scenario_and_keep_what_it_runs() {
        let ov = Overrides {
            vus: Some(3),
            duration: Some(Duration::from_secs(5)),
            only_scenarios: vec!["publisher".into()],
            ..Default::default()
        };
        let p = plan(TWO, &ov).unwrap();
        assert_eq!(p.scenarios.len(), 1);
        let s = &p.scenarios[0];
        assert_eq!((s.name.as_str(), s.exec.as_str()), ("publisher", "fanout"));
        assert_eq!(s.tags.get("role").map(String::as_str), Some("pub"));
        assert_eq!(s.start_time, Duration::from_secs(5));
        assert_eq!(
            s.executor,
            ExecutorConfig::ConstantVus {
                vus: 3,
                max_vus: None,
                duration: Duration::from_secs(5),
                spawn_rate: None
            }
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("replaces its constant-arrival-rate load")),
            "{:?}",
            p.notes
        );
        // The threshold on the dropped scenario is skipped, with a note.
        assert_eq!(p.thresholds.list.len(), 1);
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("scenario `viewers` does not run")),
            "{:?}",
            p.notes
        );
        assert_eq!(p.dropped_scenarios, ["viewers"]);
    }

    #[test]
    fn command_line_shape_replaces_the_plans_like_k6() {
        let staged =
            "stages = [{ duration = \"10s\", target = 10 }]\n[options]\ncomponent = \"x.wasm\"\n";
        // `-i 3 -u 1` on stages: the stages give way (k6's precedence).
        let ov = Overrides {
            vus: Some(1),
            iterations: Some(3),
            ..Default::default()
        };
        let p = plan(staged, &ov).unwrap();
        assert!(
            matches!(
                p.scenarios[0].executor,
                ExecutorConfig::SharedIterations {
                    vus: 1,
                    iterations: 3,
                    ..
                }
            ),
            "{:?}",
            p.scenarios[0].executor
        );
        // `-u 2` alone keeps the stages and starts the ramp at 2 VUs.
        let ov = Overrides {
            vus: Some(2),
            ..Default::default()
        };
        let p = plan(staged, &ov).unwrap();
        assert!(
            matches!(
                p.scenarios[0].executor,
                ExecutorConfig::RampingVus { start_vus: 2, .. }
            ),
            "{:?}",
            p.scenarios[0].executor
        );
        // `-i 3` on a plan's vus + duration: iterations replace the duration.
        let ov = Overrides {
            iterations: Some(3),
            ..Default::default()
        };
        let p = plan(
            "vus = 2\nduration = \"30s\"\n[options]\ncomponent = \"x.wasm\"\n",
            &ov,
        )
        .unwrap();
        assert!(
            matches!(
                p.scenarios[0].executor,
                ExecutorConfig::SharedIterations {
                    vus: 2,
                    iterations: 3,
                    ..
                }
            ),
            "{:?}",
            p.scenarios[0].executor
        );
    }

    #[test]
    fn spawn_rate_applies_to_vu_executors() {
        let one = "[options]\ncomponent = \"x.wasm\"\n[scenarios.a]\nexecutor = \"ramping-vus\"\nstages = [{ duration = \"10s\", target = 10 }]\n";
        let ov = Overrides {
            spawn_rate: Some(2.5),
            ..Default::default()
        };
        let p = plan(one, &ov).unwrap();
        assert!(matches!(
            p.scenarios[0].executor,
            ExecutorConfig::RampingVus {
                spawn_rate: Some(r),
                ..
            } if r == 2.5
        ));
        let p = plan(
            "[options]\ncomponent = \"x.wasm\"\n[scenarios.a]\nexecutor = \"constant-vus\"\nduration = \"1s\"\nspawnRate = 4\n",
            &Overrides::default(),
        )
        .unwrap();
        assert!(matches!(
            p.scenarios[0].executor,
            ExecutorConfig::ConstantVus {
                spawn_rate: Some(r),
                ..
            } if r == 4.0
        ));
        let e = plan(
            "[options]\ncomponent = \"x.wasm\"\n[scenarios.a]\nexecutor = \"per-vu-iterations\"\n",
            &ov,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`spawnRate` does not apply to executor `per-vu-iterations`"),
            "{e}"
        );
        let e = plan(TWO, &ov).unwrap_err().to_string();
        assert!(e.contains("--spawn-rate applies to one scenario"), "{e}");
        let e = plan(
            "[options]\ncomponent = \"x.wasm\"\n[scenarios.a]\nexecutor = \"constant-vus\"\nduration = \"1s\"\nspawnRate = 0\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("more than 0"), "{e}");
    }

    #[test]
    fn seed_no_data_and_redirects_come_from_the_plan_or_flags() {
        let text = "[options]\ncomponent = \"x.wasm\"\nseed = 7\nmaxRedirects = 0\n[thresholds]\nws_fanout_latency = [{ threshold = \"p(99)<1\", noData = \"pass\" }]\n";
        let p = plan(text, &Overrides::default()).unwrap();
        assert_eq!((p.seed, p.max_redirects), (Some(7), 0));
        assert_eq!(p.thresholds.list[0].no_data, NoData::Pass);
        let ov = Overrides {
            seed: Some(9),
            ..Default::default()
        };
        assert_eq!(plan(text, &ov).unwrap().seed, Some(9));
        let p = plan("[options]\ncomponent = \"x.wasm\"\n", &Overrides::default()).unwrap();
        assert_eq!((p.seed, p.max_redirects), (None, 10));
        let e = plan(
            "[options]\ncomponent = \"x.wasm\"\n[thresholds]\nchecks = [{ threshold = \"rate>0\", noData = \"skip\" }]\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("thresholds.\"checks\".noData"), "{e}");
    }
}
