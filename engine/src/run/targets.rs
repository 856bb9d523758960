//! The targets phase: starts the plan's embedded targets and turns every
//! target into what the rest of the run needs: a scenario parameter (the
//! URL, or a Kafka target's broker list), allowed hosts, and the Kafka
//! clusters the engine's own clients connect to.
//!
//! Targets arrive typed from the plan ([`TargetKind`]); nothing here parses
//! a plan's URL again. It owns the embedded servers until the run ends.

use std::collections::BTreeMap;

use crate::Error;
use crate::embedded;
use crate::plan::{Plan, TargetKind};
use crate::protocol::kafka::Target as KafkaTarget;

/// The plan's targets, started.
#[derive(Debug, Default)]
pub struct Targets {
    /// Target name -> what scenarios get as that parameter.
    pub params: BTreeMap<String, String>,
    /// The plan's allowed hosts plus every target's hosts.
    pub allow: Vec<String>,
    /// Kafka targets by name, for tracking and lag watching.
    pub kafka: Vec<(String, KafkaTarget)>,
    /// Fault switches of the embedded targets that have them, by name.
    pub controls: BTreeMap<String, std::sync::Arc<embedded::fault::Controls>>,
    /// HTTP targets by name with their base URL (each gets a timeline).
    pub http: Vec<(String, String)>,
    servers: Vec<embedded::Server>,
}

impl Targets {
    /// Starts every embedded target on a free loopback port.
    pub async fn start(plan: &Plan, progress: bool) -> Result<Targets, Error> {
        let mut out = Targets {
            allow: plan.allow_hosts.clone(),
            ..Targets::default()
        };
        for target in &plan.targets {
            let kind = match &target.kind {
                TargetKind::Embedded(kind) => {
                    let addr = "127.0.0.1:0".parse().expect("valid address");
                    let server = embedded::start(*kind, addr).await.map_err(|e| {
                        Error::io(format!("starting embedded target `{}`", target.name), e)
                    })?;
                    let url = server.url();
                    if progress {
                        crate::output::log(
                            "INFO",
                            format_args!("embedded target `{}` at {url}", target.name),
                        );
                    }
                    if let Some(c) = server.controls() {
                        out.controls.insert(target.name.clone(), c);
                    }
                    out.servers.push(server);
                    // The server's own URL, typed like a plan's.
                    TargetKind::parse(&url).map_err(|m| {
                        Error::Other(format!("embedded target `{}`: {m}", target.name))
                    })?
                }
                kind => kind.clone(),
            };
            out.add(&target.name, kind)?;
        }
        Ok(out)
    }

    fn add(&mut self, name: &str, kind: TargetKind) -> Result<(), Error> {
        match kind {
            TargetKind::Http { url, host } => {
                self.allow.push(host);
                self.http.push((name.to_string(), url.clone()));
                self.params.insert(name.to_string(), url);
            }
            // The parameter is the bootstrap list; every broker is allowed.
            TargetKind::Kafka(t) => {
                self.allow
                    .extend(t.brokers.split(',').map(|s| s.trim().to_string()));
                self.params.insert(name.to_string(), t.brokers.clone());
                self.kafka.push((name.to_string(), t));
            }
            TargetKind::Embedded(kind) => {
                return Err(Error::Other(format!(
                    "embedded target `{name}` ({kind:?}) has no http:// or kafka:// URL"
                )));
            }
        }
        Ok(())
    }

    /// Stops the embedded targets, saying what each did (with progress on).
    pub async fn shutdown(self, progress: bool) {
        for s in self.servers {
            if let Some(line) = s.report().filter(|_| progress) {
                crate::output::log("INFO", format_args!("{line}"));
            }
            s.shutdown().await;
        }
    }
}
