//! The metrics the engine records on its own: one enum (fast to record,
//! no name lookup per sample) and one name/kind table per protocol.

use super::value::Kind;

/// A built-in metric: its name and kind are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Builtin {
    /// Completed iterations (counter).
    Iterations,
    /// Iterations that trapped, timed out, returned an error or were interrupted,
    /// tagged `class` (counter).
    IterationsFailed,
    /// Iteration time; for arrival-rate executors measured from the intended
    /// start, so queueing delay is included (trend, ms).
    IterationDuration,
    /// Iteration time from its actual start, without queueing delay (trend, ms).
    IterationServiceTime,
    /// Iterations an arrival-rate executor could not start: no VU was free (counter).
    DroppedIterations,
    /// Active VUs (gauge).
    Vus,
    /// VUs allocated (gauge).
    VusMax,
    /// Checks, tagged `check` (rate).
    Checks,
    /// Bytes sent by protocol clients (counter).
    DataSent,
    /// Bytes received by protocol clients (counter).
    DataReceived,
    /// HTTP requests made (counter).
    HttpReqs,
    /// HTTP request time, from the call to the last body byte (trend, ms).
    HttpReqDuration,
    /// HTTP time opening the TCP connection, 0 on a reused one (trend, ms).
    HttpReqConnecting,
    /// HTTP time in the TLS handshake, 0 on a reused connection; https only
    /// (trend, ms).
    HttpReqTlsHandshaking,
    /// HTTP time writing the request; plain http:// only (trend, ms).
    HttpReqSending,
    /// HTTP time to the response head (trend, ms).
    HttpReqWaiting,
    /// HTTP time from the response head to the last body byte (trend, ms).
    HttpReqReceiving,
    /// HTTP requests with status >= 400 or no response, tagged `error` (rate).
    HttpReqFailed,
    /// WebSocket connect plus upgrade handshake time (trend, ms).
    WsConnecting,
    /// WebSocket sessions opened (counter).
    WsSessions,
    /// WebSocket session time, from open until closed or dropped (trend, ms).
    WsSessionDuration,
    /// WebSocket messages sent (counter).
    WsMsgsSent,
    /// WebSocket messages taken by the scenario (counter).
    WsMsgsReceived,
    /// WebSocket messages dropped because the scenario did not take them
    /// before 4,096 more arrived (counter).
    WsMsgsDropped,
    /// WebSocket ping to pong time (trend, ms).
    WsPing,
    /// Failed WebSocket calls, tagged `class` (counter).
    WsErrors,
    /// Kafka messages enqueued by scenarios, tagged `topic` (counter).
    KafkaProduced,
    /// Kafka enqueue to broker ack, from the delivery report (trend, ms).
    KafkaProduceAck,
    /// Kafka messages that failed to enqueue or were not acked, tagged
    /// `topic` and `class` (counter).
    KafkaProduceFailed,
    /// Kafka messages consumed by scenarios, tagged `topic` (counter).
    KafkaConsumed,
    /// Kafka key plus value bytes acked (counter).
    KafkaBytesProduced,
    /// Kafka key plus value bytes consumed (counter).
    KafkaBytesConsumed,
    /// Time a consumer poll waited for its batch (trend, ms).
    KafkaPollWait,
    /// A watched consumer group's lag, committed offset to high watermark,
    /// summed over partitions, tagged `group` and `topic` (gauge).
    KafkaConsumerLag,
    /// Produce (enqueue) to seen on the tracked output topic, `[[track]]`
    /// (trend, ms).
    KafkaE2eLatency,
    /// Tracked messages seen on their output topic (counter).
    KafkaTrackedSeen,
    /// Tracked messages not seen by the end of the run plus its grace
    /// period, or within `markTimeout` (counter).
    KafkaTrackedLost,
    /// Tracked messages seen more than once (counter).
    KafkaTrackedDuplicates,
    /// Messages on a tracked output topic without an id of this run
    /// (another producer's, or seen after being counted lost) (counter).
    KafkaTrackedUnmatched,
    /// Time a VU spent in a group, `enter-group` to `leave-group`, tagged
    /// `group` (trend, ms).
    GroupDuration,
}

/// One built-in metric's fixed name and kind.
pub struct Def {
    pub metric: Builtin,
    pub name: &'static str,
    pub kind: Kind,
}

const fn def(metric: Builtin, name: &'static str, kind: Kind) -> Def {
    Def { metric, name, kind }
}

/// The engine's own: iterations, VUs, checks, bytes.
const CORE: &[Def] = &[
    def(Builtin::Iterations, "iterations", Kind::Counter),
    def(
        Builtin::IterationsFailed,
        "iterations_failed",
        Kind::Counter,
    ),
    def(
        Builtin::IterationDuration,
        "iteration_duration",
        Kind::Trend,
    ),
    def(
        Builtin::IterationServiceTime,
        "iteration_service_time",
        Kind::Trend,
    ),
    def(
        Builtin::DroppedIterations,
        "dropped_iterations",
        Kind::Counter,
    ),
    def(Builtin::Vus, "vus", Kind::Gauge),
    def(Builtin::VusMax, "vus_max", Kind::Gauge),
    def(Builtin::Checks, "checks", Kind::Rate),
    def(Builtin::DataSent, "data_sent", Kind::Counter),
    def(Builtin::DataReceived, "data_received", Kind::Counter),
];

/// `protocol/http`.
const HTTP: &[Def] = &[
    def(Builtin::HttpReqs, "http_reqs", Kind::Counter),
    def(Builtin::HttpReqDuration, "http_req_duration", Kind::Trend),
    def(
        Builtin::HttpReqConnecting,
        "http_req_connecting",
        Kind::Trend,
    ),
    def(
        Builtin::HttpReqTlsHandshaking,
        "http_req_tls_handshaking",
        Kind::Trend,
    ),
    def(Builtin::HttpReqSending, "http_req_sending", Kind::Trend),
    def(Builtin::HttpReqWaiting, "http_req_waiting", Kind::Trend),
    def(Builtin::HttpReqReceiving, "http_req_receiving", Kind::Trend),
    def(Builtin::HttpReqFailed, "http_req_failed", Kind::Rate),
];

/// `protocol/ws`.
const WS: &[Def] = &[
    def(Builtin::WsConnecting, "ws_connecting", Kind::Trend),
    def(Builtin::WsSessions, "ws_sessions", Kind::Counter),
    def(
        Builtin::WsSessionDuration,
        "ws_session_duration",
        Kind::Trend,
    ),
    def(Builtin::WsMsgsSent, "ws_msgs_sent", Kind::Counter),
    def(Builtin::WsMsgsReceived, "ws_msgs_received", Kind::Counter),
    def(Builtin::WsMsgsDropped, "ws_msgs_dropped", Kind::Counter),
    def(Builtin::WsPing, "ws_ping", Kind::Trend),
    def(Builtin::WsErrors, "ws_errors", Kind::Counter),
];

/// `protocol/kafka` (produce, consume, lag, end-to-end tracking).
const KAFKA: &[Def] = &[
    def(Builtin::KafkaProduced, "kafka_produced", Kind::Counter),
    def(Builtin::KafkaProduceAck, "kafka_produce_ack", Kind::Trend),
    def(
        Builtin::KafkaProduceFailed,
        "kafka_produce_failed",
        Kind::Counter,
    ),
    def(Builtin::KafkaConsumed, "kafka_consumed", Kind::Counter),
    def(
        Builtin::KafkaBytesProduced,
        "kafka_bytes_produced",
        Kind::Counter,
    ),
    def(
        Builtin::KafkaBytesConsumed,
        "kafka_bytes_consumed",
        Kind::Counter,
    ),
    def(Builtin::KafkaPollWait, "kafka_poll_wait", Kind::Trend),
    def(Builtin::KafkaConsumerLag, "kafka_consumer_lag", Kind::Gauge),
    def(Builtin::KafkaE2eLatency, "kafka_e2e_latency", Kind::Trend),
    def(
        Builtin::KafkaTrackedSeen,
        "kafka_tracked_seen",
        Kind::Counter,
    ),
    def(
        Builtin::KafkaTrackedLost,
        "kafka_tracked_lost",
        Kind::Counter,
    ),
    def(
        Builtin::KafkaTrackedDuplicates,
        "kafka_tracked_duplicates",
        Kind::Counter,
    ),
    def(
        Builtin::KafkaTrackedUnmatched,
        "kafka_tracked_unmatched",
        Kind::Counter,
    ),
];

/// What a scenario marks out itself: its groups.
const SCENARIO: &[Def] = &[def(Builtin::GroupDuration, "group_duration", Kind::Trend)];

/// Every protocol's table, in the order of [`Builtin`]'s variants: a new
/// protocol adds its variants at the end of the enum and its table here.
const TABLES: &[&[Def]] = &[CORE, HTTP, WS, KAFKA, SCENARIO];

impl Builtin {
    pub const ALL: &'static [Builtin] = &{
        let mut all = [Builtin::Iterations; COUNT];
        let mut i = 0;
        let mut t = 0;
        while t < TABLES.len() {
            let mut j = 0;
            while j < TABLES[t].len() {
                all[i] = TABLES[t][j].metric;
                i += 1;
                j += 1;
            }
            t += 1;
        }
        all
    };

    fn def(self) -> &'static Def {
        let mut i = self as usize;
        for table in TABLES {
            if i < table.len() {
                return &table[i];
            }
            i -= table.len();
        }
        unreachable!("every Builtin is in TABLES (a unit test checks the order)")
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }

    pub fn kind(self) -> Kind {
        self.def().kind
    }

    /// Whether the trend's samples are times (µs, shown as ms) or data sizes.
    pub fn is_time(self) -> bool {
        self.kind() == Kind::Trend
    }
}

/// How many built-in metrics there are.
const COUNT: usize = {
    let mut n = 0;
    let mut t = 0;
    while t < TABLES.len() {
        n += TABLES[t].len();
        t += 1;
    }
    n
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_follow_the_enum_order_and_names_are_unique() {
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i, "{} is out of order in TABLES", b.name());
            assert_eq!(b.def().metric, *b);
        }
        let mut names: Vec<_> = Builtin::ALL.iter().map(|b| b.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Builtin::ALL.len());
        assert_eq!(Builtin::GroupDuration as usize + 1, Builtin::ALL.len());
    }
}
