"""`self.client` of an HttpUser: Locust's HttpSession (requests-like) on
volley's engine client. The engine times each request and records it under
its name (Locust's: the path and query, or `name=`)."""

import base64 as _base64
import datetime as _datetime
import http.client as _httpclient
import json as _json
import random as _random
from urllib.parse import urlencode as _urlencode
from urllib.parse import urlsplit as _urlsplit

from componentize_py_types import Err as _Err
from volley import check as _check
from volley import log as _log
from wit_world.imports import http as _http
from volley import _header_pairs, _header_text

from .exception import CatchResponseError, HTTPError, ResponseError

# A request whose http_req_failed sample the scenario gives (catch_response).
_VERDICT_TAG = ("volley_verdict", "call")
# allow_redirects=False: the engine follows no redirect for this request.
_NO_REDIRECTS_TAG = ("volley_redirects", "0")
# Failure messages logged per VU (the rest are only counted).
_LOG_LIMIT = 5


class CaseInsensitiveDict(dict):
    """Response headers: `headers["Content-Type"]` and `headers["content-type"]`
    are the same entry (requests' CaseInsensitiveDict)."""

    def __init__(self, pairs=()):
        super().__init__()
        self._names = {}
        for k, v in pairs:
            key = k.lower()
            if key in self._names:
                # Repeated headers join with ", " (requests does the same).
                v = dict.__getitem__(self, self._names[key]) + ", " + v
            else:
                self._names[key] = k
            dict.__setitem__(self, self._names[key], v)

    def __getitem__(self, k):
        return dict.__getitem__(self, self._names[k.lower()])

    def __contains__(self, k):
        return isinstance(k, str) and k.lower() in self._names

    def get(self, k, default=None):
        return self[k] if k in self else default


class _Request:
    def __init__(self, method, url, headers, body):
        self.method, self.url, self.headers, self.body = method, url, headers, body

    @property
    def path_url(self):
        return _path_of(self.url)


class Response:
    """What a request returns: `status_code`, `text`, `content`, `json()`,
    `headers`, `ok`, `url`, `elapsed`, `raise_for_status()`; `error` when
    no response came (then `status_code` is 0, as in Locust)."""

    def __init__(self, sent, raw=None, error=None, url=None):
        # (method, url, headers, body): `request` is made from it when read.
        self._sent = sent
        # After redirects, the URL that answered (as requests gives it).
        self.url = url or sent[1]
        self.error = error
        self.encoding = "utf-8"
        # headers, elapsed, reason, history and request are made when first
        # read (see __getattr__): most tasks read only the status or body.
        self._raw = raw
        if raw is None:
            self.status_code = 0
            self.content = b""
            self.cookies = {}
        else:
            self.status_code = raw.status
            self.content = bytes(raw.body)
            self.cookies = _set_cookies(raw.headers)

    def __getattr__(self, name):
        # Only called for what the instance does not hold yet.
        raw = self.__dict__.get("_raw")
        if name == "headers":
            value = CaseInsensitiveDict(_header_pairs(raw.headers) if raw is not None else ())
        elif name == "elapsed":
            # requests' `elapsed`: from sending the request until its
            # response head arrived, the body's download not counted.
            us = raw.timings.duration_us - raw.timings.receiving_us if raw is not None else 0
            value = _datetime.timedelta(microseconds=us)
        elif name == "reason":
            value = _httpclient.responses.get(raw.status, "") if raw is not None else None
        elif name == "history":
            value = []
        elif name == "request":
            value = _Request(*self.__dict__["_sent"])
        else:
            raise AttributeError(f"'Response' object has no attribute '{name}'")
        self.__dict__[name] = value
        return value

    @property
    def text(self):
        return self.content.decode(self.encoding or "utf-8", "replace")

    def json(self, **kwargs):
        return _json.loads(self.content, **kwargs)

    @property
    def ok(self):
        return 0 < self.status_code < 400

    def raise_for_status(self):
        if self.error is not None:
            raise self.error
        if 400 <= self.status_code < 600:
            kind = "Client" if self.status_code < 500 else "Server"
            raise HTTPError(
                f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}", response=self
            )

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


def _set_cookies(headers):
    """`{name: value}` of the cookies a `set-cookie` line in `headers` sets."""
    cookies = {}
    # Header names come in lower case; most responses set no cookie, and one
    # substring search is cheaper than splitting every response's headers.
    if "set-cookie" not in headers:
        return cookies
    for line in headers.split("\n"):
        if line[:12].lower() == "set-cookie: ":
            name, _, rest = line[12:].partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0].strip()
    return cookies


def _path_of(url):
    """The path and query of `url` (requests' `path_url`)."""
    parts = _urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _default_name(url, full, params, base_path):
    """Locust's name for a request without `name=`: the path and query of
    `full`. For a relative `url` with no `params` (and no fragment) that is
    the host's own path, `base_path`, and `url`: no parsing of the URL."""
    if not params and url[:1] == "/" and url[1:2] != "/" and "#" not in url:
        return base_path + url
    return _path_of(full)


class ConnectionError(Exception):
    """No response: refused, timeout, reset, tls, dns, invalid-request or
    not-allowed (`kind`)."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class ResponseContextManager:
    """`with self.client.get(..., catch_response=True) as response:` — the
    request counts as failed only if `response.failure(msg)` is called (or,
    without either call, by its status as usual)."""

    def __init__(self, response, session, method, name):
        self._response = response
        self._session = session
        self._method = method
        self._name = name
        self._verdict = None
        self._reported = False

    def __getattr__(self, attr):
        return getattr(self._response, attr)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._reported:
            return exc is None
        if exc is not None:
            failed = exc if isinstance(exc, ResponseError) else exc_type.__name__ + ": " + str(exc)
            self._report(failed)
            # Locust reports a ResponseError as the failure and goes on.
            return isinstance(exc, ResponseError)
        if self._verdict is None:
            try:
                self._response.raise_for_status()
                self._report(None)
            except Exception as e:
                self._report(e)
        else:
            self._report(self._verdict if self._verdict is not True else None)
        return True

    def success(self):
        self._verdict = True

    def failure(self, exc):
        if not isinstance(exc, Exception):
            exc = CatchResponseError(exc)
        self._verdict = exc

    def _report(self, failure):
        self._reported = True
        ok = failure is None
        # The engine left this response's http_req_failed sample to us: one
        # call gives it and the check named after the request. A request
        # with no response was judged by the engine; its check is ours.
        if not (self._response.status_code and _http.verdict(ok, True)):
            _check(self._name, ok)
        if not ok:
            self._session._log_failure(self._method, self._name, failure)


def _part_bytes(value):
    if hasattr(value, "read"):
        value = value.read()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode()


def _multipart(data, files):
    """requests' multipart/form-data body: `data`'s fields, then `files`
    (a dict or pairs; each value a file object, bytes or text, or a tuple
    `(filename, value[, content_type[, headers]])`): (boundary, body)."""
    boundary = f"{_random.getrandbits(128):032x}"
    parts = []

    def add(name, value, filename=None, content_type=None, headers=None):
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if filename is not None:
            head += f'; filename="{filename}"'
        if content_type:
            head += f"\r\nContent-Type: {content_type}"
        for k, v in (headers or {}).items():
            head += f"\r\n{k}: {v}"
        parts.append(head.encode() + b"\r\n\r\n" + _part_bytes(value) + b"\r\n")

    if isinstance(data, dict):
        data = list(data.items())
    elif isinstance(data, (str, bytes)):
        raise ValueError("files= with a data= that is not a dict or pairs: requests cannot send both as one body either")
    for name, value in data or ():
        for v in value if isinstance(value, (list, tuple)) else (value,):
            add(name, v)
    for name, value in files.items() if isinstance(files, dict) else files:
        if isinstance(value, (list, tuple)):
            filename, content, *rest = value
            add(name, content, filename, rest[0] if rest else None, rest[1] if len(rest) > 1 else None)
        else:
            # As requests: a file object's own name, else the field's.
            own = getattr(value, "name", None)
            filename = own.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(own, str) and own[:1] != "<" else name
            add(name, value, filename)
    return boundary, b"".join(parts) + f"--{boundary}--\r\n".encode()


class HttpSession:
    """Locust's HttpSession: `get/post/put/patch/delete/head/options/request`
    with `name=`, `headers=`, `params=`, `data=` (a dict is form-encoded),
    `files=` (multipart/form-data, as requests sends it), `json=`, `auth=`,
    `cookies=`, `timeout=`, `catch_response=`. Cookies the target sets are
    sent back on later requests of this user."""

    def __init__(self, base_url, user=None):
        self.base_url = base_url
        # A host with a path (`http://h/api`) names requests `/api/...`.
        self._base_path = _urlsplit(base_url).path if base_url else ""
        self.user = user
        self.cookies = {}
        self.headers = {}
        self._failures_logged = 0

    def _build_url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        if not self.base_url:
            raise ValueError(f"{path}: a relative URL and no host (set `host` on the user class)")
        return f"{self.base_url}{path}"

    def request(self, method, url, name=None, catch_response=False, params=None,
                data=None, json=None, headers=None, cookies=None, auth=None,
                timeout=None, allow_redirects=True, files=None, **kwargs):
        for k in kwargs:
            if k not in ("verify", "stream", "cert", "proxies", "context"):
                raise TypeError(f"request() got an unexpected keyword argument '{k}'")
        method = method.upper()
        full = self._build_url(url)
        if params:
            query = _urlencode(params, doseq=True) if not isinstance(params, (str, bytes)) else params
            if isinstance(query, bytes):
                query = query.decode()
            full += ("&" if "?" in full else "?") + query
        hdrs = dict(self.headers)
        if headers:
            hdrs.update({str(k): str(v) for k, v in headers.items()})
        lower = {k.lower() for k in hdrs} if hdrs else ()
        body = b""
        if files:
            boundary, body = _multipart(data, files)
            if "content-type" not in lower:
                hdrs["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif json is not None:
            body = _json.dumps(json).encode()
            if "content-type" not in lower:
                hdrs["Content-Type"] = "application/json"
        elif isinstance(data, (dict, list, tuple)):
            body = _urlencode(data, doseq=True).encode()
            if "content-type" not in lower:
                hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(data, str):
            body = data.encode()
        elif data is not None:
            body = bytes(data)
        if auth is not None:
            token = _base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            hdrs["Authorization"] = f"Basic {token}"
        jar = {**self.cookies, **cookies} if cookies else self.cookies
        if jar and "cookie" not in lower:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        sent = (method, full, hdrs, body)
        name = name or _default_name(url, full, params, self._base_path)
        tags = [_VERDICT_TAG] if catch_response else []
        if not allow_redirects:
            tags.append(_NO_REDIRECTS_TAG)
        wit = _http.Request(
            method, full, _header_text(hdrs.items()) if hdrs else "", body,
            None if timeout is None else max(1, int(timeout * 1000)),
            name, tags, None,
        )
        try:
            followed = _http.send_followed(wit)
            # Cookies set on a redirect on the way count too (requests keeps them).
            for hop in followed.redirects:
                self.cookies.update(_set_cookies(hop.headers))
            response = Response(sent, raw=followed.response, url=followed.url)
        except _Err as e:
            kind = e.value.class_.name.lower().replace("_", "-")
            response = Response(sent, error=ConnectionError(kind, e.value.message))
        if response.cookies:
            self.cookies.update(response.cookies)
        if catch_response:
            return ResponseContextManager(response, self, method, name)
        if response.error is not None:
            self._log_failure(method, name, response.error)
        return response

    def _log_failure(self, method, name, failure):
        if self._failures_logged < _LOG_LIMIT:
            self._failures_logged += 1
            _log.warn(f"{method} {name}: {failure}")

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url, data=None, **kwargs):
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)

    def head(self, url, **kwargs):
        return self.request("HEAD", url, **kwargs)

    def options(self, url, **kwargs):
        return self.request("OPTIONS", url, **kwargs)

    def rest(self, method, url, **kwargs):
        """FastHttpUser.rest: a catch_response request whose `js` is the JSON body."""
        ctx = self.request(method, url, catch_response=True, **kwargs)
        try:
            ctx._response.js = ctx._response.json()
        except ValueError:
            ctx._response.js = None
            if ctx._response.status_code and ctx._response.content:
                ctx.failure(f"not JSON: {ctx._response.text[:80]!r}")
        return ctx
