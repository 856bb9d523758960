//! Built-in targets a plan can name as `embedded:<kind>`: real servers on
//! loopback, started for the run (or standalone by `volley targets`).
//! They share nothing with the engine but the process.

pub mod auction;
pub mod http;

use std::net::SocketAddr;
use std::str::FromStr;

/// The kinds of embedded target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The HTTP ingest service (`POST /messages`, `/health`, `/stats`).
    Http,
    /// The auction service: contended bids over HTTP, WebSocket fan-out.
    Auction,
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http" => Ok(Kind::Http),
            "auction" => Ok(Kind::Auction),
            other => Err(format!(
                "unknown embedded target `embedded:{other}` (available: embedded:http, embedded:auction)"
            )),
        }
    }
}

/// A running embedded target.
#[derive(Debug)]
pub enum Server {
    Http(http::EmbeddedServer),
    Auction(auction::AuctionServer),
}

impl Server {
    /// The URL scenarios get as the target's parameter.
    pub fn url(&self) -> String {
        match self {
            Server::Http(s) => s.url(),
            Server::Auction(s) => s.url(),
        }
    }

    pub async fn shutdown(self) {
        match self {
            Server::Http(s) => s.shutdown().await,
            Server::Auction(s) => s.shutdown().await,
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
    }
}
