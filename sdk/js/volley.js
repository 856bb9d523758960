// volley: write load-test scenarios in JavaScript, the way k6 scripts are.
//
//   import { http, check, sleep, vu } from 'volley';
//
//   export function setup() { return { token: 't-1' }; }    // optional, once per run
//   export default function (data) {                        // one iteration
//     const r = http.get(`${vu.param('api')}/health`);
//     check(r, { 'status is 200': (r) => r.status === 200 });
//     sleep(0.1);
//   }
//   export function teardown(data) {}                       // optional
//
// Other entries are other named exports (`exec = "browse"` calls `browse(data)`).
// A thrown error fails the iteration (counted in `iterations_failed`); the VU
// goes on. `volley build` compiles the script with componentize-js.

import * as whttp from 'volley:scenario/http@0.1.0';
import * as wmetrics from 'volley:scenario/metrics@0.1.0';
import * as wvu from 'volley:scenario/vu@0.1.0';
import * as wlog from 'volley:scenario/log@0.1.0';
import * as wkafka from 'volley:scenario/kafka@0.1.0';
import * as wws from 'volley:scenario/ws@0.1.0';

export const VERSION = '0.1.0';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function tagList(tags) {
  return tags ? Object.entries(tags).map(([k, v]) => [String(k), String(v)]) : [];
}

// ------------------------------------------------------------------ metrics

/**
 * k6 style: `check(value, { 'name': (v) => bool, ... })` records each named
 * check and returns true when all pass. Also `check('name', bool)`.
 */
export function check(value, checks) {
  if (typeof value === 'string' && typeof checks === 'boolean') {
    return wmetrics.check(value, checks);
  }
  let all = true;
  for (const [name, pred] of Object.entries(checks || {})) {
    let ok;
    try {
      ok = typeof pred === 'function' ? !!pred(value) : !!pred;
    } catch (_) {
      ok = false;
    }
    wmetrics.check(name, ok);
    all = all && ok;
  }
  return all;
}

export class Counter {
  constructor(name) { this.name = name; }
  add(value = 1, tags) { wmetrics.counterAdd(this.name, Number(value), tagList(tags)); }
}
export class Gauge {
  constructor(name) { this.name = name; }
  add(value, tags) { wmetrics.gaugeSet(this.name, Number(value), tagList(tags)); }
}
export class Rate {
  constructor(name) { this.name = name; }
  add(ok, tags) { wmetrics.rateAdd(this.name, !!ok, tagList(tags)); }
}
export class Trend {
  constructor(name) { this.name = name; }
  add(value, tags) { wmetrics.trendAdd(this.name, Number(value), tagList(tags)); }
}

/** An event `key` starts now; its latency lands in trend `metric` on `arrive`. */
export function mark(metric, key, expected = 1) { wmetrics.mark(metric, String(key), expected); }
/** Event `key` observed: its latency in microseconds, or undefined. */
export function arrive(key) {
  const us = wmetrics.arrive(String(key));
  return us === undefined ? undefined : Number(us);
}

// ------------------------------------------------------------------ vu, time, log

export const vu = {
  get id() { return wvu.id(); },
  get iteration() { return Number(wvu.iteration()); },
  get scenario() { return wvu.scenario(); },
  param(name, fallback) { const v = wvu.param(name); return v === undefined ? fallback : v; },
  params() { return Object.fromEntries(wvu.params()); },
  nowUs() { return Number(wvu.nowUs()); },
  dataLen(name) { return Number(wvu.dataLen(name)); },
  dataRow(name, index) {
    const row = wvu.dataRow(name, BigInt(index));
    return row === undefined ? undefined : JSON.parse(row);
  },
};

/** Pauses this VU for `seconds` (k6 `sleep`) on the engine's timer. */
export function sleep(seconds) { wvu.sleepMs(BigInt(Math.max(0, Math.round(seconds * 1000)))); }

export const log = {
  debug: (m) => wlog.write('debug', String(m)),
  info: (m) => wlog.write('info', String(m)),
  warn: (m) => wlog.write('warn', String(m)),
  error: (m) => wlog.write('error', String(m)),
};

/** Fails the iteration with `message` (k6 `fail`). */
export function fail(message) { throw new Error(message); }

// ------------------------------------------------------------------ random test data

const FIRST = ['ada', 'alan', 'grace', 'linus', 'barbara', 'ken', 'margaret', 'dennis', 'edsger', 'frances'];
const LAST = ['lovelace', 'turing', 'hopper', 'torvalds', 'liskov', 'thompson', 'hamilton', 'ritchie', 'dijkstra', 'allen'];

/** Random test data from the engine's per-VU generator. */
export const random = {
  u64() { return wvu.randomU64(); },
  /** A uniform integer in [lo, hi]. */
  int(lo, hi) {
    if (hi < lo) throw new RangeError(`random.int(${lo}, ${hi}): hi < lo`);
    return lo + Number(wvu.randomU64() % BigInt(hi - lo + 1));
  },
  float() { return Number(wvu.randomU64() >> 11n) / 2 ** 53; },
  choice(items) {
    if (!items.length) throw new RangeError('random.choice of an empty array');
    return items[random.int(0, items.length - 1)];
  },
  string(n = 12, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789') {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Number(wvu.randomU64() % BigInt(alphabet.length))];
    return s;
  },
  name() {
    const cap = (w) => w[0].toUpperCase() + w.slice(1);
    return `${cap(random.choice(FIRST))} ${cap(random.choice(LAST))}`;
  },
  email() { return `${random.choice(FIRST)}.${random.string(8)}@example.test`; },
  uuid() {
    const h = (wvu.randomU64().toString(16).padStart(16, '0') + wvu.randomU64().toString(16).padStart(16, '0'));
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[random.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  },
};

// ------------------------------------------------------------------ http

/** A request that got no response; `kind` is refused, timeout, reset, tls, dns, invalid-request, not-allowed or other. */
export class HttpError extends Error {
  constructor(kind, message) {
    super(`${kind}: ${message}`);
    this.name = 'HttpError';
    this.kind = kind;
  }
}

export class Response {
  constructor(raw) {
    this.status = raw.status;
    this.protocol = raw.protocol;
    this.bodyBytes = raw.body;
    this.timings = {
      duration: Number(raw.timings.durationUs) / 1000,
      waiting: Number(raw.timings.waitingUs) / 1000,
      receiving: Number(raw.timings.receivingUs) / 1000,
    };
    this.headers = {};
    for (const [k, v] of raw.headers) this.headers[k.toLowerCase()] = v;
    this._text = undefined;
  }
  get body() {
    if (this._text === undefined) this._text = decoder.decode(this.bodyBytes);
    return this._text;
  }
  json() { return JSON.parse(this.body); }
  get ok() { return this.status >= 200 && this.status < 400; }
}

function request(method, url, body, params = {}) {
  const headers = Object.entries(params.headers || {}).map(([k, v]) => [String(k), String(v)]);
  let bytes;
  if (body === undefined || body === null) {
    bytes = new Uint8Array(0);
  } else if (body instanceof Uint8Array) {
    bytes = body;
  } else if (typeof body === 'string') {
    bytes = encoder.encode(body);
  } else {
    bytes = encoder.encode(JSON.stringify(body));
    if (!headers.some(([k]) => k.toLowerCase() === 'content-type')) headers.push(['content-type', 'application/json']);
  }
  const tags = tagList(params.tags);
  const name = params.name ?? (params.tags && params.tags.name);
  try {
    return new Response(whttp.send({
      method,
      url,
      headers,
      body: bytes,
      timeoutMs: params.timeout === undefined ? undefined : Math.round(params.timeout * 1000),
      name,
      tags,
    }));
  } catch (e) {
    const p = e && e.payload;
    if (p && p.tag === undefined && p.message !== undefined) throw new HttpError(p.class, p.message);
    throw e;
  }
}

/**
 * HTTP like k6's `http`: `get(url, params)`, `post(url, body, params)`, ...
 * An object body is sent as JSON. `params`: headers, name (metric series),
 * tags, timeout (seconds). Returns a `Response`; throws `HttpError` when
 * there is no response at all.
 */
export const http = {
  get: (url, params) => request('GET', url, undefined, params),
  del: (url, body, params) => request('DELETE', url, body, params),
  post: (url, body, params) => request('POST', url, body, params),
  put: (url, body, params) => request('PUT', url, body, params),
  patch: (url, body, params) => request('PATCH', url, body, params),
  request: (method, url, body, params) => request(method, url, body, params),
  /** Statuses this VU's later requests expect (k6 `expectedStatuses`). */
  expectStatuses: (...statuses) => whttp.expectStatuses(statuses),
};

// Kafka and WebSocket: the generated bindings, as they are (see the SDK README).
export const kafka = wkafka;
export const ws = wws;

// ------------------------------------------------------------------ the runner (used by volley build's glue)

function describe(e) {
  if (e instanceof Error) return e.stack ? `${e.name}: ${e.message}\n${e.stack}`.trim() : `${e.name}: ${e.message}`;
  return String(e);
}

export function __runner(mod) {
  let data;
  const call = (fn, arg) => {
    try {
      return fn(arg);
    } catch (e) {
      throw describe(e);
    }
  };
  return {
    setup() {
      const out = typeof mod.setup === 'function' ? call(mod.setup) : undefined;
      return encoder.encode(JSON.stringify(out === undefined ? null : out));
    },
    initVu(bytes) {
      data = bytes.length ? JSON.parse(decoder.decode(bytes)) : null;
      if (typeof mod.initVu === 'function') call(mod.initVu, data);
    },
    run(entry) {
      const fn = entry === 'default' ? mod.default : mod[entry];
      if (typeof fn !== 'function') {
        throw `no entry \`${entry}\`: export ${entry === 'default' ? 'default function (data) {...}' : `function ${entry}(data) {...}`} from the script`;
      }
      call(fn, data);
    },
    teardown(bytes) {
      if (typeof mod.teardown === 'function') call(mod.teardown, bytes.length ? JSON.parse(decoder.decode(bytes)) : null);
    },
  };
}
