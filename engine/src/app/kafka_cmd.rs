//! `volley kafka lag` and `volley kafka reset-offsets`.

use super::*;

/// The connection the user named on the command line: its brokers are
/// allowed because the user named them.
fn kafka_conn(c: &KafkaConn) -> Result<(Allowlist, kafka::Config), Error> {
    let mut properties = Vec::new();
    for p in &c.properties {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("-X {p}: write KEY=VALUE")))?;
        properties.push((k.to_string(), v.to_string()));
    }
    let allow = Allowlist::parse(&["*"])?;
    Ok((
        allow,
        kafka::Config {
            bootstrap: c.bootstrap.clone(),
            properties,
        },
    ))
}

fn kafka_failed(what: &str, e: kafka::Error) -> Error {
    Error::Other(format!("{what}: {e}"))
}

pub(super) fn cmd_kafka_lag(args: KafkaLagArgs) -> Result<ExitCode, Error> {
    let (allow, config) = kafka_conn(&args.conn)?;
    let lag = kafka::group_lag(&allow, &config, &args.group, &args.topic)
        .map_err(|e| kafka_failed(&format!("lag of group `{}`", args.group), e))?;
    let total: i64 = lag.iter().map(kafka::PartitionLag::lag).sum();
    if args.json {
        let parts: Vec<serde_json::Value> = lag
            .iter()
            .map(|l| {
                serde_json::json!({
                    "partition": l.partition, "committed": l.committed,
                    "high": l.high, "lag": l.lag(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "group": args.group, "topic": args.topic, "lag": total, "partitions": parts,
        });
        println!("{out}");
        return Ok(ExitCode::Ok);
    }
    println!("group `{}` on `{}`", args.group, args.topic);
    println!(
        "{:>9}  {:>12}  {:>12}  {:>10}",
        "partition", "committed", "high", "lag"
    );
    for l in &lag {
        let committed = l.committed.map_or("-".to_string(), |c| c.to_string());
        println!(
            "{:>9}  {:>12}  {:>12}  {:>10}",
            l.partition,
            committed,
            l.high,
            l.lag()
        );
    }
    println!("total lag: {total}");
    Ok(ExitCode::Ok)
}

pub(super) fn cmd_kafka_reset(args: KafkaResetArgs) -> Result<ExitCode, Error> {
    let (allow, config) = kafka_conn(&args.conn)?;
    let to = match (args.to_earliest, args.to_latest, args.to_offset) {
        (true, _, _) => kafka::Position::Earliest,
        (_, true, _) => kafka::Position::Latest,
        (_, _, Some(n)) => kafka::Position::Offset(n),
        _ => {
            return Err(Error::Config(
                "say where to: --to-earliest, --to-latest or --to-offset N".into(),
            ));
        }
    };
    let wait = args
        .wait
        .as_deref()
        .map(crate::plan::parse_duration)
        .transpose()
        .map_err(|m| Error::Config(format!("--wait: {m}")))?
        .unwrap_or_default();
    let deadline = std::time::Instant::now() + wait;
    let mut said = false;
    let done = loop {
        match kafka::reset_offsets(&allow, &config, &args.group, &args.topic, to, args.join) {
            Err(e)
                if e.class == kafka::ErrorClass::GroupActive
                    && std::time::Instant::now() < deadline =>
            {
                if !said {
                    said = true;
                    eprintln!(
                        "group `{}` still has members; retrying for up to {}",
                        args.group,
                        crate::plan::format_duration(wait)
                    );
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            r => {
                break r
                    .map_err(|e| kafka_failed(&format!("resetting group `{}`", args.group), e))?;
            }
        }
    };
    for (p, o) in &done {
        println!(
            "{}/{p}: group `{}` now at offset {o}",
            args.topic, args.group
        );
    }
    Ok(ExitCode::Ok)
}
