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

// QuickJS has no TextEncoder/TextDecoder: UTF-8 by hand there.
const encoder = typeof TextEncoder === 'function' ? new TextEncoder() : {
  encode(text) {
    const bytes = [];
    for (let i = 0; i < text.length; i++) {
      let c = text.codePointAt(i);
      if (c > 0xffff) i++;
      if (c < 0x80) bytes.push(c);
      else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(bytes);
  },
};
const decoder = typeof TextDecoder === 'function' ? new TextDecoder() : {
  decode(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i++];
      let c;
      if (b < 0x80) c = b;
      else if (b < 0xe0) c = ((b & 31) << 6) | (bytes[i++] & 63);
      else if (b < 0xf0) c = ((b & 15) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
      else c = ((b & 7) << 18) | ((bytes[i++] & 63) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
      out += String.fromCodePoint(c);
    }
    return out;
  },
};

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
  for (const name in checks) {
    const pred = checks[name];
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

// 53 random bits: the host's u64 is a BigInt in SpiderMonkey but a number
// (a double: only its top 53 bits are exact) in QuickJS.
const TWO53 = 2 ** 53;
function bits53() {
  const v = wvu.randomU64();
  return typeof v === 'bigint' ? Number(v >> 11n) : Math.floor(v / 2048);
}

/** Random test data from the engine's per-VU generator. */
export const random = {
  /** A uniform float in [0, 1). */
  float() { return bits53() / TWO53; },
  /** A uniform integer in [lo, hi]. */
  int(lo, hi) {
    if (hi < lo) throw new RangeError(`random.int(${lo}, ${hi}): hi < lo`);
    return lo + Math.floor(random.float() * (hi - lo + 1));
  },
  choice(items) {
    if (!items.length) throw new RangeError('random.choice of an empty array');
    return items[random.int(0, items.length - 1)];
  },
  string(n = 12, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789') {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[random.int(0, alphabet.length - 1)];
    return s;
  },
  name() {
    const cap = (w) => w[0].toUpperCase() + w.slice(1);
    return `${cap(random.choice(FIRST))} ${cap(random.choice(LAST))}`;
  },
  email() { return `${random.choice(FIRST)}.${random.string(8)}@example.test`; },
  uuid() {
    let h = '';
    for (let i = 0; i < 4; i++) h += Math.floor(bits53() / 2 ** 21).toString(16).padStart(8, '0');
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

const NONE = new Uint8Array(0);
const NO_PAIRS = Object.freeze([]);

/** A response; headers, body text and timings are decoded on first use. */
export class Response {
  constructor(raw) {
    this.status = raw.status;
    this._raw = raw;
    this._text = undefined;
    this._headers = undefined;
  }
  get protocol() { return this._raw.protocol; }
  get bodyBytes() { return this._raw.body; }
  get body() {
    if (this._text === undefined) this._text = decoder.decode(this._raw.body);
    return this._text;
  }
  /** Header names in lower case. */
  get headers() {
    if (this._headers === undefined) {
      this._headers = {};
      for (const line of this._raw.headers.split('\n')) {
        const at = line.indexOf(': ');
        if (at > 0) this._headers[line.slice(0, at)] = line.slice(at + 2);
      }
    }
    return this._headers;
  }
  /** In milliseconds. */
  get timings() {
    const t = this._raw.timings;
    return {
      duration: Number(t.durationUs) / 1000,
      waiting: Number(t.waitingUs) / 1000,
      receiving: Number(t.receivingUs) / 1000,
    };
  }
  json() { return JSON.parse(this.body); }
  get ok() { return this.status >= 200 && this.status < 400; }
}

function request(method, url, body, params) {
  let headers = NO_PAIRS;
  let bytes = NONE;
  if (params && params.headers) {
    headers = [];
    for (const k in params.headers) headers.push([k, String(params.headers[k])]);
  }
  if (body === undefined || body === null) {
    // no body
  } else if (body instanceof Uint8Array) {
    bytes = body;
  } else if (typeof body === 'string') {
    bytes = encoder.encode(body);
  } else {
    bytes = encoder.encode(JSON.stringify(body));
    if (!headers.some(([k]) => k.toLowerCase() === 'content-type')) {
      if (headers === NO_PAIRS) headers = [];
      headers.push(['content-type', 'application/json']);
    }
  }
  const req = {
    method,
    url,
    headers,
    body: bytes,
    timeoutMs: undefined,
    name: undefined,
    tags: NO_PAIRS,
  };
  if (params) {
    if (params.timeout !== undefined) req.timeoutMs = Math.round(params.timeout * 1000);
    if (params.tags) req.tags = tagList(params.tags);
    req.name = params.name ?? (params.tags && params.tags.name);
  }
  try {
    return new Response(whttp.send(req));
  } catch (e) {
    const p = e && e.payload !== undefined ? e.payload : e;
    if (p && typeof p === 'object' && p.message !== undefined && p.class !== undefined) {
      throw new HttpError(p.class, p.message);
    }
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
  if (e && typeof e === 'object') return JSON.stringify(e);
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
