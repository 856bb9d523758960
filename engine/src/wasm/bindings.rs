//! Generated bindings for the `volley:scenario` world, and nothing else.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "scenario",
    imports: {
        "volley:scenario/http.send": async | trappable,
        "volley:scenario/http.send-batch": async | trappable,
        "volley:scenario/vu.sleep-ms": async | trappable,
        "volley:scenario/ws.[static]socket.connect": async | trappable,
        "volley:scenario/ws.[method]socket.send-text": async | trappable,
        "volley:scenario/ws.[method]socket.send-binary": async | trappable,
        "volley:scenario/ws.[method]socket.recv": async | trappable,
        "volley:scenario/ws.[method]socket.ping": async | trappable,
        "volley:scenario/ws.[method]socket.close": async | trappable,
        "volley:scenario/ws.poll": async | trappable,
        "volley:scenario/kafka.[method]producer.produce-wait": async | trappable,
        "volley:scenario/kafka.[method]producer.flush": async | trappable,
        "volley:scenario/kafka.[method]consumer.poll": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "volley:scenario/ws.socket": crate::host::ws::WsSocket,
        "volley:scenario/kafka.producer": crate::host::kafka::KafkaProducer,
        "volley:scenario/kafka.consumer": crate::host::kafka::KafkaConsumer,
        "volley:scenario/metrics.counter": crate::host::metrics::Counter,
        "volley:scenario/metrics.gauge": crate::host::metrics::Gauge,
        "volley:scenario/metrics.rate": crate::host::metrics::Rate,
        "volley:scenario/metrics.trend": crate::host::metrics::Trend,
    },
});
