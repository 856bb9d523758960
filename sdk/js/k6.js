// k6's modules on volley's SDK, so a k6 script runs as written: `k6`,
// `k6/http`, `k6/metrics`, `k6/data`, `k6/execution`, `k6/encoding` and
// `k6/crypto`. `volley build` points a script's `import ... from 'k6/...'`
// here. What k6 has and volley does not is refused by name ("not supported
// by volley: k6/http.asyncRequest"), never answered with a silent no-op.

import * as volley from './volley.js';
import * as wvu from 'volley:scenario/vu@0.2.0';

const { Counter, Gauge, Rate, Trend, sleep, fail, randomSeed, open } = volley;

/** A module object whose unknown members say that volley lacks them. */
function k6module(name, members) {
  // Descriptors, not values: getters (the VU's id, ...) stay lazy.
  const obj = Object.defineProperties({ __esModule: true }, Object.getOwnPropertyDescriptors(members));
  const proxy = new Proxy(obj, {
    get(t, p) {
      if (p in t || typeof p !== 'string' || p === 'then' || p === 'toJSON') return t[p];
      throw new Error(`not supported by volley: ${name}.${p} (see the k6 table in volley's JavaScript SDK README)`);
    },
  });
  if (!('default' in members)) obj.default = proxy;
  return proxy;
}

// ------------------------------------------------------------------ k6

/**
 * k6 `check(value, { name: predicate }, tags)`: records each check with
 * `tags` and the current group's tag; true when all pass.
 */
function check(value, sets, tags) {
  return volley.check(value, sets, tags);
}

let groupDuration;
/** k6 `group(name, fn)`: `group_duration` and a `group=::name` tag on what runs inside (requests, checks, metrics). */
function group(name, fn) {
  if (!groupDuration) groupDuration = new Trend('group_duration');
  const outer = volley.__group();
  const path = `${outer}::${name}`;
  volley.__group(path);
  const start = Number(wvu.nowUs());
  try {
    return fn();
  } finally {
    volley.__group(outer);
    groupDuration.add((Number(wvu.nowUs()) - start) / 1000, { group: path });
  }
}

const k6 = k6module('k6', { check, group, sleep, fail, randomSeed });

// ------------------------------------------------------------------ k6/http

/** k6 durations: a number is milliseconds, a string has a unit (`10s`, `500ms`, `1m`). */
function durationMs(v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Math.round(v);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(v));
  if (!m) throw new Error(`params.timeout: ${JSON.stringify(v)} is not a duration (e.g. '10s', '500ms', or milliseconds)`);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 'ms'];
  return Math.round(Number(m[1]) * unit);
}

function k6request(method, url, body, params) {
  method = String(method).toUpperCase();
  return volley.__k6Request(method, url, body, params, durationMs(params && params.timeout));
}

/** The status list `expectedStatuses` stands for (ranges expanded). */
function expectedStatuses(...specs) {
  const list = [];
  for (const s of specs) {
    if (typeof s === 'number') list.push(s);
    else if (s && typeof s === 'object' && s.min !== undefined && s.max !== undefined) {
      for (let c = Math.max(100, s.min); c <= Math.min(599, s.max); c++) list.push(c);
    } else throw new Error(`http.expectedStatuses: ${JSON.stringify(s)} is neither a status nor {min, max}`);
  }
  return { __volleyStatuses: list };
}

function setResponseCallback(cb) {
  if (cb === null || cb === undefined) volley.__expect(null);
  else if (cb && Array.isArray(cb.__volleyStatuses)) volley.__expect(cb.__volleyStatuses);
  else throw new Error('not supported by volley: http.setResponseCallback with a function (pass http.expectedStatuses(...))');
}

/** `http.batch`: every request at once (the engine's batch call); responses in the same shape (array or object). */
function batch(requests) {
  const one = (r) => {
    let m;
    if (typeof r === 'string') m = ['GET', r, null, undefined];
    else if (Array.isArray(r)) m = [r[0], r[1], r[2], r[3]];
    else if (r && typeof r === 'object') m = [r.method || 'GET', r.url, r.body, r.params];
    else throw new Error(`http.batch: ${JSON.stringify(r)} is not a request (a URL, [method, url, body, params] or {method, url, body, params})`);
    m[0] = String(m[0]).toUpperCase();
    m.push(durationMs(m[3] && m[3].timeout));
    return m;
  };
  if (Array.isArray(requests)) return volley.__k6Batch(requests.map(one));
  const keys = Object.keys(requests);
  const answers = volley.__k6Batch(keys.map((k) => one(requests[k])));
  const out = {};
  keys.forEach((k, i) => { out[k] = answers[i]; });
  return out;
}

const http = k6module('k6/http', {
  get: (url, params) => k6request('GET', url, null, params),
  head: (url, params) => k6request('HEAD', url, null, params),
  options: (url, body, params) => k6request('OPTIONS', url, body, params),
  del: (url, body, params) => k6request('DELETE', url, body, params),
  post: (url, body, params) => k6request('POST', url, body, params),
  put: (url, body, params) => k6request('PUT', url, body, params),
  patch: (url, body, params) => k6request('PATCH', url, body, params),
  request: (method, url, body, params) => k6request(method, url, body, params),
  batch,
  cookieJar: volley.cookieJar,
  CookieJar: volley.CookieJar,
  expectedStatuses,
  setResponseCallback,
  Response: volley.Response,
});

// ------------------------------------------------------------------ k6/metrics

class K6Trend extends Trend {
  constructor(name, isTime) {
    super(name);
    this.isTime = !!isTime;
  }
}

const metrics = k6module('k6/metrics', { Counter, Gauge, Rate, Trend: K6Trend });

// ------------------------------------------------------------------ k6/data

/**
 * k6 `SharedArray(name, fn)`: a read-only array from `fn`. Built once per VU
 * (at init), not shared between VUs; the engine's own data sets
 * (`vu.dataRow`) are the shared ones.
 */
class SharedArray {
  constructor(name, fn) {
    if (typeof fn !== 'function') throw new Error(`SharedArray(${JSON.stringify(name)}): the second argument must be a function returning an array`);
    const items = fn();
    if (!Array.isArray(items)) throw new Error(`SharedArray(${JSON.stringify(name)}): the function must return an array`);
    return Object.freeze(items.slice());
  }
}

const data = k6module('k6/data', { SharedArray });

// ------------------------------------------------------------------ k6/execution

const execution = k6module('k6/execution', {
  vu: k6module('k6/execution.vu', {
    get idInTest() { return wvu.id(); },
    get idInInstance() { return wvu.id(); },
    get iterationInInstance() { return Number(wvu.iteration()); },
    get iterationInScenario() { return Number(wvu.iteration()); },
    tags: {},
  }),
  scenario: k6module('k6/execution.scenario', {
    get name() { return wvu.scenario(); },
    /** This VU's iteration (volley counts per VU; k6 counts across the scenario). */
    get iterationInInstance() { return Number(wvu.iteration()); },
  }),
  instance: k6module('k6/execution.instance', {}),
  test: k6module('k6/execution.test', {
    abort(message) {
      throw new Error(`not supported by volley: exec.test.abort(${JSON.stringify(message ?? '')}) (use a threshold with abortOnFail)`);
    },
  }),
});

// ------------------------------------------------------------------ k6/encoding

function toBytes(input) {
  if (typeof input === 'string') return volley.__encoder.encode(input);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (input instanceof Uint8Array) return input;
  throw new Error('expected a string or an ArrayBuffer');
}

function b64encode(input, encoding = 'std') {
  let s = volley.bytesB64(toBytes(input));
  if (encoding === 'url' || encoding === 'rawurl') s = s.replace(/\+/g, '-').replace(/\//g, '_');
  if (encoding === 'rawstd' || encoding === 'rawurl') s = s.replace(/=+$/, '');
  return s;
}

function b64decode(input, encoding, format) {
  const bytes = volley.b64bytes(input);
  if (format === 's') return volley.__decoder.decode(bytes);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

const encoding = k6module('k6/encoding', { b64encode, b64decode });

// ------------------------------------------------------------------ k6/crypto (in JavaScript)

function words(bytes) {
  const w = [];
  for (let i = 0; i < bytes.length; i += 4) {
    w.push(((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0);
  }
  return w;
}
/** Merkle–Damgård padding: 0x80, zeros, the bit length (big- or little-endian). */
function pad(bytes, little) {
  const len = bytes.length;
  const total = (((len + 8) >> 6) + 1) << 6;
  const out = new Uint8Array(total);
  out.set(bytes);
  out[len] = 0x80;
  const bits = len * 8;
  for (let i = 0; i < 8; i++) {
    const byte = Math.floor(bits / 2 ** (8 * i)) & 255;
    out[little ? total - 8 + i : total - 1 - i] = byte;
  }
  return out;
}

const K256 = [];
{
  const primes = [];
  for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p)) primes.push(n);
  for (const p of primes) K256.push(Math.floor((Math.cbrt(p) % 1) * 4294967296) >>> 0);
}

function sha256(bytes) {
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = words(pad(bytes, false));
  const r = (x, n) => (x >>> n) | (x << (32 - n));
  for (let i = 0; i < w.length; i += 16) {
    const m = w.slice(i, i + 16);
    for (let t = 16; t < 64; t++) {
      const s0 = r(m[t - 15], 7) ^ r(m[t - 15], 18) ^ (m[t - 15] >>> 3);
      const s1 = r(m[t - 2], 17) ^ r(m[t - 2], 19) ^ (m[t - 2] >>> 10);
      m[t] = (m[t - 16] + s0 + m[t - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (r(e, 6) ^ r(e, 11) ^ r(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] + m[t]) | 0;
      const t2 = ((r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    [a, b, c, d, e, f, g, hh].forEach((v, j) => { h[j] = (h[j] + v) | 0; });
  }
  return beBytes(h);
}

function sha1(bytes) {
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = words(pad(bytes, false));
  const rl = (x, n) => (x << n) | (x >>> (32 - n));
  for (let i = 0; i < w.length; i += 16) {
    const m = w.slice(i, i + 16);
    for (let t = 16; t < 80; t++) m[t] = rl(m[t - 3] ^ m[t - 8] ^ m[t - 14] ^ m[t - 16], 1);
    let [a, b, c, d, e] = h;
    for (let t = 0; t < 80; t++) {
      const [f, k] = t < 20 ? [(b & c) | (~b & d), 0x5a827999]
        : t < 40 ? [b ^ c ^ d, 0x6ed9eba1]
          : t < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const tmp = (rl(a, 5) + f + e + k + m[t]) | 0;
      e = d; d = c; c = rl(b, 30); b = a; a = tmp;
    }
    [a, b, c, d, e].forEach((v, j) => { h[j] = (h[j] + v) | 0; });
  }
  return beBytes(h);
}

const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = [];
for (let i = 0; i < 64; i++) MD5_K.push(Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) >>> 0);

function md5(bytes) {
  const p = pad(bytes, true);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const rl = (x, n) => (x << n) | (x >>> (32 - n));
  for (let i = 0; i < p.length; i += 64) {
    const m = [];
    for (let j = 0; j < 16; j++) {
      const o = i + j * 4;
      m.push((p[o] | (p[o + 1] << 8) | (p[o + 2] << 16) | (p[o + 3] << 24)) >>> 0);
    }
    let [a, b, c, d] = h;
    for (let t = 0; t < 64; t++) {
      let f;
      let g;
      if (t < 16) { f = (b & c) | (~b & d); g = t; } else if (t < 32) { f = (d & b) | (~d & c); g = (5 * t + 1) % 16; } else if (t < 48) { f = b ^ c ^ d; g = (3 * t + 5) % 16; } else { f = c ^ (b | ~d); g = (7 * t) % 16; }
      const tmp = d;
      d = c;
      c = b;
      b = (b + rl((a + f + MD5_K[t] + m[g]) | 0, MD5_S[(t >> 4) * 4 + (t % 4)])) | 0;
      a = tmp;
    }
    [a, b, c, d].forEach((v, j) => { h[j] = (h[j] + v) | 0; });
  }
  const out = new Uint8Array(16);
  h.forEach((v, j) => { for (let k = 0; k < 4; k++) out[j * 4 + k] = (v >>> (8 * k)) & 255; });
  return out;
}

function beBytes(h) {
  const out = new Uint8Array(h.length * 4);
  h.forEach((v, j) => { for (let k = 0; k < 4; k++) out[j * 4 + k] = (v >>> (24 - 8 * k)) & 255; });
  return out;
}

const HASHES = { sha256: [sha256, 64], sha1: [sha1, 64], md5: [md5, 64] };

function hashOf(algorithm) {
  const h = HASHES[String(algorithm).toLowerCase().replace('-', '')];
  if (!h) throw new Error(`not supported by volley: k6/crypto algorithm ${JSON.stringify(algorithm)} (sha256, sha1, md5)`);
  return h;
}

function out(bytes, enc) {
  if (enc === 'hex') return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  if (enc === 'base64') return volley.bytesB64(bytes);
  if (enc === 'base64url' || enc === 'base64rawurl') {
    const s = volley.bytesB64(bytes).replace(/\+/g, '-').replace(/\//g, '_');
    return enc === 'base64rawurl' ? s.replace(/=+$/, '') : s;
  }
  if (enc === 'binary' || enc === undefined) return bytes.buffer.slice(0, bytes.length);
  throw new Error(`k6/crypto: output encoding ${JSON.stringify(enc)} (hex, base64, base64url, base64rawurl, binary)`);
}

function hmacBytes(algorithm, key, input) {
  const [fn, block] = hashOf(algorithm);
  let k = toBytes(key);
  if (k.length > block) k = fn(k);
  const ipad = new Uint8Array(block);
  const opad = new Uint8Array(block);
  for (let i = 0; i < block; i++) {
    ipad[i] = (k[i] || 0) ^ 0x36;
    opad[i] = (k[i] || 0) ^ 0x5c;
  }
  const msg = toBytes(input);
  const inner = new Uint8Array(block + msg.length);
  inner.set(ipad);
  inner.set(msg, block);
  const ih = fn(inner);
  const outer = new Uint8Array(block + ih.length);
  outer.set(opad);
  outer.set(ih, block);
  return fn(outer);
}

class Hasher {
  constructor(algorithm) { this.fn = hashOf(algorithm)[0]; this.parts = []; }
  update(input) { this.parts.push(toBytes(input)); return this; }
  digest(enc) {
    const all = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) { all.set(p, at); at += p.length; }
    return out(this.fn(all), enc);
  }
}

const crypto = k6module('k6/crypto', {
  sha256: (input, enc) => out(sha256(toBytes(input)), enc),
  sha1: (input, enc) => out(sha1(toBytes(input)), enc),
  md5: (input, enc) => out(md5(toBytes(input)), enc),
  hmac: (algorithm, key, input, enc) => out(hmacBytes(algorithm, key, input), enc),
  createHash: (algorithm) => new Hasher(algorithm),
  createHMAC: (algorithm, key) => {
    const parts = [];
    return {
      update(input) { parts.push(typeof input === 'string' ? input : volley.__decoder.decode(toBytes(input))); return this; },
      digest(enc) { return out(hmacBytes(algorithm, key, parts.join('')), enc); },
    };
  },
  randomBytes: (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(volley.random.float() * 256);
    return b.buffer;
  },
});

/** What `require(id)` returns in a bundled script: k6's modules and volley's SDK. */
export const modules = {
  volley,
  k6,
  'k6/http': http,
  'k6/metrics': metrics,
  'k6/data': data,
  'k6/execution': execution,
  'k6/encoding': encoding,
  'k6/crypto': crypto,
};
