//! The commands behind the CLI: resolve what the user pointed at, call the
//! library, map the result to an exit code. `anyhow`-free: every failure is a
//! [`crate::Error`] with a message naming what to fix.

use crate::cli::{
    BuildArgs, Cli, Command, InspectArgs, KafkaCommand, KafkaConn, KafkaLagArgs, KafkaResetArgs,
    MergeArgs, NewArgs, ReportArgs, RunArgs, TargetsArgs,
};
use crate::plan::{self, Overrides, RawPlan, Stage, parse_duration};
use crate::protocol::{Allowlist, kafka};
use crate::run::{RunOptions, run};
use crate::wasm::{Runtime, RuntimeConfig};
use crate::{Error, ExitCode};

mod build;
mod control;
mod inspect;
mod kafka_cmd;
mod merge;
mod report;
mod run_cmd;
mod targets;

use build::{cmd_build, cmd_new};
use control::{ControlCmd, cmd_control};
use inspect::cmd_inspect;
use kafka_cmd::{cmd_kafka_lag, cmd_kafka_reset};
use merge::cmd_merge;
use report::cmd_report;
use run_cmd::cmd_run;
pub use run_cmd::{Resolved, overrides, resolve};
use targets::cmd_targets;

/// Runs a parsed command line; returns the process exit code.
pub fn execute(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => cmd_run(*args),
        Command::Build(args) => cmd_build(args),
        Command::New(args) => cmd_new(args),
        Command::Inspect(args) => cmd_inspect(args),
        Command::Targets(args) => cmd_targets(args),
        Command::Merge(args) => cmd_merge(args),
        Command::Report(args) => cmd_report(args),
        Command::Kafka(KafkaCommand::Lag(args)) => cmd_kafka_lag(args),
        Command::Kafka(KafkaCommand::ResetOffsets(args)) => cmd_kafka_reset(args),
        Command::Pack(args) => crate::package::cmd_pack(args),
        Command::Push(args) => crate::package::cmd_push(args),
        Command::Pull(args) => crate::package::cmd_pull(args),
        Command::Accept(args) => crate::package::cmd_accept(args),
        Command::Sign(args) => crate::package::cmd_sign(args),
        Command::Verify(args) => crate::package::cmd_verify(args),
        Command::GenerateKeyPair(args) => crate::package::cmd_key_pair(args),
        Command::Ps(r) => cmd_control(r.run, r.token, ControlCmd::Ps),
        Command::Stop(r) => cmd_control(r.run, r.token, ControlCmd::Stop),
        Command::Swap(a) => cmd_control(Some(a.run), a.token, ControlCmd::Swap(a.component)),
        Command::Rollback(r) => cmd_control(r.run, r.token, ControlCmd::Rollback),
        Command::Scale(a) => cmd_control(
            Some(a.run),
            a.token,
            ControlCmd::Scale {
                scenario: a.scenario,
                vus: a.vus,
                rate: a.rate,
            },
        ),
    };
    match result {
        Ok(code) => code.code(),
        Err(e) => {
            // A setup or teardown error may quote the scenario's own text.
            let text = e.to_string();
            eprintln!(
                "error: {}",
                crate::output::format::terminal_safe(&text, 64 * 1024)
            );
            e.exit_code().code()
        }
    }
}

pub(super) fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, Error> {
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
