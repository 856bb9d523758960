//! A package's capability manifest: the protocols it imports and what it
//! expects to reach them with (its plans' targets, hosts, parameters). The
//! runner sees it before a pulled package runs and grants it, or not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::RawPlan;

/// The imports that reach the network; the others (`metrics`, `log`, `vu`)
/// stay inside the engine.
pub const NETWORK: [&str; 3] = ["http", "kafka", "ws"];

/// What one of the package's plan targets is used for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetNeed {
    /// The target as the package's plan writes it (`embedded:http`, a URL).
    pub url: String,
    /// The imported protocols that reach it.
    pub protocols: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Every `volley:scenario` interface the component imports.
    pub imports: Vec<String>,
    /// Target name -> what it is used for, over all of the package's plans.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetNeed>,
    /// Hosts outside the embedded targets its plans want to reach (target
    /// URLs and `allowHosts`): granted only when the runner accepts them.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Parameters it reads (declared ones, its plans' `params`, its targets).
    #[serde(default)]
    pub params: Vec<String>,
}

/// The protocols a target can be reached with, from how it is written.
pub fn target_protocols(url: &str) -> &'static [&'static str] {
    match url.split(':').next().unwrap_or("") {
        "embedded" => match url.strip_prefix("embedded:").unwrap_or("") {
            "kafka" => &["kafka"],
            "auction" => &["http", "ws"],
            _ => &["http"],
        },
        "kafka" => &["kafka"],
        "http" | "https" | "ws" | "wss" => &["http", "ws"],
        _ => &[],
    }
}

/// The host (and port) of a target that is not embedded.
pub fn target_host(url: &str) -> Option<String> {
    if url.starts_with("embedded:") {
        return None;
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // kafka://a:1,b:2 names several brokers.
    Some(host.to_string()).filter(|h| !h.is_empty())
}

impl Capabilities {
    /// From the component's imports and the package's plans.
    pub fn of(imports: Vec<String>, plans: &[RawPlan], declared: &[String]) -> Capabilities {
        let mut c = Capabilities {
            imports,
            ..Default::default()
        };
        let mut params: Vec<String> = declared.to_vec();
        let mut hosts = Vec::new();
        for plan in plans {
            for (name, url) in &plan.targets {
                let protocols = target_protocols(url)
                    .iter()
                    .filter(|p| c.imports.iter().any(|i| i == *p))
                    .map(|p| p.to_string())
                    .collect();
                c.targets.entry(name.clone()).or_insert(TargetNeed {
                    url: url.clone(),
                    protocols,
                });
                params.push(name.clone());
                if let Some(h) = target_host(url) {
                    hosts.extend(h.split(',').map(str::to_string));
                }
            }
            hosts.extend(plan.options.allow_hosts.iter().cloned());
            params.extend(plan.options.params.keys().cloned());
            for s in plan.scenarios.values() {
                params.extend(s.params.keys().cloned());
            }
        }
        params.sort();
        params.dedup();
        hosts.sort();
        hosts.dedup();
        c.params = params;
        c.hosts = hosts;
        c
    }

    /// The imports that reach the network.
    pub fn network(&self) -> Vec<&str> {
        self.imports
            .iter()
            .map(String::as_str)
            .filter(|i| NETWORK.contains(i))
            .collect()
    }

    /// One line: `http, ws -> the `api` target; kafka -> the `kafka` target`.
    pub fn describe(&self) -> String {
        let network = self.network();
        if network.is_empty() {
            return "no network access (it imports no http, kafka or ws)".into();
        }
        let mut parts = Vec::new();
        let mut covered: Vec<&str> = Vec::new();
        for (name, need) in &self.targets {
            if need.protocols.is_empty() {
                continue;
            }
            covered.extend(need.protocols.iter().map(String::as_str));
            parts.push(format!(
                "{} \u{2192} the `{name}` target ({})",
                need.protocols.join(", "),
                need.url
            ));
        }
        let rest: Vec<&str> = network
            .iter()
            .copied()
            .filter(|p| !covered.contains(p))
            .collect();
        if !rest.is_empty() {
            parts.push(format!(
                "{} \u{2192} only hosts the runner allows (--allow-host, the plan's targets)",
                rest.join(", ")
            ));
        }
        let mut line = parts.join("; ");
        if !self.hosts.is_empty() {
            line.push_str(&format!(
                "; hosts its plans name: {}",
                self.hosts.join(", ")
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_are_mapped_to_the_targets_that_carry_them() {
        let plan: RawPlan = toml::from_str(
            "[targets]\napi = \"embedded:auction\"\nkafka = \"kafka://127.0.0.1:9092\"\n[options]\nallowHosts = [\"example.org\"]\nparams = { rate = \"5\" }\n",
        )
        .unwrap();
        let c = Capabilities::of(
            vec!["http".into(), "kafka".into(), "log".into(), "ws".into()],
            &[plan],
            &["topic".into()],
        );
        assert_eq!(
            c.describe(),
            "http, ws \u{2192} the `api` target (embedded:auction); kafka \u{2192} the `kafka` target (kafka://127.0.0.1:9092); hosts its plans name: 127.0.0.1:9092, example.org"
        );
        assert_eq!(c.params, ["api", "kafka", "rate", "topic"]);
        assert_eq!(c.network(), ["http", "kafka", "ws"]);
    }

    #[test]
    fn an_import_without_a_target_is_named_and_no_import_means_no_network() {
        let c = Capabilities::of(vec!["http".into()], &[], &[]);
        assert!(
            c.describe()
                .starts_with("http \u{2192} only hosts the runner allows")
        );
        let c = Capabilities::of(vec!["log".into()], &[], &[]);
        assert!(c.describe().starts_with("no network access"));
    }
}
