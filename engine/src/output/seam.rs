//! The output seam: one trait every output implements, and the one list
//! where outputs are registered.
//!
//! An output is told when the run starts, gets a [`Tick`] once a second
//! from the collector and the [`Report`] at the end. It never sees
//! individual samples, so it cannot slow the hot path. Adding an output is
//! one file implementing [`Output`] plus one line in [`Outputs::from_options`]
//! (or one entry in [`STREAMS`] for a `--out KIND=TARGET`).

use std::path::PathBuf;
use std::time::Duration;

use super::{Report, ScenarioReport};
use crate::Error;
use crate::metrics::Aggregate;

/// What an output knows before the first second.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub scenarios: Vec<ScenarioReport>,
    /// Each scenario's end, in the order of `scenarios` (for progress bars).
    pub goals: Vec<super::progress::Goal>,
    /// The run's random seed (`--seed` repeats it).
    pub seed: u64,
}

/// One second of the run, as the collector merged it.
#[derive(Debug, Clone, Copy)]
pub struct Tick<'a> {
    /// Since the scenarios started.
    pub elapsed: Duration,
    /// What arrived in this second only.
    pub interval: &'a Aggregate,
    /// Everything so far.
    pub total: &'a Aggregate,
    /// The most VUs running an iteration at once in this second.
    pub vus: u64,
    /// Lines other parts of the engine want shown with the progress (a
    /// Kafka track's counts, for one).
    pub notes: &'a [String],
}

/// An output. Every method has a no-op default, so an output writes only
/// what it needs. Called from the collector task: no method may block for
/// long (write a file, not a network round trip per call).
pub trait Output: Send {
    /// Names the output in messages (`summary export`, `json`).
    fn name(&self) -> &str;

    fn start(&mut self, _info: &RunInfo) -> Result<(), Error> {
        Ok(())
    }

    fn interval(&mut self, _tick: &Tick<'_>) -> Result<(), Error> {
        Ok(())
    }

    fn finish(&mut self, _report: &Report) -> Result<(), Error> {
        Ok(())
    }
}

/// Which outputs a run has, from the command line.
#[derive(Debug, Clone, Default)]
pub struct OutputOptions {
    /// Progress on stderr once a second.
    pub progress: bool,
    /// The end-of-test summary on stdout.
    pub summary: bool,
    pub color: bool,
    /// `--summary-export FILE`: the export at the end, a checkpoint each second.
    pub summary_export: Option<PathBuf>,
    /// `--out KIND=TARGET`, repeatable.
    pub out: Vec<String>,
}

/// A streaming output's constructor, from the part after `KIND=`.
type Open = fn(&str) -> Result<Box<dyn Output>, Error>;

/// `--out` kinds: one line per output.
const STREAMS: &[(&str, Open)] = &[
    ("json", super::json::open),
    ("csv", super::csv::open),
    ("influxdb", super::influxdb::open),
    ("prometheus-rw", super::prometheus_rw::open),
    ("hdr", super::hdr::open),
];

/// Every output of a run, in the order they are called.
#[derive(Default)]
pub struct Outputs {
    list: Vec<Box<dyn Output>>,
    /// Whether an output's `interval` failed already (said once, not every second).
    warned: Vec<bool>,
}

impl Outputs {
    pub fn new(list: Vec<Box<dyn Output>>) -> Outputs {
        let warned = vec![false; list.len()];
        Outputs { list, warned }
    }

    /// The one list where outputs are registered: the terminal progress,
    /// the summary, the summary export, then every `--out` in its order.
    pub fn from_options(opts: &OutputOptions) -> Result<Outputs, Error> {
        let mut list: Vec<Box<dyn Output>> = Vec::new();
        if opts.progress {
            use std::io::IsTerminal;
            let tty = std::io::stderr().is_terminal();
            list.push(Box::new(super::progress::Progress::new(tty)));
        }
        if opts.summary {
            list.push(Box::new(super::summary::Summary { color: opts.color }));
        }
        if let Some(path) = &opts.summary_export {
            list.push(Box::new(super::export::SummaryExport::new(path.clone())));
        }
        for spec in &opts.out {
            list.push(open_stream(spec)?);
        }
        Ok(Outputs::new(list))
    }

    /// Adds an output made outside [`Outputs::from_options`] (one that
    /// needs the run's own parts, like the dashboard's stop).
    pub fn push(&mut self, output: Box<dyn Output>) {
        self.list.push(output);
        self.warned.push(false);
    }

    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|o| o.name()).collect()
    }

    /// Tells every output the run starts; the first that cannot start
    /// fails the run before any load is made.
    pub fn start(&mut self, info: &RunInfo) -> Result<(), Error> {
        self.list.iter_mut().try_for_each(|o| o.start(info))
    }

    /// One second: an output that fails is said once and keeps being
    /// called (a full disk may free up); the others go on.
    pub fn interval(&mut self, tick: &Tick<'_>) {
        for (o, warned) in self.list.iter_mut().zip(&mut self.warned) {
            if let Err(e) = o.interval(tick)
                && !std::mem::replace(warned, true)
            {
                super::log(
                    "WARN",
                    format_args!("WARN  output {}: {e} (said once)", o.name()),
                );
            }
        }
    }

    /// The end: every output finishes, even after one failed; the first
    /// failure is returned.
    pub fn finish(&mut self, report: &Report) -> Result<(), Error> {
        let mut first = None;
        for o in &mut self.list {
            if let Err(e) = o.finish(report) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn open_stream(spec: &str) -> Result<Box<dyn Output>, Error> {
    let known = || {
        STREAMS
            .iter()
            .map(|(k, _)| format!("{k}=..."))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (kind, target) = spec.split_once('=').ok_or_else(|| {
        Error::Config(format!(
            "--out {spec}: write KIND=TARGET (one of: {})",
            known()
        ))
    })?;
    let open = STREAMS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, open)| open)
        .ok_or_else(|| {
            Error::Config(format!(
                "--out {spec}: no output `{kind}` (one of: {})",
                known()
            ))
        })?;
    if target.is_empty() {
        return Err(Error::Config(format!(
            "--out {spec}: name a file or URL after `{kind}=`"
        )));
    }
    open(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records what it was told, and fails where told to.
    struct Probe {
        name: &'static str,
        calls: Arc<Mutex<Vec<String>>>,
        fail_interval: bool,
        fail_finish: bool,
    }

    impl Output for Probe {
        fn name(&self) -> &str {
            self.name
        }
        fn start(&mut self, info: &RunInfo) -> Result<(), Error> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{} start seed={}", self.name, info.seed));
            Ok(())
        }
        fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
            self.calls.lock().unwrap().push(format!(
                "{} tick {}s",
                self.name,
                tick.elapsed.as_secs()
            ));
            if self.fail_interval {
                return Err(Error::Other("disk full".into()));
            }
            Ok(())
        }
        fn finish(&mut self, report: &Report) -> Result<(), Error> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{} finish seed={}", self.name, report.seed));
            if self.fail_finish {
                return Err(Error::Other(format!("{} failed", self.name)));
            }
            Ok(())
        }
    }

    fn probe(name: &'static str, calls: &Arc<Mutex<Vec<String>>>) -> Probe {
        Probe {
            name,
            calls: calls.clone(),
            fail_interval: false,
            fail_finish: false,
        }
    }

    fn report() -> Report {
        Report {
            aggregate: Aggregate::default(),
            elapsed: Duration::from_secs(1),
            thresholds: Vec::new(),
            scenarios: Vec::new(),
            active: Default::default(),
            aborted: None,
            seed: 7,
            swaps: Vec::new(),
            faults: None,
            handled_summary: None,
        }
    }

    fn tick(agg: &Aggregate, secs: u64) -> Tick<'_> {
        Tick {
            elapsed: Duration::from_secs(secs),
            interval: agg,
            total: agg,
            vus: 1,
            notes: &[],
        }
    }

    #[test]
    fn every_output_is_called_in_order_at_each_phase() {
        let calls = Arc::default();
        let mut outs = Outputs::new(vec![
            Box::new(probe("a", &calls)),
            Box::new(probe("b", &calls)),
        ]);
        let agg = Aggregate::default();
        outs.start(&RunInfo {
            scenarios: Vec::new(),
            goals: Vec::new(),
            seed: 7,
        })
        .unwrap();
        outs.interval(&tick(&agg, 1));
        outs.interval(&tick(&agg, 2));
        outs.finish(&report()).unwrap();
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "a start seed=7",
                "b start seed=7",
                "a tick 1s",
                "b tick 1s",
                "a tick 2s",
                "b tick 2s",
                "a finish seed=7",
                "b finish seed=7",
            ]
        );
    }

    #[test]
    fn a_failing_output_neither_stops_the_others_nor_hides_its_error() {
        let calls = Arc::default();
        let mut outs = Outputs::new(vec![
            Box::new(Probe {
                fail_interval: true,
                fail_finish: true,
                ..probe("bad", &calls)
            }),
            Box::new(probe("good", &calls)),
        ]);
        let agg = Aggregate::default();
        outs.interval(&tick(&agg, 1));
        outs.interval(&tick(&agg, 2));
        let e = outs.finish(&report()).unwrap_err();
        assert_eq!(e.to_string(), "bad failed");
        let calls = calls.lock().unwrap();
        // The failing output is still called each second, and the good one
        // every time, through to its finish.
        assert_eq!(
            calls.iter().filter(|c| c.starts_with("bad tick")).count(),
            2
        );
        assert_eq!(
            calls.iter().filter(|c| c.starts_with("good tick")).count(),
            2
        );
        assert!(calls.contains(&"good finish seed=7".to_string()));
        drop(calls);
        assert_eq!(outs.warned, [true, false]);
    }

    #[test]
    fn the_registry_follows_the_options() {
        let none = Outputs::from_options(&OutputOptions::default()).unwrap();
        assert!(none.names().is_empty());
        let all = Outputs::from_options(&OutputOptions {
            progress: true,
            summary: true,
            color: false,
            summary_export: Some("x.json".into()),
            out: Vec::new(),
        })
        .unwrap();
        assert_eq!(all.names(), ["progress", "summary", "summary export"]);
    }

    #[test]
    fn an_unknown_out_kind_names_the_flag() {
        for (spec, says) in [
            ("nope=x", "--out nope=x: no output `nope`"),
            ("json", "--out json: write KIND=TARGET"),
        ] {
            let e = Outputs::from_options(&OutputOptions {
                out: vec![spec.into()],
                ..Default::default()
            })
            .err()
            .expect("refused");
            assert!(matches!(e, Error::Config(_)), "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
