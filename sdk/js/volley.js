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

import * as whttp from 'volley:scenario/http@0.2.0';
import * as wmetrics from 'volley:scenario/metrics@0.2.0';
import * as wvu from 'volley:scenario/vu@0.2.0';
import * as wlog from 'volley:scenario/log@0.2.0';
import * as wkafka from 'volley:scenario/kafka@0.2.0';
import * as wws from 'volley:scenario/ws@0.2.0';
import * as loop from './loop.js';

export const VERSION = '0.1.0';

// QuickJS has no TextEncoder/TextDecoder. volley's runtime has UTF-8 in C
// (`__volley_utf8_encode`, `__volley_utf8_decode`: sdk/js/runtime); another
// QuickJS gets it by hand, through the native functions QuickJS has where
// they do the work. A loop in JavaScript costs thousands of instructions a
// character under QuickJS; `String.fromCharCode.apply`, `escape`,
// `decodeURIComponent` and a regular expression's scan run in C
// (docs/PERFORMANCE.md).
const NON_ASCII = /[^\x00-\x7f]/;
const nativeEncode = typeof __volley_utf8_encode === 'function' ? __volley_utf8_encode : undefined;
const nativeDecode = typeof __volley_utf8_decode === 'function' ? __volley_utf8_decode : undefined;
const encoder = typeof TextEncoder === 'function' ? new TextEncoder() : nativeEncode ? { encode: nativeEncode } : {
  encode(text) {
    text = String(text);
    let bin = text;
    if (NON_ASCII.test(text)) {
      try {
        // UTF-8 as one character a byte.
        bin = unescape(encodeURIComponent(text));
      } catch (_) {
        return utf8Slow(text); // a lone surrogate
      }
    }
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  },
};
const decoder = typeof TextDecoder === 'function' ? new TextDecoder() : {
  decode(bytes) {
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    else if (!(bytes instanceof Uint8Array)) bytes = Uint8Array.from(bytes || []);
    if (nativeDecode) return nativeDecode(bytes);
    if (!bytes.length) return '';
    let bin = '';
    // Arguments by the chunk: an engine's limit on them stays far off.
    for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    if (!NON_ASCII.test(bin)) return bin;
    try {
      return decodeURIComponent(escape(bin));
    } catch (_) {
      return textSlow(bytes); // not UTF-8
    }
  },
};

/** UTF-8 of `text` a code point at a time (lone surrogates as three bytes each). */
function utf8Slow(text) {
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i);
    if (c > 0xffff) i++;
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(bytes);
}

/** Text of bytes that are not valid UTF-8, a sequence at a time as their lead byte says. */
function textSlow(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i++];
    let c;
    if (b < 0x80) c = b;
    else if (b < 0xe0) c = ((b & 31) << 6) | (bytes[i++] & 63);
    else if (b < 0xf0) c = ((b & 15) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
    else c = ((b & 7) << 18) | ((bytes[i++] & 63) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
    out += String.fromCodePoint(c > 0x10ffff ? 0xfffd : c);
  }
  return out;
}

// A u64 parameter is a BigInt for SpiderMonkey's bindings (componentize-js)
// but a number for QuickJS's (componentize-qjs traps on a BigInt): the first
// call tells which, from what the host hands back.
let bigU64;
function u64(n) {
  if (bigU64 === undefined) bigU64 = typeof wvu.nowUs() === 'bigint';
  return bigU64 ? BigInt(n) : n;
}

/**
 * k6 style: runs `fn` inside the group `name` and returns what it returns.
 * What the VU records meanwhile (requests, checks, metrics, sockets it
 * opens) carries the tag `group=::name` (`::outer::name` nested), and the
 * group's time is a `group_duration` sample: the engine keeps both, so a
 * request inside a group costs what one outside does.
 */
export function group(name, fn) {
  wmetrics.enterGroup(String(name));
  groupDepth++;
  try {
    return fn();
  } finally {
    groupDepth--;
    wmetrics.leaveGroup();
  }
}

// How many groups are open: inside one, the VU's own `group` tag (k6's
// `exec.vu.metrics.tags.group`) gives way to the group's.
let groupDepth = 0;

// Tags this VU adds to every sample it records from the SDK (requests,
// checks, metrics; k6's `exec.vu.metrics.tags`), kept across iterations.
const vuTagValues = {};
let vuTagged = false;
/** @internal k6's `exec.vu.metrics.tags` (and `exec.vu.tags`): set a tag, delete it. */
export const __vuTags = new Proxy(vuTagValues, {
  set(t, k, v) {
    if (typeof k !== 'string') return false;
    if (!['string', 'number', 'boolean'].includes(typeof v)) {
      throw new TypeError(`exec.vu.metrics.tags.${k}: a tag's value is a string, a number or a boolean, not ${v === null ? 'null' : typeof v}`);
    }
    t[k] = String(v);
    vuTagged = true;
    return true;
  },
  deleteProperty(t, k) {
    delete t[k];
    vuTagged = Object.keys(t).length > 0;
    return true;
  },
});

/** @internal the tag pairs a sample with `tags` carries: its own and the VU's (the engine adds its group's). */
export function __tagList(tags) { return tagList(tags); }

function tagList(tags) {
  // Keys and an index, not `Object.entries` and `([k, v]) =>`: QuickJS
  // destructures an array through an iterator object.
  const keys = tags ? Object.keys(tags) : NO_PAIRS;
  if (!vuTagged) {
    // A metric's sample without tags: no new empty list.
    if (keys.length === 0) return NO_PAIRS;
    if (keys.length === 1) return oneTag(keys[0], String(tags[keys[0]]));
  }
  const out = [];
  for (let i = 0; i < keys.length; i++) out.push([keys[i], String(tags[keys[i]])]);
  if (vuTagged) {
    // The sample's own tags win, and so does the group it is in (a
    // sample's own tags win over the engine's `group`, so the VU's is left
    // out inside one).
    for (const k of Object.keys(vuTagValues)) {
      if (!(tags && k in tags) && !(k === 'group' && groupDepth > 0)) out.push([k, vuTagValues[k]]);
    }
  }
  return out;
}

// Lists of one tag made lately, never changed: a script tags its requests
// and samples with the same few names again and again, and under QuickJS
// the two arrays of a new list cost about 8,000 instructions.
const oneTagLists = [];

/** The list of the one tag `k`=`v` (shared: never changed). */
function oneTag(k, v) {
  for (let i = 0; i < oneTagLists.length; i++) {
    const pair = oneTagLists[i][0];
    if (pair[1] === v && pair[0] === k) return oneTagLists[i];
  }
  const list = [[k, v]];
  if (oneTagLists.length >= 8) oneTagLists.shift();
  oneTagLists.push(list);
  return list;
}

// ------------------------------------------------------------------ metrics

/**
 * k6 style: `check(value, { 'name': (v) => bool, ... }, tags)` records each
 * named check (with `tags` and the current group's tag) and returns true
 * when all pass. Also `check('name', bool, tags)`.
 */
export function check(value, checks, tags) {
  // `var`: see `build`.
  var list = tags || vuTagged ? tagList(tags) : NO_PAIRS;
  // Booleans compared first: under QuickJS a `typeof` test costs about 600
  // instructions (a string made and compared), a strict equality little.
  if ((checks === true || checks === false) && typeof value === 'string') {
    return wmetrics.check(value, checks, list);
  }
  var all = true;
  // Not `for...in`: QuickJS's enumerator object costs more than the key
  // list. A literal `volley build` made once per VU keeps its list.
  var box = checks != null ? checks[CONSTANT] : undefined;
  var names = box === undefined ? Object.keys(checks) : box.names || (box.names = Object.keys(checks));
  for (var i = 0, count = names.length; i < count; i++) {
    var name = names[i];
    var pred = checks[name];
    // A predicate that throws fails the iteration, as in k6 (swallowing it
    // as a failed check hid errors, volley's own "not supported" ones too).
    var ok = typeof pred === 'function' ? !!pred(value) : !!pred;
    wmetrics.check(name, ok, list);
    if (!ok) all = false;
  }
  return all;
}

/** The run's metric `name` of one kind; a name of another kind throws here. */
function declare(Kind, kind, name) {
  try {
    return Kind.declare(String(name));
  } catch (e) {
    const why = e && e.payload !== undefined ? e.payload : e;
    throw new Error(`new ${kind}(${JSON.stringify(name)}): ${why instanceof Error ? why.message : why}`);
  }
}

export class Counter {
  constructor(name) { this.name = name; this._h = declare(wmetrics.Counter, 'Counter', name); }
  add(value = 1, tags) { this._h.add(Number(value), tagList(tags)); return true; }
}
export class Gauge {
  constructor(name) { this.name = name; this._h = declare(wmetrics.Gauge, 'Gauge', name); }
  add(value, tags) { this._h.set(Number(value), tagList(tags)); return true; }
}
export class Rate {
  constructor(name) { this.name = name; this._h = declare(wmetrics.Rate, 'Rate', name); }
  add(ok, tags) { this._h.add(!!ok, tagList(tags)); return true; }
}
export class Trend {
  constructor(name) { this.name = name; this._h = declare(wmetrics.Trend, 'Trend', name); }
  add(value, tags) { this._h.add(Number(value), tagList(tags)); return true; }
}

/** An event `key` starts now; its latency lands in trend `metric` on `arrive`. */
export function mark(metric, key, expected = 1) { wmetrics.mark(metric, String(key), expected); }
/** Event `key` observed: its latency in microseconds, or undefined. */
export function arrive(key) {
  const us = wmetrics.arrive(String(key));
  return us == null ? undefined : Number(us);
}

// ------------------------------------------------------------------ vu, time, log

export const vu = {
  get id() { return wvu.id(); },
  get iteration() { return Number(wvu.iteration()); },
  /** This iteration's number across its scenario: every VU's iterations counted as they start. */
  get iterationInScenario() { return Number(wvu.iterationInScenario()); },
  get scenario() { return wvu.scenario(); },
  // An absent option is undefined in SpiderMonkey's bindings, null in QuickJS's.
  param(name, fallback) { const v = wvu.param(name); return v == null ? fallback : v; },
  params() { return Object.fromEntries(wvu.params()); },
  nowUs() { return Number(wvu.nowUs()); },
  dataLen(name) { return Number(wvu.dataLen(name)); },
  dataRow(name, index) {
    const row = wvu.dataRow(name, u64(index));
    return row == null ? undefined : JSON.parse(row);
  },
};

/** Pauses this VU for `seconds` (k6 `sleep`) on the engine's timer. */
export function sleep(seconds) {
  const ms = Math.round(Number(seconds) * 1000);
  wvu.sleepMs(u64(ms > 0 ? ms : 0));
}

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

/** Where a literal `volley build` made once per VU keeps what the SDK derived from it (`__const`). */
const CONSTANT = Symbol('volley constant');
export { CONSTANT as __CONSTANT };

/**
 * For `volley build`, not for scripts: an object literal in a script's
 * call to a k6/http method or to `check` that is the same on every call
 * (constants, and functions that read nothing of the function around
 * them) is made once per VU and passed through here, frozen, with a place
 * to keep what the SDK derives from it (the request record and its body,
 * the check names, what k6's method reads from params): under QuickJS
 * each object made costs about 1,300 instructions and `build` about 200
 * bytecode instructions for a request with params.
 */
export function __const(o) {
  Object.defineProperty(o, CONSTANT, { value: { req: undefined, body: undefined, names: undefined, k6: undefined } });
  return deepFreeze(o);
}

function deepFreeze(o) {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const k of Object.keys(o)) deepFreeze(o[k]);
  }
  return o;
}

const NONE = new Uint8Array(0);
const NO_PAIRS = Object.freeze([]);

/** `content-type` -> `Content-Type`, as k6 (Go) gives header names. */
function canonical(name) {
  name = String(name);
  let c = canonicalNames.get(name);
  if (c === undefined) {
    // Each word's first letter a-z up (only ASCII: 'ß' stays).
    c = name.toLowerCase().split('-').map((w) => (w && w[0] >= 'a' && w[0] <= 'z' ? w[0].toUpperCase() + w.slice(1) : w)).join('-');
    // Servers send the same few names again and again: each is made once
    // (a regular expression with a callback per name cost a k6 script's
    // first `r.headers` read about 60,000 instructions a header).
    if (canonicalNames.size < 1024) canonicalNames.set(name, c);
  }
  return c;
}
const canonicalNames = new Map();

/**
 * `fn` of one argument, remembering its last two arguments and answers: a
 * server repeats its headers byte for byte (the date changes once a
 * second) and a script its URLs, so most calls find theirs made. Two, not
 * one: a script that alternates between two hosts or two header sets
 * would otherwise miss every time. Comparing two strings costs a small
 * fraction of splitting one under QuickJS, and each object or property
 * made costs thousands of instructions (docs/PERFORMANCE.md).
 */
function lastTwo(fn) {
  let a;
  let answerA;
  let b;
  let answerB;
  let older = 0;
  return (x) => {
    if (x === a) {
      older = 1;
      return answerA;
    }
    if (x === b) {
      older = 0;
      return answerB;
    }
    const answer = fn(x);
    if (older === 0) {
      a = x;
      answerA = answer;
    } else {
      b = x;
      answerB = answer;
    }
    older ^= 1;
    return answer;
  };
}

/**
 * Calls `fn(name, value)` for each `name: value` line of `text` (a name has
 * no ':'). By `split`, then a short search per line: QuickJS's `indexOf`
 * costs about 180 instructions a character it passes, and a search per
 * line for its end passed every character once more.
 */
function eachHeader(text, fn) {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const sep = line.indexOf(': ');
    if (sep > 0) fn(line.slice(0, sep), line.slice(sep + 2));
  }
}

/** `name: value` lines -> `[name, value]` pairs. */
function pairsOf(text) {
  const out = [];
  eachHeader(text, (k, v) => out.push([k, v]));
  return out;
}

/**
 * The text's headers by name as k6 gives it (`Content-Type`), repeats
 * joined by ', ', in an object without a prototype (a property read costs
 * less than `Map.get` under QuickJS). Made from the lines, not from pairs:
 * a text that is new costs 101,000 instructions so, 141,000 by way of
 * pairs (nginx's five headers).
 */
function namesOf(text) {
  const names = Object.create(null);
  eachHeader(text, (k, v) => {
    const c = canonical(k);
    const was = names[c];
    names[c] = was === undefined ? v : `${was}, ${v}`;
  });
  return names;
}

/** A response's header text as pairs, and by name: those of the last text if it is the same (shared: never changed). */
const headerPairs = lastTwo(pairsOf);
const headerNames = lastTwo(namesOf);

// Where a response's `headers` keeps the shared names until its first write.
const SHARED_NAMES = Symbol('shared header names');

/**
 * A response's `headers`: read from the names every response with the same
 * header text shares (its target's SHARED_NAMES), in any case; the first
 * write (set, delete, define) gives the response its own copy, which later
 * reads and writes use. One handler for all: a handler per response cost
 * each one more than its target. (Not a search of the header text per
 * name read: QuickJS's `indexOf` costs about 180 instructions a character
 * it passes, and such a search cost a GET + header check 10,000
 * instructions more than reading the shared names.)
 */
const HEADER_TRAPS = {
  get(t, p) {
    // `var`: see `build`.
    var names = t[SHARED_NAMES];
    if (names === undefined || typeof p !== 'string') {
      return typeof p === 'string' && !(p in t) ? t[canonical(p)] : t[p];
    }
    var v = names[p];
    if (v !== undefined) return v;
    var c = names[canonical(p)];
    return c !== undefined ? c : t[p];
  },
  has(t, p) {
    const names = t[SHARED_NAMES];
    if (names === undefined || typeof p !== 'string') return p in t || (typeof p === 'string' && canonical(p) in t);
    return p in names || canonical(p) in names || p in t;
  },
  ownKeys(t) {
    const names = t[SHARED_NAMES];
    return names === undefined ? Reflect.ownKeys(t) : Object.keys(names);
  },
  getOwnPropertyDescriptor(t, p) {
    const names = t[SHARED_NAMES];
    if (names === undefined) return Reflect.getOwnPropertyDescriptor(t, p);
    const v = typeof p === 'string' ? names[p] : undefined;
    return v === undefined ? undefined : { value: v, writable: true, enumerable: true, configurable: true };
  },
  set(t, p, v) { ownHeaders(t)[p] = v; return true; },
  deleteProperty(t, p) { return delete ownHeaders(t)[p]; },
  defineProperty(t, p, d) { return Reflect.defineProperty(ownHeaders(t), p, d); },
};

/** A response's `headers` target, given its own copy of the shared names (once). */
function ownHeaders(t) {
  const names = t[SHARED_NAMES];
  if (names !== undefined) {
    delete t[SHARED_NAMES];
    for (const k of Object.keys(names)) t[k] = names[k];
  }
  return t;
}

/** Header names as k6 gives them, looked up in any case. */
function headerObject(text) {
  return new Proxy({ [SHARED_NAMES]: headerNames(text) }, HEADER_TRAPS);
}

/** One `Set-Cookie` line as k6's `res.cookies` entry. */
function parseSetCookie(line) {
  const parts = line.split(';');
  const at = parts[0].indexOf('=');
  if (at <= 0) return undefined;
  const c = {
    name: parts[0].slice(0, at).trim(), value: parts[0].slice(at + 1).trim(),
    domain: '', path: '/', http_only: false, secure: false, max_age: 0, expires: 0,
  };
  for (const attr of parts.slice(1)) {
    const eq = attr.indexOf('=');
    const k = (eq < 0 ? attr : attr.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : attr.slice(eq + 1).trim();
    if (k === 'domain') c.domain = v.replace(/^\./, '');
    else if (k === 'path') c.path = v || '/';
    else if (k === 'httponly') c.http_only = true;
    else if (k === 'secure') c.secure = true;
    else if (k === 'max-age') c.max_age = Number(v) || 0;
    else if (k === 'expires') c.expires = Date.parse(v) || 0;
  }
  return c;
}

/** `scheme://host[:port]/path?q` -> { host, path } (enough for cookies). */
function splitUrl(url) {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)([^?#]*)/.exec(String(url));
  if (!m) return { host: '', path: '/' };
  const host = m[1].replace(/^[^@]*@/, '').replace(/:\d+$/, '').toLowerCase();
  return { host, path: m[2] || '/' };
}

/**
 * A per-VU cookie jar (k6's `http.cookieJar()`): cookies a response sets
 * go back on later requests to the same host and path.
 */
export class CookieJar {
  constructor() { this._byHost = new Map(); }
  _store(host, c) {
    const domain = c.domain || host;
    if (!this._byHost.has(domain)) this._byHost.set(domain, new Map());
    const gone = c.max_age < 0 || (c.expires && c.expires < Date.now() && c.max_age === 0);
    if (gone || (c.max_age === 0 && c.value === '' && c.expires)) this._byHost.get(domain).delete(c.name);
    else this._byHost.get(domain).set(c.name, { value: c.value, path: c.path || '/' });
  }
  /** k6: `jar.set(url, name, value, { path, domain })`. */
  set(url, name, value, opts = {}) {
    const { host } = splitUrl(url);
    this._store(host, { name: String(name), value: String(value), path: opts.path || '/', domain: opts.domain || '', max_age: opts.max_age || 0, expires: 0 });
  }
  /** k6: `{ name: [value] }` for the cookies a request to `url` sends. */
  cookiesForURL(url) {
    const out = {};
    for (const [name, c] of this._matching(url)) out[name] = [c.value];
    return out;
  }
  clear(url) { this._byHost.delete(splitUrl(url).host); }
  delete(url, name) { const m = this._byHost.get(splitUrl(url).host); if (m) m.delete(name); }
  _matching(url) {
    const { host, path } = splitUrl(url);
    const out = [];
    for (const [domain, cookies] of this._byHost) {
      if (host !== domain && !host.endsWith(`.${domain}`)) continue;
      for (const [name, c] of cookies) if (path.startsWith(c.path)) out.push([name, c]);
    }
    return out;
  }
}

let vuJar;
/** This VU's cookie jar. */
export function cookieJar() {
  if (!vuJar) vuJar = new CookieJar();
  return vuJar;
}

/** gjson-style selector (`a.b`, `items.0.id`, `items.#`, `items.#.id`) on parsed JSON. */
function select(value, path) {
  const keys = [];
  let cur = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '\\' && i + 1 < path.length) cur += path[++i];
    else if (ch === '.') { keys.push(cur); cur = ''; } else cur += ch;
  }
  keys.push(cur);
  const walk = (v, i) => {
    if (i === keys.length) return v;
    if (v === null || typeof v !== 'object') return undefined;
    const k = keys[i];
    if (k === '#' && Array.isArray(v)) {
      return i + 1 === keys.length ? v.length : v.map((x) => walk(x, i + 1)).filter((x) => x !== undefined);
    }
    return Object.prototype.hasOwnProperty.call(v, k) ? walk(v[k], i + 1) : undefined;
  };
  return walk(value, 0);
}

/** A response; headers, body text and timings are decoded on first use. */
export class Response {
  // Few own properties: under QuickJS each one a constructor adds costs
  // about 1,200 instructions (a new object 2,600), on every request. What
  // most responses share (`error`, `error_code`, the text body type, a GET)
  // sits on the prototype; `request` is made when first read.
  constructor(raw, request, responseType, url) {
    this.status = raw ? raw.status : 0;
    /** The URL that answered: after redirects, the last one's target (as in k6). */
    this.url = url || (request ? request.url : '');
    this._raw = raw;
    if (request !== undefined) this._req = request;
    if (responseType) this._type = responseType;
    // `_text`, `_headers` and `_cookies` are made when first read.
  }
  /** k6's `res.request`: `{ method, url, headers, body }` as sent. */
  get request() {
    const r = this._req;
    if (r === undefined) this._req = { method: this._method, url: this._sent || this.url, headers: {}, body: null };
    // The request record as sent (its headers one text): shown when first read.
    else if (typeof r.headers === 'string') this._req = shownRequest(r);
    return this._req;
  }
  set request(v) { this._req = v; }
  get protocol() { return this._raw ? this._raw.protocol : ''; }
  get proto() { return this.protocol; }
  get bodyBytes() { return this._raw ? this._raw.body : NONE; }
  /** Text (k6 `responseType: 'text'`), an ArrayBuffer (`'binary'`) or null (`'none'`, or no response). */
  get body() {
    if (!this._raw || this._type === 'none') return null;
    if (this._type === 'binary') {
      const b = this._raw.body;
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    }
    if (this._text === undefined) this._text = decoder.decode(this._raw.body);
    return this._text;
  }
  /** Header names as k6 gives them (`Content-Type`); any case looks them up. */
  get headers() {
    if (this._headers === undefined) this._headers = headerObject(this._raw ? this._raw.headers : '');
    return this._headers;
  }
  /** k6: `{ name: [{ name, value, domain, path, http_only, secure, max_age, expires }] }`. */
  get cookies() {
    if (this._cookies === undefined) {
      this._cookies = {};
      for (const [k, v] of headerPairs(this._raw ? this._raw.headers : '')) {
        if (k.toLowerCase() !== 'set-cookie') continue;
        const c = parseSetCookie(v);
        if (c) (this._cookies[c.name] = this._cookies[c.name] || []).push(c);
      }
    }
    return this._cookies;
  }
  /**
   * In milliseconds (k6's `timings`). `connecting`, `tls_handshaking` and
   * `sending` come from the engine's reply: 0 on a response handed over
   * whole (one that set cookies or came through redirects, a batch's), as
   * `blocked` always is (volley never queues a request for a connection).
   */
  get timings() {
    if (!this._raw) return { duration: 0, blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 0, receiving: 0 };
    // A held response's every phase in one host call; one copied whole has its `timings` only.
    const p = this._raw.phases;
    const t = p === undefined ? this._raw.timings : p;
    return {
      duration: Number(t.durationUs) / 1000,
      blocked: 0,
      connecting: p === undefined ? 0 : Number(p.connectingUs) / 1000,
      tls_handshaking: p === undefined ? 0 : Number(p.tlsHandshakingUs) / 1000,
      sending: p === undefined ? 0 : Number(p.sendingUs) / 1000,
      waiting: Number(t.waitingUs) / 1000,
      receiving: Number(t.receivingUs) / 1000,
    };
  }
  /** The body as JSON; with a selector (`a.b`, `items.0.id`, `items.#`), that part of it. */
  json(selector) {
    const v = JSON.parse(this.body);
    return selector === undefined || selector === '' ? v : select(v, String(selector));
  }
  html() {
    throw new Error('res.html() is not supported by volley: parse res.body (e.g. with a regular expression) instead');
  }
  get ok() { return this.status >= 200 && this.status < 400; }
  // k6 fields volley cannot fill: reading one fails the iteration by name
  // (an undefined here made checks fail silently).
  get ocsp() { throw new Error('res.ocsp is not supported by volley: it does not ask for OCSP stapling; remove the OCSP check'); }
  get tls_version() { throw new Error('res.tls_version is not supported by volley: the TLS layer does not report it yet (volley negotiates TLS 1.2 or 1.3)'); }
  get tls_cipher_suite() { throw new Error('res.tls_cipher_suite is not supported by volley: the TLS layer does not report it yet'); }
}
/** What a Response made as a literal (see `send`) takes its methods from. */
const RESPONSE = Response.prototype;
for (const [k, v] of [['error', ''], ['error_code', 0], ['_type', 'text'], ['_method', 'GET']]) {
  Object.defineProperty(Response.prototype, k, { value: v, writable: true });
}

/**
 * What a held response's parts (`send-url-held`, `send-held`) take their
 * getters from: each part is read from the reply when first asked and kept
 * under its name with a `_` (an assignment: under QuickJS
 * `Object.defineProperty` costs about 7,000 instructions, several times a
 * new property).
 */
const HELD_PARTS = {
  get headers() { return this._headers ?? (this._headers = this._reply.headers()); },
  get body() { return this._body ?? (this._body = this._reply.body()); },
  get phases() { return this._phases ?? (this._phases = this._reply.phases()); },
  get protocol() { return this._protocol ?? (this._protocol = this._reply.protocol()); },
};

/**
 * What a Response whose reply the engine holds takes its methods from: its
 * `_raw` (the parts `Response` reads) is made when first read, and its
 * `headers` come from the reply without them (the usual header check reads
 * nothing else). The reply is dropped when the Response is freed.
 */
const HELD = Object.create(RESPONSE, Object.getOwnPropertyDescriptors({
  get _raw() { return this._parts ?? (this._parts = { __proto__: HELD_PARTS, _reply: this._reply }); },
  get headers() {
    // `headerObject` written out: a call fewer on the usual header check.
    if (this._headers === undefined) this._headers = new Proxy({ [SHARED_NAMES]: headerNames(this._reply.headers()) }, HEADER_TRAPS);
    return this._headers;
  },
}));

/** k6: an object body is form-encoded, keys in order (Go's `url.Values`). */
function formEncode(obj) {
  const esc = (v) => encodeURIComponent(String(v)).replace(/%20/g, '+');
  return Object.keys(obj).sort().map((k) => `${esc(k)}=${esc(obj[k])}`).join('&');
}

/**
 * k6's `http.file(data, filename, contentType)`: a file part. A request
 * body object with one is sent as `multipart/form-data`.
 */
export class FileData {
  constructor(data, filename, contentType) {
    this.data = data;
    // As k6: a timestamp when no name is given.
    this.filename = filename === undefined ? `${Date.now()}000000` : String(filename);
    this.content_type = contentType === undefined ? 'application/octet-stream' : String(contentType);
  }
}

/** @internal binary data (an ArrayBuffer or a view of one) as a Uint8Array; undefined for anything else. */
export function __binary(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

/** @internal `chunks` (Uint8Arrays) as one. */
export function __concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `obj` as a multipart/form-data body (its fields in order, as k6 sends them): [boundary, bytes]. */
function multipart(obj) {
  let boundary = '';
  for (let i = 0; i < 60; i++) boundary += Math.floor(Math.random() * 16).toString(16);
  const chunks = [];
  const add = (bytes) => chunks.push(bytes);
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    const name = String(k).replace(/"/g, '%22');
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${name}"`;
    if (v instanceof FileData) {
      head += `; filename="${v.filename.replace(/"/g, '%22')}"\r\nContent-Type: ${v.content_type}`;
    }
    add(encoder.encode(`${head}\r\n\r\n`));
    const data = v instanceof FileData ? v.data : v;
    add(__binary(data) || encoder.encode(String(data)));
    add(encoder.encode('\r\n'));
  }
  add(encoder.encode(`--${boundary}--\r\n`));
  return [boundary, __concat(chunks)];
}

// What `http.expectStatuses` set: sent with each request (none: 200-399).
// Or UNJUDGED (k6's `setResponseCallback(null)`).
let expected;
/** @internal sets (a list) or clears (null) the statuses later requests expect; UNJUDGED: no verdict at all. */
export function __expect(statuses) {
  if (statuses === UNJUDGED) expected = UNJUDGED;
  else expected = statuses && statuses.length ? statuses.map(Number) : undefined;
}
/**
 * @internal In place of a status list: the response is judged by nobody, so
 * it records no `http_req_failed` sample (k6's `responseCallback: null`). A
 * request that gets no response still counts as failed.
 */
export const UNJUDGED = Object.freeze({ unjudged: true });

/**
 * Header text (`name: value` lines, the WIT's header encoding) with the
 * header `k: v` added; a line break in a header cannot be sent. Text, not
 * a list of pairs: under QuickJS each array made costs thousands of
 * instructions, two per header on every request.
 */
function withHeader(text, k, v) {
  // Each name and value is checked once, then found in a set (a script
  // sends the same few again and again): under QuickJS `indexOf` costs
  // about 180 instructions a character, and a regular expression literal
  // makes a RegExp object and `test` an exec result.
  if (!goodNames.has(k)) {
    if (k === '' || k.indexOf(':') >= 0 || lineBreak(k)) badHeader(k);
    remember(goodNames, k, 256);
  }
  if (!goodValues.has(v)) {
    if (lineBreak(v)) badHeader(k);
    remember(goodValues, v, 64);
  }
  return text ? `${text}\n${k}: ${v}` : `${k}: ${v}`;
}

// Header names and values `withHeader` found fit to send.
const goodNames = new Set();
const goodValues = new Set();

/** Adds `item` to `set`, emptied first when it holds `most` (a value new on every request must not grow a VU's memory). */
function remember(set, item, most) {
  if (set.size >= most) set.clear();
  set.add(item);
}

function badHeader(k) {
  throw new Error(`header ${JSON.stringify(k)}: a name must be non-empty without ':' or line breaks, a value without line breaks`);
}

/** Whether `t` holds a line break. */
function lineBreak(t) {
  return t.indexOf('\n') >= 0 || t.indexOf('\r') >= 0;
}

/**
 * `scheme://user:pass@host/...` -> { url without the user part, user,
 * password } (percent-decoded); undefined when the URL has no user part.
 */
export function __userinfo(url) {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(String(url));
  if (!m) return undefined;
  const at = m[2].lastIndexOf('@');
  if (at < 0) return undefined;
  const info = m[2].slice(0, at);
  const colon = info.indexOf(':');
  const dec = (t) => { try { return decodeURIComponent(t); } catch (_) { return t; } };
  return {
    url: `${m[1]}${m[2].slice(at + 1)}${m[3]}`,
    user: dec(colon < 0 ? info : info.slice(0, colon)),
    password: dec(colon < 0 ? '' : info.slice(colon + 1)),
  };
}

// Most scenarios send the same few URLs again and again: the last two
// URLs' user parts are kept, so a request to one runs no regular expression.
const userinfoOf = lastTwo(__userinfo);

/** The Response of a held answer (answered by the request's own URL, no cookie set): see `HELD`. */
function heldResponse(held, url) {
  return { __proto__: HELD, status: held.status, url, _reply: held.reply };
}

// Whether the runtime drops a resource's handle when QuickJS frees its
// object (volley's own runtime; `volley build` says so by calling
// `__heldReplies`). Only then may a Response leave its parts in the
// engine (`send-url-held`, `send-held`): elsewhere every reply would stay
// held until the VU's bound of 1,024, each with its body.
let heldReplies = false;
/** @internal volley build calls it when the component's runtime drops handles its objects no longer reference. */
export function __heldReplies() { heldReplies = true; }

/** The reserved request tag that carries `params.redirects` (the engine strips it). */
const REDIRECTS_TAG = 'volley_redirects';
/** The reserved request tag of `params.judged`: the scenario gives the verdict (`http.verdict`). */
const VERDICT_TAG = Object.freeze(['volley_verdict', 'call']);
/** The same tag for a request nobody judges (UNJUDGED): the engine records no `http_req_failed` sample. */
const UNJUDGED_TAG = Object.freeze(['volley_verdict', 'none']);

function checkAuth(auth) {
  if (auth === undefined || auth === null || auth === 'basic' || auth === 'digest') return;
  if (auth === 'ntlm') {
    throw new Error("params.auth: 'ntlm' is not supported by volley (NTLM authenticates a connection, not a request); use 'basic' or 'digest', or send the Authorization header yourself");
  }
  throw new Error(`params.auth: ${JSON.stringify(auth)} is not an authentication scheme volley knows ('basic', 'digest')`);
}

/** A request without params (its callers ask that first, no call made) and with no body, sent by a VU without cookies or tags of its own. */
function bare(body) {
  return body == null && !vuJar && !vuTagged;
}

/**
 * The request as the WIT takes it (`shownRequest` makes k6's `res.request`
 * of it; its jar is left in `builtJar`); `timeoutMs` already in ms;
 * `expect` (statuses) overrides `expectStatuses` for this request. A user
 * and password in the URL become Basic authentication (as in k6), unless
 * `params.auth` is 'digest'.
 */
function build(method, url, body, params, timeoutMs, expect) {
  // `var`, not `let` or `const`, here and in the other functions every
  // request runs: QuickJS marks each `let` and `const` uninitialized when
  // its block is entered and checks it on every read, two bytecode
  // instructions in ten of a k6 request with params.
  url = String(url);
  var creds = userinfoOf(url);
  var statuses = expect || expected;
  var unjudged = statuses === UNJUDGED;
  if (unjudged) statuses = undefined;
  // Params that `volley build` made once per VU (`__const`): the record
  // made from them last time, if the rest is as it was (a body only if it
  // is text, compared by value). Not for a VU with cookies or tags of its
  // own: those change between requests.
  var box = params ? params[CONSTANT] : undefined;
  var keep = false;
  if (box !== undefined && (body == null || typeof body === 'string') && !creds && !unjudged && !vuJar && !vuTagged) {
    keep = true;
    var made = box.req;
    if (made !== undefined && made.url === url && box.body === body && made.method === method
      && made.timeoutMs === timeoutMs && made.expectedStatuses === statuses) {
      builtJar = undefined;
      return made;
    }
  }
  if (!params && bare(body) && !creds && !unjudged) {
    // Most requests: no params, no body, no cookies, no tags.
    builtJar = undefined;
    return {
      method, url, headers: '', body: NONE, timeoutMs, name: undefined, tags: NO_PAIRS,
      expectedStatuses: statuses,
    };
  }
  var auth = params ? params.auth : undefined;
  if (auth !== undefined) checkAuth(auth);
  if (creds) url = creds.url;
  var jar = params && params.jar != null ? params.jar : undefined;
  if (jar !== undefined && !(jar instanceof CookieJar)) {
    throw new Error('params.jar: expected a cookie jar (http.cookieJar() or new http.CookieJar())');
  }
  // Lists and objects only where there is something to put in them:
  // under QuickJS a new array or object costs a few thousand instructions.
  var headers = '';
  var bytes = NONE;
  var hasType = false;
  var hasCookie = false;
  var hasAuth = false;
  var given = params ? params.headers : undefined;
  if (given) {
    // Not `for...in`: QuickJS's enumerator object costs more than the key list.
    var keys = Object.keys(given);
    for (var i = 0, count = keys.length; i < count; i++) {
      var k = keys[i];
      // Lower-cased only when the length is one of the three names'.
      if (SPECIAL_LENGTH[k.length] === true) {
        var lk = k.toLowerCase();
        if (lk === 'content-type') hasType = true;
        if (lk === 'cookie') hasCookie = true;
        if (lk === 'authorization') hasAuth = true;
      }
      var v = String(given[k]);
      // A name and value sent before: no call to check them again.
      if (goodNames.has(k) && goodValues.has(v)) headers = headers ? `${headers}\n${k}: ${v}` : `${k}: ${v}`;
      else headers = withHeader(headers, k, v);
    }
  }
  if (creds && auth !== 'digest' && !hasAuth) {
    headers = withHeader(headers, 'Authorization', `Basic ${bytesB64(encoder.encode(`${creds.user}:${creds.password}`))}`);
  }
  if (body == null) {
    // no body
  } else if (body instanceof Uint8Array) {
    bytes = body;
  } else if (body instanceof ArrayBuffer) {
    bytes = new Uint8Array(body);
  } else if (typeof body === 'string') {
    bytes = encoder.encode(body);
  } else if (Object.keys(body).some((k) => body[k] instanceof FileData)) {
    const [boundary, parts] = multipart(body);
    bytes = parts;
    if (!hasType) headers = withHeader(headers, 'Content-Type', `multipart/form-data; boundary=${boundary}`);
  } else {
    bytes = encoder.encode(formEncode(body));
    if (!hasType) headers = withHeader(headers, 'Content-Type', 'application/x-www-form-urlencoded');
  }
  // Cookies: the request's own (`params.cookies`), then the VU's jar.
  var from = jar || vuJar;
  if ((params && params.cookies) || from) {
    const sent = [];
    if (params && params.cookies) {
      for (const k in params.cookies) {
        const c = params.cookies[k];
        sent.push(`${k}=${c !== null && typeof c === 'object' ? c.value : c}`);
      }
    }
    if (from && !hasCookie) {
      const own = new Set(sent.map((c) => c.slice(0, c.indexOf('='))));
      for (const [name, c] of from._matching(url)) if (!own.has(name)) sent.push(`${name}=${c.value}`);
    }
    if (sent.length && !hasCookie) headers = withHeader(headers, 'Cookie', sent.join('; '));
  }
  var tags = NO_PAIRS;
  var name = params ? params.name : undefined;
  if (params) {
    var own = params.tags;
    if (name == null) name = own && own.name;
    // k6's `tags: { name }` alone: the request's name, which the engine
    // tags its samples with; no list to make and lower. (Found here, not
    // by a call: under QuickJS a call costs about 1,000 instructions.)
    var nameOnly = false;
    if (own && !vuTagged && name === own.name) {
      var tagKeys = Object.keys(own);
      nameOnly = tagKeys.length === 1 && tagKeys[0] === 'name';
    }
    if (nameOnly) {
      // the name alone
    } else if (own || vuTagged) {
      tags = tagList(own);
    }
  } else if (vuTagged) {
    tags = tagList();
  }
  if (params && params.redirects != null) {
    var n = Number(params.redirects);
    if (!Number.isInteger(n) || n < 0) throw new Error(`params.redirects: ${JSON.stringify(params.redirects)} is not a count (0: follow none)`);
    tags = tags.concat([[REDIRECTS_TAG, String(n)]]);
  }
  if (params && params.judged) tags = tags.concat([VERDICT_TAG]);
  else if (unjudged) tags = tags.concat([UNJUDGED_TAG]);
  builtJar = jar;
  if (bytes === NONE) {
    // The same request as last time (a script's params literal, made anew
    // each call, says the same each time): its record again. Under QuickJS
    // an eight-field object costs about 15,000 instructions, comparing
    // these fields a fraction. Never changed once made, so responses share it.
    var last = lastBuilt;
    if (last !== undefined && last.url === url && last.headers === headers && last.name === name
      && last.method === method && last.tags === tags && last.timeoutMs === timeoutMs
      && last.expectedStatuses === statuses) {
      return last;
    }
  }
  var req = {
    method, url, headers, body: bytes, timeoutMs, name, tags,
    expectedStatuses: statuses,
  };
  // For `res.request` (`shownRequest`), made only if the script reads it.
  if (body != null) req._body = body;
  else if (bytes === NONE) lastBuilt = req;
  if (keep) {
    box.req = req;
    box.body = body;
  }
  return req;
}

/** The lengths of `Content-Type`, `Cookie` and `Authorization`: a header name `build` lower-cases to compare. */
const SPECIAL_LENGTH = [];
SPECIAL_LENGTH[12] = true;
SPECIAL_LENGTH[6] = true;
SPECIAL_LENGTH[13] = true;

/** The last request `build` made without a body (see there). */
let lastBuilt;

/** The jar of the request `build` made last (its `params.jar`), if any. */
let builtJar;

/**
 * k6's `res.request` for a request as `build` made it: `{ method, url,
 * headers, body }` as sent, headers from the request's header text.
 */
function shownRequest(req) {
  return { method: req.method, url: req.url, headers: Object.fromEntries(pairsOf(req.headers)), body: req._body ?? null };
}

// The last response headers that set no cookie. A server repeats its
// headers byte for byte (the date changes once a second), and under QuickJS
// comparing two strings costs a small fraction of searching one (about 110
// instructions a character: 17,000 for a plain nginx response's headers).
let cookieless = '';

/** Cookies set by `headers` (from `url`) land in the request's jar (`params.jar`) or the VU's, for later requests. */
function absorbHeaders(headers, url, jar) {
  if (headers === cookieless) return;
  if (headers.indexOf('set-cookie') < 0) {
    cookieless = headers;
  } else {
    const { host } = splitUrl(url);
    for (const line of headers.split('\n')) {
      if (line.slice(0, 12).toLowerCase() !== 'set-cookie: ') continue;
      const c = parseSetCookie(line.slice(12));
      if (c) (jar || cookieJar())._store(host, c);
    }
  }
}

/** The cookies of every redirect on the way and of the final response (k6 keeps them all). */
function absorb(followed, jar) {
  if (followed.redirects.length) for (const r of followed.redirects) absorbHeaders(r.headers, r.url, jar);
  absorbHeaders(followed.response.headers, followed.url, jar);
}

/** Sends the request; its `Response` (throws the binding's error when there is no response). */
function send(method, url, body, params, timeoutMs, expect) {
  // `var`: see `build`. (`bare` written out: a call fewer on every request.)
  if (!params && body == null && !vuJar && !vuTagged && timeoutMs === undefined && !expect && !expected) {
    // Only a method and a URL: `send-url` lowers two strings where
    // `send-followed` lowers a request record field by field.
    url = String(url);
    if (!userinfoOf(url)) {
      // The engine holds the response unless it set cookies or came after
      // redirects (the jar needs those now): the binding then makes two
      // values, not a `followed` record's nine.
      var held = heldReplies ? whttp.sendUrlHeld(method, url) : undefined;
      // What `new Response(raw, undefined, undefined, url)` makes, as a
      // literal: under QuickJS a class's `new` costs about ten times an
      // object literal (250 ns against 15 for an empty one), on every request.
      var res;
      if (held && held.reply) {
        res = heldResponse(held, url);
      } else {
        var followed = held ? held.followed : whttp.sendUrl(method, url);
        absorb(followed, undefined);
        res = { __proto__: RESPONSE, status: followed.response.status, url: followed.url, _raw: followed.response };
        // What `request` shows, kept only where it differs from the defaults.
        if (followed.url !== url) res._sent = url;
      }
      if (method !== 'GET') res._method = method;
      return res;
    }
  }
  var req = build(method, url, body, params, timeoutMs, expect);
  var jar = builtJar;
  var type = params && params.responseType;
  var held = heldReplies ? whttp.sendHeld(req) : undefined;
  if (held && held.reply) {
    // `heldResponse`'s literal with the request in it: a property added
    // after costs QuickJS a shape change per response. (Not one function
    // for both with `_req: undefined` on a bare request: a GET + check
    // 105,673 -> 106,874 instructions, this path 231,233 -> 233,351.)
    var res = { __proto__: HELD, status: held.status, url: req.url, _reply: held.reply, _req: req };
    if (type) res._type = type;
    return res;
  }
  var followed = held ? held.followed : whttp.sendFollowed(req);
  absorb(followed, jar);
  return new Response(followed.response, req, type, followed.url);
}

/** @internal the error a host call threw, if it is a network error ({ class, message }). */
export function __netError(e) { return netError(e); }

/** @internal k6's `error_code` for a request or socket that failed with volley's error class `cls`. */
export function __k6ErrorCode(cls) {
  return { timeout: 1050, refused: 1212, reset: 1220, tls: 1300, dns: 1100, 'not-allowed': 1000 }[cls] || 1000;
}

/** The error a host call threw, if it is an HTTP error ({ class, message }). */
function netError(e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  return p && typeof p === 'object' && p.message !== undefined && p.class !== undefined ? p : undefined;
}

/** k6's Response for a request that got no response: status 0, `error` set. */
function k6Failed(p, shown) {
  const r = new Response(undefined, shown);
  r.error = `${p.class}: ${p.message}`;
  r.error_code = __k6ErrorCode(p.class);
  return r;
}

/**
 * Sends `list` (each `[method, url, body, params, timeoutMs, expect]`, `expect`
 * as `build` takes it) at once and waits for all; k6's Responses in order (no
 * response: status 0, `error` set).
 */
export function __k6Batch(list) {
  const jars = [];
  const reqs = list.map(([method, url, body, params, timeoutMs, expect]) => {
    const req = build(method, url, body, params, timeoutMs, expect);
    jars.push(builtJar);
    return req;
  });
  const results = whttp.sendBatchFollowed(reqs);
  return results.map((r, i) => {
    const params = list[i][3];
    if (r.tag === 'ok') {
      absorb(r.val, jars[i]);
      return new Response(r.val.response, reqs[i], params && params.responseType, r.val.url);
    }
    return k6Failed(r.val, reqs[i]);
  });
}

/**
 * An `http` method, `(url, params)` or with `withBody` `(url, body, params)`:
 * the request made in the function the script calls, no call between it
 * and the engine's but `send`'s. Under QuickJS a call costs 1,000-1,500
 * instructions and a frame of about 670 bytes on the VU's fiber stack, on
 * every request (and at 1,000 VUs each frame's lines come from memory).
 */
function httpMethod(method, withBody) {
  if (!withBody) {
    return (url, params) => {
      const timeoutMs = params && params.timeout !== undefined ? Math.round(params.timeout * 1000) : undefined;
      try {
        return send(method, url, undefined, params, timeoutMs);
      } catch (e) {
        throw httpFailure(e);
      }
    };
  }
  return (url, body, params) => {
    const timeoutMs = params && params.timeout !== undefined ? Math.round(params.timeout * 1000) : undefined;
    try {
      return send(method, url, body, params, timeoutMs);
    } catch (e) {
      throw httpFailure(e);
    }
  };
}

/** What `http`'s methods throw when `send` threw `e`: an `HttpError` for a network error, else `e`. */
function httpFailure(e) {
  const p = netError(e);
  return p ? new HttpError(p.class, p.message) : e;
}

/**
 * @internal `(method) => make(METHOD)` for `http.request`: each method's
 * function made once, the method in upper case (a script names a few; at
 * most 64 are kept).
 */
export function __byMethod(make) {
  const made = new Map();
  return (method) => {
    const m = String(method).toUpperCase();
    let call = made.get(m);
    if (call === undefined) {
      call = make(m);
      if (made.size < 64) made.set(m, call);
    }
    return call;
  };
}

const methodCall = __byMethod((m) => httpMethod(m, true));

/** `http.request(method, url, body, params)`. */
function request(method, url, body, params) {
  return methodCall(method)(url, body, params);
}

/** @internal k6/http's request: no response is a Response with status 0 and `error` set. */
export function __k6Request(method, url, body, params, timeoutMs, expect) {
  try {
    return send(method, url, body, params, timeoutMs, expect);
  } catch (e) {
    return __k6Failure(e, method, url, body);
  }
}

/** @internal `send`, for k6/http's methods, which catch what it throws (`__k6Failure`). */
export { send as __send };

/** @internal what k6/http answers when `send` threw `e`: a Response with status 0 and `error` set for a network error; any other error is thrown again. */
export function __k6Failure(e, method, url, body) {
  const p = netError(e);
  if (p) return k6Failed(p, { method, url: (__userinfo(url) || { url: String(url) }).url, headers: {}, body: body ?? null });
  throw e;
}

/**
 * HTTP like k6's `http`: `get(url, params)`, `post(url, body, params)`, ...
 * An object body is form-encoded (as k6 does); send JSON as a string.
 * `params`: headers, cookies, name (metric series), tags, timeout (seconds),
 * judged (the scenario gives the verdict: `http.verdict`),
 * responseType. Returns a `Response`; throws `HttpError` when there is no
 * response at all.
 */
export const http = {
  get: httpMethod('GET', false),
  head: httpMethod('HEAD', false),
  options: httpMethod('OPTIONS', true),
  del: httpMethod('DELETE', true),
  post: httpMethod('POST', true),
  put: httpMethod('PUT', true),
  patch: httpMethod('PATCH', true),
  request,
  /**
   * Sends every request at once and waits for all (k6 `http.batch`): each
   * `[method, url, body, params]` or `{ method, url, body, params }`.
   * Responses in order; one with no response throws its `HttpError` here.
   */
  batch(list) {
    const out = __k6Batch(list.map((r) => (Array.isArray(r)
      ? [String(r[0]).toUpperCase(), r[1], r[2], r[3], timeoutOf(r[3])]
      : [String(r.method || 'GET').toUpperCase(), r.url, r.body, r.params, timeoutOf(r.params)])));
    for (const r of out) if (r.error) throw new HttpError(r.error.slice(0, r.error.indexOf(':')), r.error.slice(r.error.indexOf(':') + 2));
    return out;
  },
  /**
   * The verdict on the last response to a request sent with `judged: true`
   * in its params (Locust's `catch_response`): its `http_req_failed` sample
   * (failed unless `ok`) and, with `check`, a check named after the request.
   * False when no response waits for one; a response left without one when
   * the next comes, or when the iteration ends, is judged by its status.
   */
  verdict: (ok, check = false) => whttp.verdict(Boolean(ok), Boolean(check)),
  /** Statuses this VU's later requests expect (k6 `expectedStatuses`); none: 200-399 again. */
  expectStatuses: (...statuses) => __expect(statuses),
  cookieJar,
};

function timeoutOf(params) {
  return params && params.timeout !== undefined ? Math.round(params.timeout * 1000) : undefined;
}

// Kafka and WebSocket: the generated bindings, as they are (see the SDK README).
export const kafka = wkafka;
export const ws = wws;

// ------------------------------------------------------------------ the runner (used by volley build's glue)

// Math.random per VU: a small generator (sfc32) seeded from the engine's
// per-VU random at init, so VUs and runs differ (and `--seed` repeats them).
let sfc = [0x9e3779b9, 0x243f6a88, 0xb7e15162, 1];
function sfc32() {
  let [a, b, c, d] = sfc;
  const t = (((a + b) | 0) + d) | 0;
  d = (d + 1) | 0;
  a = b ^ (b >>> 9);
  b = (c + (c << 3)) | 0;
  c = (c << 21) | (c >>> 11);
  c = (c + t) | 0;
  sfc = [a, b, c, d];
  return (t >>> 0) / 4294967296;
}
/** Reseeds this VU's `Math.random` (k6 `randomSeed`). */
export function randomSeed(seed) {
  const n = Number(seed);
  sfc = [n >>> 0, Math.floor(n / 4294967296) >>> 0, 0x6a09e667, 1];
  for (let i = 0; i < 16; i++) sfc32();
}

function show(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}`.trim() : `${v.name}: ${v.message}`;
  if (v && typeof v === 'object') {
    try { return JSON.stringify(v); } catch (_) { return String(v); }
  }
  return String(v);
}
const say = (level) => (...args) => wlog.write(level, args.map(show).join(' '));
const console = { log: say('info'), info: say('info'), debug: say('debug'), warn: say('warn'), error: say('error') };

// Stack lines of the bundled script point back at its own files and lines.
let lineMap;
function describe(e) {
  const text = show(e);
  if (!lineMap) return text;
  return text.replace(/[\w./-]*__volley_main\.js:(\d+)(?::\d+)?/g, (whole, n) => {
    const at = lineMap.lines[Number(n) - lineMap.first];
    return at ? `${lineMap.sources[at[0]]}:${at[1]}` : whole;
  });
}

let files = {};
/** k6 `open(path, mode)`: a file read at build time (`'b'`: an ArrayBuffer). */
export function open(path, mode) {
  const key = String(path).replace(/^\.\//, '');
  const f = files[key];
  if (f === undefined) {
    throw new Error(`open(${JSON.stringify(path)}): not embedded; volley embeds the files named by a string literal in open() (files next to the script)`);
  }
  if (mode === 'b') {
    const bytes = f.b64 !== undefined ? b64bytes(f.b64) : encoder.encode(f.text);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }
  return f.text !== undefined ? f.text : decoder.decode(b64bytes(f.b64));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Uint8Array's own base64 (QuickJS has it, in C): a character costs it a
// fraction of what the loops below cost in JavaScript.
const NATIVE_B64 = typeof Uint8Array.fromBase64 === 'function' && typeof Uint8Array.prototype.toBase64 === 'function';
/** Base64 (standard or URL alphabet, padding optional) to bytes. */
export function b64bytes(text) {
  const clean = String(text).replace(/[\s=]/g, '').replace(/-/g, '+').replace(/_/g, '/');
  if (NATIVE_B64) {
    try {
      return Uint8Array.fromBase64(clean);
    } catch (_) {
      // the loop below names the character it cannot read
    }
  }
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < clean.length; i++) {
    const v = B64.indexOf(clean[i]);
    if (v < 0) throw new Error(`not base64: ${JSON.stringify(clean[i])} at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 255;
    }
  }
  return out.subarray(0, n);
}
/** Bytes to base64 (standard alphabet, padded). */
export function bytesB64(bytes) {
  if (NATIVE_B64 && bytes instanceof Uint8Array) return bytes.toBase64();
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    out += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)];
    out += i + 1 < bytes.length ? B64[((b & 15) << 2) | (c >> 6)] : '=';
    out += i + 2 < bytes.length ? B64[c & 63] : '=';
  }
  return out;
}
export { encoder as __encoder, decoder as __decoder };

/** Each VU's own part of k6's init context: its random seed and `__ENV`. */
function initContext() {
  const s = [];
  for (let i = 0; i < 2; i++) {
    const v = bits53();
    s.push(v >>> 0, Math.floor(v / 4294967296) >>> 0);
  }
  sfc = [s[0], s[1], s[2], s[3] | 1];
  for (let i = 0; i < 16; i++) sfc32();
  Math.random = sfc32;
  globalThis.__ENV = Object.fromEntries(wvu.params());
}

/**
 * The globals every VU's init context has alike, set once when the
 * component is built (in the snapshot every VU starts from): set in each
 * VU instead, their writes to the snapshot's objects made each VU copy
 * about 52 KiB more of its pages.
 */
function initGlobals() {
  const g = globalThis;
  g.console = console;
  Object.defineProperty(g, '__VU', { get: () => wvu.id(), configurable: true });
  Object.defineProperty(g, '__ITER', { get: () => Number(wvu.iteration()), configurable: true });
  g.open = open;
  // What `async`/`await` (lowered by volley build) and k6/timers run on.
  g.Promise = loop.Promise;
  g.setTimeout = loop.setTimeout;
  g.clearTimeout = loop.clearTimeout;
  g.setInterval = loop.setInterval;
  g.clearInterval = loop.clearInterval;
  for (const hook of initHooks) hook(g);
}

const initHooks = [];
/** @internal `fn(globalThis)` runs once, before any VU's script, its effect in every VU (k6.js adds WebCrypto). */
export function __onInit(fn) { initHooks.push(fn); }

function sleepLoop(ms) { wvu.sleepMs(u64(ms > 0 ? ms : 0)); }

/** One `handleSummary` output as bytes: a string (UTF-8) or binary data, as k6 takes them. */
function summaryBytes(key, v) {
  if (typeof v === 'string') return encoder.encode(v);
  const bytes = __binary(v);
  if (bytes) return bytes;
  throw `handleSummary: the output ${JSON.stringify(key)} is ${v === null ? 'null' : typeof v}: give a string or an ArrayBuffer`;
}

/**
 * The world's exports around a script. `load` evaluates the script's top
 * level and returns its exports: it runs in each VU at its first call (k6's
 * init context), never at build time. `embedded` holds the files `open()`
 * reads and the map from the bundle's lines to the script's.
 */
export function __runner(load, embedded) {
  if (embedded) {
    files = embedded.files || {};
    lineMap = embedded.lineMap;
  }
  let mod;
  let data;
  // The build's main module calls this at its top level, which runs when
  // the component is built: after every module registered its hooks.
  initGlobals();
  const script = () => {
    if (mod === undefined) {
      initContext();
      try {
        mod = load();
        loop.drive(undefined, sleepLoop);
      } catch (e) {
        throw `in the script's init code (its top level): ${describe(e)}`;
      }
    }
    return mod;
  };
  // What a call that threw leaves: the loop emptied, the error described.
  const failed = (e) => {
    loop.reset();
    return describe(e);
  };
  // The call, then k6's event loop: an async function's awaits, promise
  // reactions and timers run before the call returns; a rejection fails it.
  const call = (fn, arg) => {
    try {
      return loop.drive(fn(arg), sleepLoop);
    } catch (e) {
      throw failed(e);
    }
  };
  return {
    setup() {
      const m = script();
      const out = typeof m.setup === 'function' ? call(m.setup) : undefined;
      return encoder.encode(JSON.stringify(out === undefined ? null : out));
    },
    initVu(bytes) {
      const m = script();
      data = bytes.length ? JSON.parse(decoder.decode(bytes)) : null;
      if (typeof m.initVu === 'function') call(m.initVu, data);
    },
    // Every iteration: `call` written out (under QuickJS each function
    // call costs about 500-1,000 instructions).
    run(entry) {
      // `var`: see `build`.
      var m = mod !== undefined ? mod : script();
      var fn = entry === 'default' ? m.default : m[entry];
      if (typeof fn !== 'function') {
        throw `no entry \`${entry}\`: export ${entry === 'default' ? 'default function (data) {...}' : `function ${entry}(data) {...}`} from the script`;
      }
      try {
        // A plain function that left nothing to run: no loop to drive.
        var out = fn(data);
        if (out !== undefined || !loop.idle) loop.drive(out, sleepLoop);
      } catch (e) {
        throw failed(e);
      }
    },
    teardown(bytes) {
      const m = script();
      if (typeof m.teardown === 'function') call(m.teardown, bytes.length ? JSON.parse(decoder.decode(bytes)) : null);
    },
    // k6's handleSummary: null when the script has none (the engine prints
    // its summary); else each output (`stdout`, `stderr`, a file's path)
    // with its bytes.
    handleSummary(json) {
      const m = script();
      if (typeof m.handleSummary !== 'function') return null;
      const out = call(m.handleSummary, JSON.parse(json));
      if (out === undefined || out === null) return [];
      if (typeof out !== 'object') throw `handleSummary returned ${typeof out}: return an object of outputs ({ 'summary.json': JSON.stringify(data), stdout: '...' })`;
      return Object.keys(out).map((k) => [k, summaryBytes(k, out[k])]);
    },
  };
}
