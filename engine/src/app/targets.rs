//! `volley targets`: serve the embedded targets on their own.

use super::*;

pub(super) fn cmd_targets(args: TargetsArgs) -> Result<ExitCode, Error> {
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
            "auction target:     {}  (POST /items/ID/bids, GET /items/ID, WS /ws/items/ID, WS /ws/echo, GET /stats)",
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
