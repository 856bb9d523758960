//! Command-line types (clap derive only). What the commands do lives in
//! [`crate::app`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// volley: load tests whose virtual users are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "volley", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test: a component (.wasm), a plan (.toml) or a scenario folder.
    Run(Box<RunArgs>),
    /// Build a scenario (Rust, Python, JavaScript or C; a folder or one file) into a component.
    Build(BuildArgs),
    /// Create a scenario folder (--lang rust|python|js|c) that builds and runs against the embedded targets.
    New(NewArgs),
    /// Show what a component is: its size, imports and exports.
    Inspect(InspectArgs),
    /// Serve the embedded targets standalone until Ctrl-C.
    Targets(TargetsArgs),
    /// Merge `--summary-export` files of shards into one, losslessly (or
    /// their `--out hdr=` interval logs, second by second).
    Merge(MergeArgs),
    /// Draw a summary export: one self-contained HTML report, or a trend's latency histogram as PNG or SVG.
    Report(ReportArgs),
    /// Kafka consumer groups of the system under test: lag, offset resets.
    #[command(subcommand)]
    Kafka(KafkaCommand),
    /// Make a scenario folder one shareable component: metadata, parameters, plans, capabilities.
    Pack(crate::package::PackArgs),
    /// Push a package (or a folder, packed first) to an OCI registry.
    Push(crate::package::PushArgs),
    /// Fetch a package into the cache and pin its digest in volley.lock.
    Pull(crate::package::PullArgs),
    /// Accept what a package wants (network, hosts) so it may run here.
    Accept(crate::package::AcceptArgs),
    /// Sign a pushed package with a key (cosign's key-based format).
    Sign(crate::package::SignArgs),
    /// Check a package's signature against a public key.
    Verify(crate::package::VerifyArgs),
    /// Write a key pair for `volley sign` (PREFIX.key, PREFIX.pub).
    GenerateKeyPair(crate::package::KeyPairArgs),
    /// List the runs going on this machine (for this user), or the run at HOST:PORT.
    Ps(RunRef),
    /// Stop a run: no new iterations, those in flight finish (like Ctrl-C).
    Stop(RunRef),
    /// Hot-swap a running test to another component, scenario folder or source file.
    Swap(SwapArgs),
    /// Roll back a run's swap in progress, or its last committed swap.
    Rollback(RunRef),
    /// Change a running scenario's VUs (constant-vus, ramping-vus) or arrival rate (constant-arrival-rate).
    Scale(ScaleArgs),
}

#[derive(Debug, Args)]
pub struct RunRef {
    /// The run's process id (`volley ps`; optional when one run is going),
    /// or the HOST:PORT of its `--control` listener.
    pub run: Option<String>,
    /// The run's control token (over TCP; a run of this machine's is found).
    #[arg(long, env = "VOLLEY_CONTROL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct SwapArgs {
    /// The run's process id (`volley ps`), or HOST:PORT of its `--control`.
    pub run: String,
    /// The new component (.wasm), or a scenario folder or source file to build.
    pub component: PathBuf,
    /// The run's control token (over TCP; a run of this machine's is found).
    #[arg(long, env = "VOLLEY_CONTROL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The run's process id (`volley ps`), or HOST:PORT of its `--control`.
    pub run: String,
    /// The scenario to change.
    pub scenario: String,
    /// VUs from now on (constant-vus, ramping-vus; at most the scenario's maxVUs).
    #[arg(long, conflicts_with = "rate", required_unless_present = "rate")]
    pub vus: Option<u32>,
    /// Iterations per second from now on (constant-arrival-rate).
    #[arg(long)]
    pub rate: Option<f64>,
    /// The run's control token (over TCP; a run of this machine's is found).
    #[arg(long, env = "VOLLEY_CONTROL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KafkaCommand {
    /// Show a consumer group's committed offsets, high watermarks and lag.
    Lag(KafkaLagArgs),
    /// Set a consumer group's offsets on a topic (stop its consumers first).
    ResetOffsets(KafkaResetArgs),
}

#[derive(Debug, Args)]
pub struct KafkaConn {
    /// Bootstrap servers, `host:port[,host:port]`.
    #[arg(long, short = 'b')]
    pub bootstrap: String,
    /// A librdkafka property `KEY=VALUE` (SASL, TLS, ...; repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KafkaLagArgs {
    #[command(flatten)]
    pub conn: KafkaConn,
    /// The consumer group.
    #[arg(long, short = 'g')]
    pub group: String,
    /// The topic the group consumes.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[group(id = "to", required = true, multiple = false, args = ["to_earliest", "to_latest", "to_offset"])]
pub struct KafkaResetArgs {
    #[command(flatten)]
    pub conn: KafkaConn,
    /// The consumer group.
    #[arg(long, short = 'g')]
    pub group: String,
    /// The topic whose partitions are reset.
    #[arg(long, short = 't')]
    pub topic: String,
    /// Every partition to its first offset (replay everything).
    #[arg(long)]
    pub to_earliest: bool,
    /// Every partition to its end (skip everything).
    #[arg(long)]
    pub to_latest: bool,
    /// Every partition to this offset (clamped to what exists).
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
    /// While the group still has members, retry for up to this long
    /// (e.g. `60s`: the broker drops a stopped consumer after its session
    /// timeout); without it an active group is an error at once.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    /// Commit as a member of the group instead of from outside: for brokers
    /// that refuse outside commits on a group they know, such as the
    /// embedded mock cluster (`volley targets --kafka`). Stop the group's
    /// consumers first: joining rebalances it.
    #[arg(long)]
    pub join: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A component (`x.wasm`), a plan (`x.toml`), a scenario folder, a
    /// scenario source file (`x.js`, `x.py`, `x.c`) or a package
    /// (`oci://host/ns/name:tag`); sources are built when needed, and a
    /// folder's (or package's) `default` plan runs unless --plan says otherwise.
    pub target: PathBuf,
    /// Which plan of a scenario folder to run (`plans/NAME.toml`).
    #[arg(long, short = 'p')]
    pub plan: Option<String>,
    /// Run only this scenario of the plan (repeatable).
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Number of VUs (Locust: --users). With --duration, --iterations,
    /// --stage or --rate it replaces the load of the plan's one scenario
    /// (its exec, component, tags and params stay); a plan with several
    /// scenarios needs --scenario NAME first.
    #[arg(long, short = 'u', visible_alias = "users")]
    pub vus: Option<u32>,
    /// How long to run, e.g. `30s`, `1m30s` (constant-vus, or with --rate).
    #[arg(long, short = 'd')]
    pub duration: Option<String>,
    /// VUs started per second instead of all at once (Locust's -r); for
    /// constant-vus, ramping-vus and shared-iterations.
    #[arg(long, short = 'r', value_name = "N")]
    pub spawn_rate: Option<f64>,
    /// Total iterations shared by the VUs (shared-iterations).
    #[arg(long, short = 'i')]
    pub iterations: Option<u64>,
    /// Iterations per second (constant-arrival-rate; needs --duration; --vus
    /// sets the pre-allocated VUs).
    #[arg(long)]
    pub rate: Option<u64>,
    /// A ramping stage `DURATION:TARGET`, e.g. `30s:100` (repeatable; ramping-vus).
    #[arg(long = "stage", short = 's', value_name = "DURATION:TARGET")]
    pub stages: Vec<String>,
    /// The random seed: the same seed repeats every VU's random numbers
    /// (default: a fresh seed per run, shown in the summary).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The entry name passed to the scenario's `run` (k6's --exec).
    #[arg(long)]
    pub exec: Option<String>,
    /// A parameter for the scenario, `KEY=VALUE` (repeatable).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Point the plan's target NAME elsewhere, `NAME=URL` or
    /// `NAME=embedded:KIND` (repeatable), e.g. at a `volley targets` process.
    #[arg(long = "target", value_name = "NAME=URL")]
    pub targets: Vec<String>,
    /// A threshold `METRIC:EXPR`, e.g. `http_req_duration:p(99)<500` (repeatable).
    #[arg(long = "threshold", value_name = "METRIC:EXPR")]
    pub thresholds: Vec<String>,
    /// A host scenarios may reach besides the plan's targets (`host`,
    /// `host:port`, `*.domain`, `*`; repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Write the summary as JSON (k6's layout plus mergeable histograms).
    #[arg(long, value_name = "FILE")]
    pub summary_export: Option<PathBuf>,
    /// Stream results as they are collected: `json=FILE` (k6's JSON lines),
    /// `csv=FILE` (k6's columns), `influxdb=URL` (line protocol, e.g.
    /// http://127.0.0.1:8086/volley), `prometheus-rw=URL` (remote write;
    /// add `?histograms=native` to send trends as native histograms),
    /// `hdr=FILE` (HdrHistogram interval log); repeatable.
    #[arg(long = "out", short = 'o', value_name = "KIND=TARGET")]
    pub out: Vec<String>,
    /// Serve a live dashboard (charts each second, thresholds, checks, a
    /// stop button) at ADDR, 127.0.0.1:5665 when none is given
    /// (`--dashboard=127.0.0.1:0` picks a free port).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = crate::output::dashboard::DEFAULT_ADDR)]
    pub dashboard: Option<String>,
    /// Let --dashboard listen on an address other machines reach (anyone
    /// who reaches it can watch and stop the run).
    #[arg(long, requires = "dashboard")]
    pub dashboard_allow_remote: bool,
    /// Longest one iteration may run before it is stopped and counted failed.
    #[arg(long, value_name = "DURATION")]
    pub iteration_timeout: Option<String>,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress lines while running.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// No end-of-test summary (and no call to a k6 script's `handleSummary`).
    #[arg(long)]
    pub no_summary: bool,
    /// No colors in the summary.
    #[arg(long)]
    pub no_color: bool,
    /// Lowest level of scenario log lines shown: trace, debug, info, warn, error.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Hot swap: when the scenario's sources (or its component file) change,
    /// rebuild and move the running VUs to the new version (canary, waves,
    /// rollback on failure); a build error leaves the old version running.
    #[arg(long)]
    pub watch: bool,
    /// Also take control requests (`volley ps/stop/scale/swap/rollback`) over
    /// TCP at IP:PORT, each carrying a token (generated and printed for a
    /// loopback address).
    #[arg(long, value_name = "IP:PORT")]
    pub control: Option<String>,
    /// The token control requests over TCP must carry (required with a
    /// non-loopback --control; at least 16 characters).
    #[arg(long, value_name = "TOKEN", requires = "control")]
    pub control_token: Option<String>,
    /// Allocate instances on demand instead of from the pool.
    #[arg(long, hide = true)]
    pub no_pooling: bool,
    #[command(flatten)]
    pub package: crate::package::RunPackageArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The scenario folder (Cargo.toml, *.js, *.py or *.c) or one source file.
    pub dir: PathBuf,
    /// Rebuild even when the sources did not change.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The folder to create (its name becomes the component's name).
    pub dir: PathBuf,
    /// The scenario's language: rust, python, js or c.
    #[arg(long, default_value = "rust")]
    pub lang: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The component file, or a package (`oci://host/ns/name:tag`).
    pub component: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// Address of the HTTP ingest target.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Address of the auction target (bids over HTTP, WebSocket fan-out).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub auction: String,
    /// Also start the Kafka mock cluster (3 brokers on free loopback ports)
    /// with the enricher pipeline (orders.raw -> orders.enriched).
    #[arg(long)]
    pub kafka: bool,
    /// Delay the enricher adds per message, e.g. `5ms` (its lag grows).
    #[arg(long, value_name = "DURATION")]
    pub kafka_delay: Option<String>,
    /// Share of messages the enricher drops, 0.0 to 1.0.
    #[arg(long, default_value_t = 0.0)]
    pub kafka_drop_rate: f64,
    /// With --kafka: run the enricher pipeline on this broker
    /// (`host:port,...`, e.g. tansu or Kafka) instead of starting the mock
    /// cluster; its topics are created when missing.
    #[arg(long, value_name = "BOOTSTRAP", requires = "kafka")]
    pub kafka_broker: Option<String>,
    /// Delay added to every `POST /messages`, e.g. `20ms`.
    #[arg(long)]
    pub delay: Option<String>,
    /// Share of `POST /messages` answered 503, 0.0 to 1.0.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Seats of each event of the booking API (default 100,000); a
    /// sold-out event answers 409.
    #[arg(long, value_name = "N")]
    pub seats: Option<u64>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The exports to merge (or HdrHistogram interval logs, all of them).
    #[arg(required = true, num_args = 2..)]
    pub inputs: Vec<PathBuf>,
    /// Where to write the merged export.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A `--summary-export` file (a checkpoint of a running or killed run works too).
    pub export: PathBuf,
    /// Write the HTML report here: charts over time, histograms, thresholds,
    /// checks, scenarios and versions, in one file with nothing to fetch.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the latency histogram of --metric as a PNG picture.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Write the latency histogram of --metric as an SVG picture.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// The trend of --png and --svg, optionally with tags:
    /// `kafka_e2e_latency`, `http_req_duration{name:login}`.
    #[arg(long, value_name = "NAME", default_value = "http_req_duration")]
    pub metric: String,
    /// Bars of the histogram (equal widths from the minimum to the maximum).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub bins: u32,
    /// Size of the PNG and SVG pictures, `WIDTHxHEIGHT` in pixels.
    #[arg(long, value_name = "WxH", default_value = "960x540")]
    pub size: String,
}
