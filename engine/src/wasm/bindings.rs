//! Generated bindings for the `volley:scenario` world, and nothing else.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "scenario",
    imports: {
        "volley:scenario/http.send": async | trappable,
        "volley:scenario/vu.sleep-ms": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});
