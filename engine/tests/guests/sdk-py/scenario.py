"""Calls every function of the Python SDK once per iteration; each effect
is either checked here (a failed check fails the test) or counted in a
metric the test reads from the summary export."""

import random as pyrandom

from volley import (
    Counter, Fail, Gauge, HttpError, Rate, Trend, arrive, check, fail, group,
    http, log, mark, random, sleep, vu,
)

calls = Counter("sdk_calls")
level = Gauge("sdk_level")
ratio = Rate("sdk_ratio")
spent = Trend("sdk_spent")


grouped = Counter("sdk_grouped")


@group("py inner")
def inner():
    grouped.add(2)


def setup():
    return {"from_setup": 7}


def init_vu(data):
    check("init_vu got setup data", data == {"from_setup": 7})


def default(data):
    api = vu.param("api")
    check("setup data", data["from_setup"] == 7)
    # vu
    check("vu.id", vu.id in (1, 2))
    check("vu.iteration", 0 <= vu.iteration < 3 and vu.iteration <= vu.iteration_in_scenario < 6)
    check("vu.scenario", vu.scenario == "all")
    check("vu.param default", vu.param("nope", "x") == "x" and vu.param("greeting") == "hello")
    check("vu.params", vu.params()["greeting"] == "hello" and "api" in vu.params())
    t0 = vu.now_us()
    sleep(0.002)
    check("sleep waits", vu.now_us() - t0 >= 2000)
    check("data_len", vu.data_len("users") == 3)
    row = vu.data_row("users", vu.iteration)
    check("data_row", row["name"] in ("ada", "alan", "grace") and vu.data_row("users", 99) is None)
    # random test data
    check("random.u64", 0 <= random.u64() < 2**64)
    check("random.int", {random.int(1, 3) for _ in range(60)} == {1, 2, 3})
    check("random.float", 0.0 <= random.float() < 1.0)
    check("random.choice", random.choice("xy") in "xy")
    check("random.string", len(random.string(5)) == 5 and len(random.string()) == 12)
    check("random.name", " " in random.name())
    check("random.email", random.email().endswith("@example.test"))
    u = random.uuid()
    check("random.uuid", len(u) == 36 and u[14] == "4")
    check("python random", 0.0 <= pyrandom.random() < 1.0)
    # metrics
    calls.add()
    calls.add(2, tags={"kind": "double"})
    level.set(vu.id)
    ratio.add(True)
    ratio.add(False, tags={"kind": "miss"})
    spent.add(1.5)
    key = f"order-{vu.id}-{vu.iteration}"
    mark("sdk_roundtrip", key)
    check("arrive", arrive(key) is not None and arrive("never-marked") is None)
    check("check with predicates", check(3, {"is three": lambda v: v == 3}))
    # groups: what is recorded inside carries the group's path
    with group("py outer"):
        grouped.add(1)
        inner()
    grouped.add(4)
    # log
    log.debug("debug line")
    log.info("info line")
    log.warn("warn line")
    log.error("error line")
    # http: every method, JSON and bytes bodies, headers, names, tags, timeout
    r = http.get(f"{api}/health", name="health", tags={"step": "get"}, timeout=5)
    check("get", r.ok and r.status == 200 and r.json()["status"] == "ok")
    check("response", r.text.startswith("{") and r.body.startswith(b"{") and r.duration_ms >= r.waiting_ms >= 0)
    check("headers", r.headers["content-type"] == "application/json" and r.protocol.startswith("HTTP/"))
    r = http.post(f"{api}/messages", json={"user_id": 1, "channel_id": 2, "content": "hi"}, name="post")
    check("post json", r.status == 201)
    r = http.post(f"{api}/echo/raw", body="a=b", headers={"x-sdk": "py"}, name="echo")
    check("post body", r.json()["body"] == "a=b" and r.json()["headers"]["x-sdk"] == "py")
    for method, fn in (("PUT", http.put), ("PATCH", http.patch), ("DELETE", http.delete)):
        check(f"http {method}", fn(f"{api}/echo/x", name="echo").json()["method"] == method)
    check("http.request", http.request("OPTIONS", f"{api}/echo/x", name="echo").json()["method"] == "OPTIONS")
    http.expect_statuses(200, 404)
    check("expected 404", http.get(f"{api}/status/404", name="status").status == 404)
    http.expect_statuses()
    # batch: at once, results in order; a request's own expected statuses
    rs = http.batch([
        ("GET", f"{api}/health", {"name": "batch"}),
        ("GET", f"{api}/status/404", {"name": "batch", "expect": [404]}),
        ("GET", "http://127.0.0.1:1/nothing-listens", {"name": "batch"}),
    ])
    check("http.batch", [type(r).__name__ for r in rs] == ["Response", "Response", "HttpError"]
          and rs[0].status == 200 and rs[1].status == 404 and rs[2].kind == "not-allowed")
    check("tagged check", True, {"step": "tagged"})
    # the scenario's verdict: a 404 passes, with a check named after it
    j = http.get(f"{api}/status/404", name="judged", judged=True)
    check("verdict", j.status == 404 and http.verdict(True, True) and not http.verdict(True))
    try:
        Counter("sdk_spent").add(1)
        check("a name of another kind raises", False)
    except ValueError as e:
        check("a name of another kind raises", "is a trend" in str(e))
    try:
        http.get("http://127.0.0.1:1/nothing-listens", name="refused")
        check("HttpError", False)
    except HttpError as e:
        check("HttpError", e.kind == "not-allowed" and e.message)
    # fail
    try:
        fail("on purpose")
    except Fail as e:
        check("fail raises Fail", str(e) == "on purpose")
