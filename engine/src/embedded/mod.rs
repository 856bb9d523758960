//! Built-in targets a plan can name as `embedded:<kind>`: real servers on
//! loopback, started for the run (or standalone by `volley targets`).
//! They share nothing with the engine but the process.

use crate::Invalid;

pub mod auction;
pub mod booking;
pub mod echo;
pub mod fault;
pub mod http;
pub mod kafka;

use std::net::SocketAddr;
use std::str::FromStr;

/// The kinds of embedded target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The HTTP ingest service (`POST /messages`, `/health`, `/stats`).
    Http,
    /// The auction service: contended bids over HTTP, WebSocket fan-out.
    Auction,
    /// librdkafka's mock cluster (3 brokers) with the enricher pipeline.
    Kafka,
}

impl FromStr for Kind {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "http" => Ok(Kind::Http),
            "auction" => Ok(Kind::Auction),
            "kafka" => Ok(Kind::Kafka),
            other => Err(Invalid(format!(
                "unknown embedded target `embedded:{other}` (available: embedded:http, embedded:auction, embedded:kafka)"
            ))),
        }
    }
}

/// A running embedded target.
#[derive(Debug)]
pub enum Server {
    Http(http::EmbeddedServer),
    Auction(auction::AuctionServer),
    Kafka(kafka::KafkaServer),
}

impl Server {
    /// The URL scenarios get as the target's parameter (`kafka://` + the
    /// bootstrap list for Kafka; the parameter is then the list alone).
    pub fn url(&self) -> String {
        match self {
            Server::Http(s) => s.url(),
            Server::Auction(s) => s.url(),
            Server::Kafka(s) => format!("kafka://{}", s.bootstrap()),
        }
    }

    /// One line on what the target did, for the end of a run (the Kafka
    /// pipeline's own counts, to hold against the tracked ones).
    pub fn report(&self) -> Option<String> {
        match self {
            Server::Kafka(s) => {
                let st = s.stats();
                Some(format!(
                    "embedded kafka pipeline: enricher processed {} orders, dropped {}",
                    crate::output::format::thousands(st.processed),
                    crate::output::format::thousands(st.dropped)
                ))
            }
            _ => None,
        }
    }

    /// The fault switches of a target that has them (embedded:http and
    /// embedded:auction).
    pub fn controls(&self) -> Option<std::sync::Arc<fault::Controls>> {
        match self {
            Server::Http(s) => Some(s.controls()),
            Server::Auction(s) => Some(s.controls()),
            Server::Kafka(_) => None,
        }
    }

    pub async fn shutdown(self) {
        match self {
            Server::Http(s) => s.shutdown().await,
            Server::Auction(s) => s.shutdown().await,
            Server::Kafka(s) => s.shutdown().await,
        }
    }
}

/// Starts an embedded target of `kind` on `addr` (port 0 picks a free one).
pub async fn start(kind: Kind, addr: SocketAddr) -> std::io::Result<Server> {
    match kind {
        Kind::Http => Ok(Server::Http(
            http::start(addr, http::IngestOptions::default()).await?,
        )),
        Kind::Auction => Ok(Server::Auction(auction::start(addr).await?)),
        // The mock cluster picks its own loopback ports.
        Kind::Kafka => Ok(Server::Kafka(
            kafka::start(kafka::PipelineOptions::default()).await?,
        )),
    }
}
