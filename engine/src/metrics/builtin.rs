//! The metrics the engine records on its own.

use super::value::Kind;

/// A built-in metric: its name and kind are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

impl Builtin {
    pub const ALL: &'static [Builtin] = &[
        Builtin::Iterations,
        Builtin::IterationsFailed,
        Builtin::IterationDuration,
        Builtin::IterationServiceTime,
        Builtin::DroppedIterations,
        Builtin::Vus,
        Builtin::VusMax,
        Builtin::Checks,
        Builtin::DataSent,
        Builtin::DataReceived,
        Builtin::HttpReqs,
        Builtin::HttpReqDuration,
        Builtin::HttpReqWaiting,
        Builtin::HttpReqReceiving,
        Builtin::HttpReqFailed,
        Builtin::WsConnecting,
        Builtin::WsSessions,
        Builtin::WsSessionDuration,
        Builtin::WsMsgsSent,
        Builtin::WsMsgsReceived,
        Builtin::WsMsgsDropped,
        Builtin::WsPing,
        Builtin::WsErrors,
        Builtin::KafkaProduced,
        Builtin::KafkaProduceAck,
        Builtin::KafkaProduceFailed,
        Builtin::KafkaConsumed,
        Builtin::KafkaBytesProduced,
        Builtin::KafkaBytesConsumed,
        Builtin::KafkaPollWait,
        Builtin::KafkaConsumerLag,
        Builtin::KafkaE2eLatency,
        Builtin::KafkaTrackedSeen,
        Builtin::KafkaTrackedLost,
        Builtin::KafkaTrackedDuplicates,
        Builtin::KafkaTrackedUnmatched,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Iterations => "iterations",
            Builtin::IterationsFailed => "iterations_failed",
            Builtin::IterationDuration => "iteration_duration",
            Builtin::IterationServiceTime => "iteration_service_time",
            Builtin::DroppedIterations => "dropped_iterations",
            Builtin::Vus => "vus",
            Builtin::VusMax => "vus_max",
            Builtin::Checks => "checks",
            Builtin::DataSent => "data_sent",
            Builtin::DataReceived => "data_received",
            Builtin::HttpReqs => "http_reqs",
            Builtin::HttpReqDuration => "http_req_duration",
            Builtin::HttpReqWaiting => "http_req_waiting",
            Builtin::HttpReqReceiving => "http_req_receiving",
            Builtin::HttpReqFailed => "http_req_failed",
            Builtin::WsConnecting => "ws_connecting",
            Builtin::WsSessions => "ws_sessions",
            Builtin::WsSessionDuration => "ws_session_duration",
            Builtin::WsMsgsSent => "ws_msgs_sent",
            Builtin::WsMsgsReceived => "ws_msgs_received",
            Builtin::WsMsgsDropped => "ws_msgs_dropped",
            Builtin::WsPing => "ws_ping",
            Builtin::WsErrors => "ws_errors",
            Builtin::KafkaProduced => "kafka_produced",
            Builtin::KafkaProduceAck => "kafka_produce_ack",
            Builtin::KafkaProduceFailed => "kafka_produce_failed",
            Builtin::KafkaConsumed => "kafka_consumed",
            Builtin::KafkaBytesProduced => "kafka_bytes_produced",
            Builtin::KafkaBytesConsumed => "kafka_bytes_consumed",
            Builtin::KafkaPollWait => "kafka_poll_wait",
            Builtin::KafkaConsumerLag => "kafka_consumer_lag",
            Builtin::KafkaE2eLatency => "kafka_e2e_latency",
            Builtin::KafkaTrackedSeen => "kafka_tracked_seen",
            Builtin::KafkaTrackedLost => "kafka_tracked_lost",
            Builtin::KafkaTrackedDuplicates => "kafka_tracked_duplicates",
            Builtin::KafkaTrackedUnmatched => "kafka_tracked_unmatched",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Builtin::Iterations
            | Builtin::IterationsFailed
            | Builtin::DroppedIterations
            | Builtin::DataSent
            | Builtin::DataReceived
            | Builtin::HttpReqs
            | Builtin::WsSessions
            | Builtin::WsMsgsSent
            | Builtin::WsMsgsReceived
            | Builtin::WsMsgsDropped
            | Builtin::WsErrors
            | Builtin::KafkaProduced
            | Builtin::KafkaProduceFailed
            | Builtin::KafkaConsumed
            | Builtin::KafkaBytesProduced
            | Builtin::KafkaBytesConsumed
            | Builtin::KafkaTrackedSeen
            | Builtin::KafkaTrackedLost
            | Builtin::KafkaTrackedDuplicates
            | Builtin::KafkaTrackedUnmatched => Kind::Counter,
            Builtin::Vus | Builtin::VusMax | Builtin::KafkaConsumerLag => Kind::Gauge,
            Builtin::Checks | Builtin::HttpReqFailed => Kind::Rate,
            Builtin::IterationDuration
            | Builtin::IterationServiceTime
            | Builtin::HttpReqDuration
            | Builtin::HttpReqWaiting
            | Builtin::HttpReqReceiving
            | Builtin::WsConnecting
            | Builtin::WsSessionDuration
            | Builtin::WsPing
            | Builtin::KafkaProduceAck
            | Builtin::KafkaPollWait
            | Builtin::KafkaE2eLatency => Kind::Trend,
        }
    }

    /// Whether the trend's samples are times (µs, shown as ms) or data sizes.
    pub fn is_time(self) -> bool {
        self.kind() == Kind::Trend
    }
}
