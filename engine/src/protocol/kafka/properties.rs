//! Which librdkafka properties come from where.
//!
//! librdkafka properties can name files (`ssl.key.location`), libraries
//! (`plugin.library.paths`), hosts (`bootstrap.servers`) and even a command
//! it runs (`sasl.kerberos.kinit.cmd`). A scenario is untrusted code, so it
//! may set only client tuning from [`TUNING`]; connection, TLS, SASL and
//! credential settings belong to the runner, who writes them on the plan's
//! Kafka target (`kafka://host:port?security.protocol=SASL_SSL&...`).

use crate::Invalid;

use super::{Error, ErrorClass};

/// Client tuning a scenario may set: batching, acks, compression,
/// idempotence, retries and timeouts, group membership and fetching. None of
/// these names a host, a file, a library, a command or a credential.
const TUNING: &[&str] = &[
    // producing
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.max.ms",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "batch.num.messages",
    "batch.size",
    "compression.type",
    "compression.codec",
    "compression.level",
    "enable.idempotence",
    "max.in.flight.requests.per.connection",
    "max.in.flight",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "retries",
    "message.send.max.retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "partitioner",
    "sticky.partitioning.linger.ms",
    "message.max.bytes",
    "message.copy.max.bytes",
    // consuming and groups
    "group.instance.id",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "group.protocol",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "isolation.level",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.wait.max.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.queue.backoff.ms",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "check.crcs",
    // either
    "client.id",
    "allow.auto.create.topics",
    "topic.metadata.refresh.interval.ms",
    "metadata.max.age.ms",
    "socket.timeout.ms",
];

/// Tuning that sizes memory librdkafka holds outside every VU's memory
/// limit (queues, fetch buffers, message sizes): a scenario may lower each,
/// not raise it past librdkafka's default (the engine's, for the producer
/// queue it sets). More goes on the plan's Kafka target.
const MEMORY: &[(&str, u64)] = &[
    ("queue.buffering.max.kbytes", 1_048_576),
    ("queue.buffering.max.messages", 1_000_000),
    ("queued.max.messages.kbytes", 65_536),
    ("queued.min.messages", 100_000),
    ("fetch.max.bytes", 52_428_800),
    ("fetch.message.max.bytes", 1_048_576),
    ("max.partition.fetch.bytes", 1_048_576),
    ("message.max.bytes", 1_000_000),
    ("message.copy.max.bytes", 65_535),
    ("batch.size", 1_000_000),
];

/// Checks one property a scenario set: `Ok` for client tuning within its
/// bounds, otherwise an error that names the property and says where it
/// belongs.
pub fn check_guest(key: &str, value: &str) -> Result<(), Error> {
    if TUNING.contains(&key) {
        let bound = MEMORY.iter().find(|(k, _)| *k == key).map(|(_, b)| *b);
        return match (bound, value.trim().parse::<u64>()) {
            (Some(bound), Ok(v)) if v > bound => Err(Error {
                class: ErrorClass::NotAllowed,
                message: format!(
                    "Kafka property `{key}` = {v} is more memory than a scenario may ask for \
                     (at most {bound}, the default): set it lower, or put it on the \
                     plan's Kafka target: [targets] kafka = \"kafka://host:port?{key}={v}\""
                ),
            }),
            _ => Ok(()),
        };
    }
    let message = match key {
        "bootstrap.servers" | "metadata.broker.list" => format!(
            "Kafka property `{key}` cannot be set by a scenario: brokers come from the client \
             config's `bootstrap` field, which must name an allowed host (the plan's targets \
             or --allow-host)"
        ),
        _ if runner_only(key) => format!(
            "Kafka property `{key}` cannot be set by a scenario: connection, TLS, SASL and \
             credential settings belong to whoever runs the test. Put it on the plan's Kafka \
             target instead: [targets] kafka = \"kafka://host:port?{key}=...\""
        ),
        _ => format!(
            "Kafka property `{key}` is not client tuning a scenario may set (allowed: {}); \
             anything else goes on the plan's Kafka target: \
             [targets] kafka = \"kafka://host:port?{key}=...\"",
            TUNING.join(", ")
        ),
    };
    Err(Error {
        class: ErrorClass::NotAllowed,
        message,
    })
}

/// Properties that name a host, file, library, command or credential.
fn runner_only(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "security.",
        "ssl.",
        "ssl_",
        "sasl.",
        "plugin.",
        "oauthbearer",
        "https.",
        "client.dns",
        "client.rack",
        "socket.",
        "broker.",
        "enable.ssl",
        "enable.sasl",
        "debug",
        "log",
        "statistics",
        "transactional.",
        "resolve",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p))
}

/// A plan's Kafka target, `kafka://host:port[,host:port]?key=value&...`:
/// its broker list and the runner's own librdkafka properties (trusted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub brokers: String,
    pub properties: Vec<(String, String)>,
}

impl Target {
    /// Parses what follows `kafka://`. Values are percent-decoded, so a
    /// password may carry `&` as `%26`.
    pub fn parse(rest: &str) -> Result<Target, Invalid> {
        let (brokers, query) = rest.split_once('?').unwrap_or((rest, ""));
        let brokers = brokers.trim_end_matches('/').to_string();
        if brokers.is_empty() {
            return Err("kafka:// names no broker: write kafka://host:port".into());
        }
        let mut properties = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` after `?`: write property=value"))?;
            if k == "bootstrap.servers" || k == "metadata.broker.list" {
                return Err(Invalid(format!(
                    "`{k}`: the brokers are the part before `?`"
                )));
            }
            properties.push((decode(k)?, decode(v)?));
        }
        Ok(Target {
            brokers,
            properties,
        })
    }

    /// Whether a client's bootstrap list connects to this target: every
    /// broker it names is one of the target's.
    pub fn serves(&self, bootstrap: &str) -> bool {
        let ours: Vec<&str> = self.brokers.split(',').map(str::trim).collect();
        bootstrap
            .split(',')
            .map(str::trim)
            .all(|b| ours.contains(&b))
    }
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("`{s}`: `%` must be followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_passes_and_dangerous_properties_are_refused() {
        for ok in ["acks", "linger.ms", "compression.type", "fetch.min.bytes"] {
            check_guest(ok, "1").unwrap();
        }
        for (bad, hint) in [
            ("sasl.kerberos.kinit.cmd", "plan's Kafka target"),
            ("ssl.key.location", "plan's Kafka target"),
            ("plugin.library.paths", "plan's Kafka target"),
            ("security.protocol", "plan's Kafka target"),
            ("bootstrap.servers", "`bootstrap` field"),
            ("metadata.broker.list", "`bootstrap` field"),
            ("oauthbearer.token.endpoint.url", "plan's Kafka target"),
            ("debug", "plan's Kafka target"),
            ("no.such.property", "is not client tuning"),
        ] {
            let e = check_guest(bad, "1").unwrap_err();
            assert_eq!(e.class, ErrorClass::NotAllowed);
            assert!(e.message.contains(&format!("`{bad}`")), "{e}");
            assert!(e.message.contains(hint), "{bad}: {e}");
        }
    }

    #[test]
    fn memory_tuning_may_be_lowered_not_raised() {
        check_guest("queue.buffering.max.kbytes", "1024").unwrap();
        check_guest("queue.buffering.max.kbytes", "1048576").unwrap();
        check_guest("queue.buffering.max.messages", "1000000").unwrap();
        check_guest("message.max.bytes", " 500000 ").unwrap();
        // Not a number: librdkafka judges it when the client is made.
        check_guest("fetch.max.bytes", "lots").unwrap();
        for (key, value) in [
            ("queue.buffering.max.kbytes", "2147483647"),
            ("queue.buffering.max.messages", "1000001"),
            ("queued.max.messages.kbytes", "2097151"),
            ("fetch.max.bytes", "2147483135"),
            ("message.max.bytes", "1000000000"),
        ] {
            let e = check_guest(key, value).unwrap_err();
            assert_eq!(e.class, ErrorClass::NotAllowed);
            assert!(e.message.contains(&format!("`{key}` = {value}")), "{e}");
            assert!(e.message.contains("plan's Kafka target"), "{e}");
        }
    }

    #[test]
    fn targets_carry_the_runners_properties() {
        let t = Target::parse("b1:9092,b2:9092?security.protocol=SASL_SSL&sasl.password=a%26b%3Dc")
            .unwrap();
        assert_eq!(t.brokers, "b1:9092,b2:9092");
        assert_eq!(
            t.properties,
            vec![
                ("security.protocol".into(), "SASL_SSL".into()),
                ("sasl.password".into(), "a&b=c".into())
            ]
        );
        assert!(t.serves("b2:9092"));
        assert!(t.serves("b1:9092, b2:9092"));
        assert!(!t.serves("b1:9092,evil:9092"));
        assert!(Target::parse("").is_err());
        assert!(Target::parse("b:1?x").is_err());
        assert!(Target::parse("b:1?bootstrap.servers=e:1").is_err());
        assert!(Target::parse("b:1?k=%zz").is_err());
        assert_eq!(Target::parse("b:1").unwrap().properties, vec![]);
    }
}
