"""volley: write load-test scenarios in Python.

A scenario is a module with plain functions, the way k6 scripts are:

    from volley import http, check, vu

    def setup():                 # optional, once per run; returns JSON-able data
        return {"token": "t-1"}

    def default(data):           # one iteration (the plan's `exec`, default `default`)
        r = http.get(vu.param("api") + "/health")
        check("healthy", r.status == 200)

    def teardown(data):          # optional, once after all VUs stopped
        pass

Other entry names are other functions (`exec = "browse"` calls `browse(data)`).
An exception fails the iteration (counted in `iterations_failed`, logged);
the VU goes on. `volley build` compiles the module with componentize-py.
"""

import json as _json
import os as _os
import random as _pyrandom
import traceback as _traceback

from wit_world.imports import http as _http
from wit_world.imports import kafka as _kafka
from wit_world.imports import log as _log
from wit_world.imports import metrics as _metrics
from wit_world.imports import vu as _vu
from wit_world.imports import ws as _ws
from componentize_py_types import Err as _Err

__version__ = "0.1.0"

__all__ = [
    "http", "vu", "log", "random", "check", "sleep", "fail",
    "Counter", "Gauge", "Rate", "Trend", "mark", "arrive",
    "HttpError", "Response", "kafka", "ws",
]


class Fail(Exception):
    """Raise (or call `fail(msg)`) to fail the iteration with a message."""


def fail(message):
    raise Fail(message)


# ---------------------------------------------------------------- metrics

def _tags(tags):
    if not tags:
        return []
    return [(str(k), str(v)) for k, v in tags.items()]


def check(name, ok, tags=None):
    """Records a check (`checks` rate, tag `check=name` plus `tags`) and
    returns `ok`.

    `ok` may be a value and a dict of named predicates, as in k6:
    `check(r, {"status 200": lambda r: r.status == 200})` (all must pass).
    """
    tag_list = _tags(tags)
    if isinstance(ok, dict):
        value, all_ok = name, True
        for label, pred in ok.items():
            try:
                passed = bool(pred(value))
            except Exception:
                passed = False
            _metrics.check(label, passed, tag_list)
            all_ok = all_ok and passed
        return all_ok
    return _metrics.check(name, bool(ok), tag_list)


class group:
    """k6's `group`, as a `with` block: `with volley.group("checkout"):`.
    What the VU records inside (requests, checks, custom metrics, WebSocket
    sockets it opens) carries the tag `group=::checkout` (`::outer::name`
    when nested), and the block's time is a `group_duration` sample with
    that tag. Also a decorator: `@volley.group("login")`."""

    def __init__(self, name):
        self._name = str(name)

    def __enter__(self):
        _metrics.enter_group(self._name)
        return self

    def __exit__(self, *exc):
        _metrics.leave_group()
        return False

    def __call__(self, fn):
        def grouped(*args, **kwargs):
            with group(self._name):
                return fn(*args, **kwargs)

        grouped.__name__ = getattr(fn, "__name__", "grouped")
        return grouped


def _declare(kind, name):
    """The run's metric `name` of one kind; a name of another kind raises here."""
    try:
        return getattr(_metrics, kind).declare(str(name))
    except _Err as e:
        raise ValueError(f"{kind}({name!r}): {e.value}") from None


class _Metric:
    """A custom metric, declared (the engine's handle) at its first sample:
    a module's top level runs at build time, where the engine is not there.
    A name already of another kind raises `ValueError` there."""

    _kind = ""

    def __init__(self, name):
        self.name = name
        self._handle = None

    @property
    def _h(self):
        if self._handle is None:
            self._handle = _declare(self._kind, self.name)
        return self._handle


class Counter(_Metric):
    _kind = "Counter"

    def add(self, value=1, tags=None):
        self._h.add(float(value), _tags(tags))


class Gauge(_Metric):
    _kind = "Gauge"

    def set(self, value, tags=None):
        self._h.set(float(value), _tags(tags))


class Rate(_Metric):
    _kind = "Rate"

    def add(self, ok, tags=None):
        self._h.add(bool(ok), _tags(tags))


class Trend(_Metric):
    """A distribution (HdrHistogram in the engine); values in milliseconds by convention."""

    _kind = "Trend"

    def add(self, value, tags=None):
        self._h.add(float(value), _tags(tags))


def mark(metric, key, expected=1):
    """An event `key` starts now; its latency goes to trend `metric` when it `arrive`s."""
    _metrics.mark(metric, str(key), int(expected))


def arrive(key):
    """The event `key` was observed: returns its latency in microseconds, or None."""
    return _metrics.arrive(str(key))


# ---------------------------------------------------------------- vu, time, log

class _Vu:
    """This virtual user: `vu.id`, `vu.iteration`, `vu.iteration_in_scenario`, `vu.scenario`, `vu.param(name)`."""

    @property
    def id(self):
        return _vu.id()

    @property
    def iteration(self):
        return _vu.iteration()

    @property
    def iteration_in_scenario(self):
        """This iteration's number across the scenario: every VU's iterations counted as they start."""
        return _vu.iteration_in_scenario()

    @property
    def scenario(self):
        return _vu.scenario()

    def param(self, name, default=None):
        v = _vu.param(name)
        return default if v is None else v

    def params(self):
        return dict(_vu.params())

    def now_us(self):
        return _vu.now_us()

    def data_len(self, name):
        return _vu.data_len(name)

    def data_row(self, name, index):
        row = _vu.data_row(name, int(index))
        return None if row is None else _json.loads(row)


vu = _Vu()


def sleep(seconds):
    """Pauses this VU (k6 `sleep`): the engine's timer, no thread is held."""
    _vu.sleep_ms(max(0, int(seconds * 1000)))


class _Log:
    def debug(self, msg):
        _log.write(_log.Level.DEBUG, str(msg))

    def info(self, msg):
        _log.write(_log.Level.INFO, str(msg))

    def warn(self, msg):
        _log.write(_log.Level.WARN, str(msg))

    def error(self, msg):
        _log.write(_log.Level.ERROR, str(msg))


log = _Log()


# ---------------------------------------------------------------- random test data

class _Random:
    """Random test data from the engine's per-VU generator (seeded per run)."""

    _FIRST = ("ada", "alan", "grace", "linus", "barbara", "ken", "margaret", "dennis", "edsger", "frances")
    _LAST = ("lovelace", "turing", "hopper", "torvalds", "liskov", "thompson", "hamilton", "ritchie", "dijkstra", "allen")

    def u64(self):
        return _vu.random_u64()

    def int(self, lo, hi):
        """A uniform integer in [lo, hi]."""
        if hi < lo:
            raise ValueError(f"random.int({lo}, {hi}): hi < lo")
        return lo + _vu.random_u64() % (hi - lo + 1)

    def float(self):
        return (_vu.random_u64() >> 11) / float(1 << 53)

    def choice(self, seq):
        if not seq:
            raise ValueError("random.choice of an empty sequence")
        return seq[self.int(0, len(seq) - 1)]

    def string(self, n=12, alphabet="abcdefghijklmnopqrstuvwxyz0123456789"):
        return "".join(alphabet[_vu.random_u64() % len(alphabet)] for _ in range(n))

    def name(self):
        return f"{self.choice(self._FIRST).title()} {self.choice(self._LAST).title()}"

    def email(self):
        return f"{self.choice(self._FIRST)}.{self.string(8)}@example.test"

    def uuid(self):
        a, b = _vu.random_u64(), _vu.random_u64()
        h = f"{a:016x}{b:016x}"
        return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[b % 4]}{h[17:20]}-{h[20:32]}"


random = _Random()


# ---------------------------------------------------------------- http

class HttpError(Exception):
    """A request that got no response. `kind`: refused, timeout, reset, tls,
    dns, invalid-request, not-allowed or other."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Response:
    # What most scripts read (status, body) is set here; the rest is read
    # from the binding's record when asked, so a request costs fewer
    # attribute stores and float objects.
    __slots__ = ("status", "body", "_raw", "_headers")

    def __init__(self, raw):
        self.status = raw.status
        self.body = raw.body
        self._raw = raw
        self._headers = None

    @property
    def protocol(self):
        return self._raw.protocol

    @property
    def duration_ms(self):
        return self._raw.timings.duration_us / 1000.0

    @property
    def waiting_ms(self):
        return self._raw.timings.waiting_us / 1000.0

    @property
    def headers(self):
        """Header names in lower case (parsed on first use)."""
        if self._headers is None:
            self._headers = dict(_header_pairs(self._raw.headers))
        return self._headers

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return _json.loads(self.body)

    @property
    def ok(self):
        return 200 <= self.status < 400

    def __repr__(self):
        return f"<Response {self.status} {len(self.body)} bytes>"


def _header_pairs(text):
    """`[name, value]` of each `name: value` line of the WIT's header text."""
    return [line.split(": ", 1) for line in text.split("\n") if ": " in line]


def _header_text(pairs):
    """`name: value` lines, the WIT's header encoding."""
    lines = []
    for k, v in pairs:
        if not k or any(c in k for c in ":\r\n") or any(c in v for c in "\r\n"):
            raise ValueError(
                f"header {k!r}: a name must be non-empty without ':' or line breaks, "
                "a value without line breaks")
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


# What `http.expect_statuses` set: sent with each request (None: 200-399).
_expected = None
# The request tag of `judged=True` (the engine strips it from the samples).
_VERDICT_TAG = ("volley_verdict", "call")


def _net_error(e):
    return HttpError(e.value.class_.name.lower().replace("_", "-"), e.value.message)


class _Http:
    def _build(self, method, url, body=None, json=None, headers=None,
               name=None, tags=None, timeout=None, expect=None, judged=False):
        hdrs = [(str(k), str(v)) for k, v in (headers or {}).items()]
        if json is not None:
            body = _json.dumps(json, separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k, _ in hdrs):
                hdrs.append(("content-type", "application/json"))
        elif isinstance(body, str):
            body = body.encode()
        expected = [int(s) for s in expect] if expect is not None else _expected
        tag_list = _tags(tags)
        if judged:
            tag_list.append(_VERDICT_TAG)
        return _http.Request(
            method.upper(), url, _header_text(hdrs), body or b"",
            None if timeout is None else int(timeout * 1000),
            name, tag_list, expected)

    def request(self, method, url, body=None, json=None, headers=None,
                name=None, tags=None, timeout=None, expect=None, judged=False):
        """Sends one request; returns a `Response` or raises `HttpError`.

        `json=` serializes a body and sets content-type; `timeout` in seconds;
        `name` groups URLs with ids in one metric series; `expect` lists the
        statuses that count as success for this request; `judged=True`: the
        scenario gives its verdict (`http.verdict`), not its status."""
        try:
            if (body is None and json is None and not headers and name is None and not tags
                    and timeout is None and expect is None and _expected is None
                    and not judged):
                # Only a method and a URL: `send-url` takes two strings where
                # `send` takes a request record the binding builds field by field.
                return Response(_http.send_url(method.upper(), url).response)
            req = self._build(method, url, body, json, headers, name, tags, timeout, expect,
                              judged)
            return Response(_http.send(req))
        except _Err as e:
            raise _net_error(e) from None

    def batch(self, requests):
        """Sends every request at once and waits for all (k6 `http.batch`).

        Each request is `(method, url)` or `(method, url, {keyword arguments
        of request()})`. Returns, in order, a `Response` for each answered
        request and an `HttpError` (not raised) for each that got none."""
        built = []
        for r in requests:
            method, url, kw = r[0], r[1], (r[2] if len(r) > 2 else {})
            built.append(self._build(method, url, **kw))
        out = []
        for r in _http.send_batch(built):
            if isinstance(r, _Err):
                out.append(_net_error(r))
            else:
                out.append(Response(r.value))
        return out

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, **kw):
        return self.request("POST", url, **kw)

    def put(self, url, **kw):
        return self.request("PUT", url, **kw)

    def patch(self, url, **kw):
        return self.request("PATCH", url, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)

    def verdict(self, ok, check=False):
        """The verdict on the last response to a `judged=True` request
        (Locust's `catch_response`): its `http_req_failed` sample (failed
        unless `ok`) and, with `check`, a check named after the request.
        False when no response waits for one; a response left without one
        when the next comes, or when the iteration ends, is judged by its
        status."""
        return _http.verdict(bool(ok), bool(check))

    def expect_statuses(self, *statuses):
        """Statuses this VU's later requests expect (others count in
        http_req_failed); none: 200-399 again. Kept here, sent per request."""
        global _expected
        _expected = [int(s) for s in statuses] or None


http = _Http()

# Kafka and WebSocket: the generated bindings, as they are (see the SDK README).
kafka = _kafka
ws = _ws


# ---------------------------------------------------------------- the runner

def _where(tb, root):
    """`file:line in function` of the innermost frame of the scenario's own
    code in traceback `tb` (not the SDK's, not the standard library's)."""
    sdk = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    best = None
    for frame in _traceback.extract_tb(tb):
        path = _os.path.abspath(frame.filename)
        if frame.filename.startswith("<") or path.startswith(sdk + _os.sep):
            continue
        if root and path.startswith(root + _os.sep):
            best = (_os.path.relpath(path, root), frame.lineno, frame.name)
        elif best is None or not root:
            best = (_os.path.basename(path), frame.lineno, frame.name)
    if best is None:
        return None
    return f"{best[0]}:{best[1]} in {best[2]}"


def _describe(e, root):
    """An exception as the iteration's error: its type, message and where
    in the scenario it was raised (`ValueError: no seat (at scenario.py:7 in book)`)."""
    if isinstance(e, Fail):
        text = str(e)
    elif isinstance(e, HttpError):
        text = f"HttpError {e}"
    else:
        text = "".join(_traceback.format_exception_only(type(e), e)).strip()
    where = _where(e.__traceback__, root)
    text = f"{text} (at {where})" if where else text
    if isinstance(e, OSError) and e.filename:
        text += (
            "; a scenario has no file system at run time: read files at the module's top level"
            " (the build keeps the data) or name them in the plan's [data]"
        )
    return text


def _seed_random():
    """Python's `random` starts from the engine's per-VU generator (random
    per run, `--seed` repeats it): the state frozen into the component at
    build time would otherwise be the same in every VU and every run."""
    _pyrandom.seed(_vu.random_u64())


class _Runner:
    """Turns a module of functions into the component's exports (a
    locustfile's user classes when the module imports `locust`)."""

    def __init__(self, module):
        self.module = module
        self.data = None
        file = getattr(module, "__file__", None)
        self.root = _os.path.dirname(_os.path.abspath(file)) if file else None
        import sys
        locust = sys.modules.get("locust")
        self.locust = locust._Runner(module) if locust is not None else None

    def _call(self, fn, *args):
        try:
            return fn(*args[: fn.__code__.co_argcount]) if hasattr(fn, "__code__") else fn(*args)
        except _Err:
            raise
        except Exception as e:
            raise _Err(_describe(e, self.root)) from None

    def setup(self):
        _seed_random()
        fn = getattr(self.module, "setup", None)
        data = self._call(fn) if fn else None
        return _json.dumps(data).encode()

    def init_vu(self, setup_data):
        _seed_random()
        self.data = _json.loads(setup_data) if setup_data else None
        fn = getattr(self.module, "init_vu", None)
        if fn:
            self._call(fn, self.data)

    def run(self, entry):
        if self.locust is not None:
            return self._call(self.locust.iterate, entry)
        fn = getattr(self.module, entry.replace("-", "_"), None)
        if not callable(fn):
            raise _Err(f"no entry `{entry}`: define `def {entry.replace('-', '_')}(data):` in the scenario module")
        self._call(fn, self.data)

    def stop_vu(self):
        # Only a locustfile has a per-user stop (`on_stop`).
        if self.locust is not None:
            self._call(self.locust.stop)

    def teardown(self, setup_data):
        fn = getattr(self.module, "teardown", None)
        if fn:
            self._call(fn, _json.loads(setup_data) if setup_data else None)
