// k6's modules on volley's SDK, so a k6 script runs as written: `k6`,
// `k6/http`, `k6/metrics`, `k6/data`, `k6/execution`, `k6/encoding`,
// `k6/crypto` and `k6/timers`, and the global `crypto` (WebCrypto, when the
// script names it: `__webcrypto`). `volley build` points a script's `import ... from 'k6/...'`
// here. What k6 has and volley does not is refused by name ("not supported
// by volley: k6/http.X"), never answered with a silent no-op.

import * as volley from './volley.js';
import { __send, __k6Failure, __CONSTANT } from './volley.js';
import * as wvu from 'volley:scenario/vu@0.2.0';
import * as loop from './loop.js';

const { Counter, Gauge, Rate, Trend, sleep, fail, randomSeed, open } = volley;

/**
 * A module object whose unknown members say that volley lacks them. Its
 * members are its own properties, so reaching one runs no trap (a script
 * calls `http.get` and `check` through it on every iteration); only a
 * name it lacks falls through to the prototype, which refuses it by name.
 */
function k6module(name, members) {
  const refuse = new Proxy({}, {
    get(t, p, receiver) {
      if (typeof p !== 'string' || p === 'then' || p === 'toJSON' || p in t) return Reflect.get(t, p, receiver);
      throw new Error(`not supported by volley: ${name}.${p} (see the k6 table in volley's JavaScript SDK README)`);
    },
  });
  // Descriptors, not values: getters (the VU's id, ...) stay lazy.
  const obj = Object.defineProperties(Object.create(refuse), Object.getOwnPropertyDescriptors(members));
  obj.__esModule = true;
  if (!('default' in members)) obj.default = obj;
  return obj;
}

// ------------------------------------------------------------------ k6

/**
 * k6 `check(value, { name: predicate }, tags)`: records each check with
 * `tags` and the current group's tag; true when all pass. volley's own
 * `check`, not a function that calls it (a call costs about 1,000
 * instructions under QuickJS).
 */
const check = volley.check;

/** k6 `group(name, fn)`: `group_duration` and a `group=::name` tag on what runs inside (requests, checks, metrics); the engine keeps both. */
const group = volley.group;

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

/**
 * What a request's params say about judging its response (k6's
 * `params.responseCallback`): its expected statuses, `volley.UNJUDGED` for
 * null (no `http_req_failed` sample), undefined to keep the VU's. Params
 * volley cannot honour fail the request by name, never silently.
 */
function expectOf(params) {
  if (!params) return undefined;
  if (params.compression !== undefined && params.compression !== null && params.compression !== '') {
    throw new Error(`not supported by volley: params.compression (${JSON.stringify(params.compression)}); compress the body yourself and set its Content-Encoding header`);
  }
  const cb = params.responseCallback;
  if (cb === undefined) return undefined;
  if (cb === null) return volley.UNJUDGED;
  if (Array.isArray(cb.__volleyStatuses)) return cb.__volleyStatuses;
  throw new Error('not supported by volley: params.responseCallback with a function (pass http.expectedStatuses(...), or null)');
}

/** k6's ``http.url`...` ``: a URL whose requests are named by its template (`${}` for each value). */
class TemplateURL {
  constructor(url, name) {
    this.url = url;
    this.name = name;
  }

  toString() { return this.url; }
}

function url(strings, ...values) {
  let text = strings[0];
  for (let i = 0; i < values.length; i++) text += String(values[i]) + strings[i + 1];
  return new TemplateURL(text, strings.join('${}'));
}

/** A request's URL and params: an `http.url` names it unless the params do. */
function named(target, params) {
  if (!(target instanceof TemplateURL)) return [target, params];
  if (params && (params.name !== undefined || (params.tags && params.tags.name !== undefined))) return [target.url, params];
  return [target.url, { ...params, tags: { ...(params && params.tags), name: target.name } }];
}

/**
 * A k6/http method, `(url, params)` or with `withBody` `(url, body, params)`:
 * the request made in the function the script calls, no call between it
 * and the engine's but `send`'s. Under QuickJS a call costs 1,000-1,500
 * instructions and a frame of about 670 bytes on the VU's fiber stack, on
 * every request (and at 1,000 VUs each frame's lines come from memory).
 */
function k6method(method, withBody) {
  return (target, a, b) => {
    // `var`: QuickJS checks a `let` or `const` on every read (volley.js, `build`).
    var body = null;
    var params = a;
    if (withBody) {
      body = a;
      params = b;
    }
    // No array unless the URL is a template: QuickJS destructures an array
    // through its iterator, about a tenth of a bare GET's instructions.
    var url = target;
    // `typeof` first: an `instanceof` costs a string URL about 900 instructions.
    if (typeof target === 'object' && target instanceof TemplateURL) {
      var both = named(target, params);
      url = both[0];
      params = both[1];
    }
    var timeout;
    var expect;
    if (params) {
      // Params `volley build` made once per VU (volley.js, `__const`): what
      // they say, read the first time.
      var box = params[__CONSTANT];
      var said = box !== undefined ? box.k6 : undefined;
      if (said !== undefined) {
        timeout = said.timeout;
        expect = said.expect;
      } else {
        // Calls only for the params that are there: a property read costs
        // far less than a call.
        if (params.timeout !== undefined) timeout = durationMs(params.timeout);
        if (params.compression !== undefined || params.responseCallback !== undefined) expect = expectOf(params);
        if (params.auth === 'digest') return digestRequest(method, url, body, params, timeout, expect);
        if (box !== undefined) box.k6 = { timeout, expect };
      }
    }
    try {
      return __send(method, url, body, params, timeout, expect);
    } catch (e) {
      return __k6Failure(e, method, url, body);
    }
  };
}

const k6methodCall = volley.__byMethod((m) => k6method(m, true));

/** k6 `http.request(method, url, body, params)`. */
function k6request(method, target, body, params) {
  return k6methodCall(method)(target, body, params);
}

// Digest authentication (digest.js), added by the generated main module
// when the script names `digest`.
let digest;
/** @internal */
export function __digest(d) { digest = d; }

/** `params.auth: 'digest'`: a request without credentials, then one answering its 401's challenge (k6's way). */
function digestRequest(method, url, body, params, timeout, expect) {
  if (!digest) throw new Error("params.auth: 'digest' came from a value built at run time: write 'digest' in the script so volley build includes digest authentication");
  const creds = volley.__userinfo(String(url));
  if (!creds) throw new Error("params.auth: 'digest' takes the user and password from the URL (http://user:pass@host/...), and this URL has none");
  // k6 counts the challenge's 401 as expected.
  const first = volley.__k6Request(method, url, body, params, timeout, [401]);
  const challenge = first.status === 401 ? digest.parseChallenge(first.headers['WWW-Authenticate']) : undefined;
  if (!challenge) return first;
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*([^#]*)/.exec(creds.url);
  const cnonce = Array.from({ length: 16 }, () => Math.floor(volley.random.float() * 16).toString(16)).join('');
  const header = digest.authorization(challenge, {
    method, uri: (m && m[1]) || '/', user: creds.user, password: creds.password, cnonce, encode: (t) => volley.__encoder.encode(t),
  });
  const headers = Object.assign({}, params.headers, { Authorization: header });
  return volley.__k6Request(method, url, body, Object.assign({}, params, { headers }), timeout, expect);
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

/** The VU's callback for later requests; null, as in k6, judges none (no `http_req_failed` samples). */
function setResponseCallback(cb) {
  if (cb === null || cb === undefined) volley.__expect(volley.UNJUDGED);
  else if (cb && Array.isArray(cb.__volleyStatuses)) volley.__expect(cb.__volleyStatuses);
  else throw new Error('not supported by volley: http.setResponseCallback with a function (pass http.expectedStatuses(...), or null)');
}

// `http.asyncRequest`: requests wait in `queued` until the event loop has
// nothing else to run, then go together as one engine batch (concurrently,
// as k6's would), and each promise settles with its Response.
const queued = [];
const asyncRequests = {
  immediate: true,
  pending() { return queued.length > 0; },
  wait() {
    const now = queued.splice(0);
    let responses;
    try {
      responses = volley.__k6Batch(now.map((q) => q.request));
    } catch (e) {
      // One request the engine cannot take (a bad param): each alone, so
      // only its own promise rejects.
      for (const q of now) {
        try {
          q.resolve(volley.__k6Batch([q.request])[0]);
        } catch (err) {
          q.reject(err);
        }
      }
      return;
    }
    responses.forEach((r, i) => now[i].resolve(r));
  },
  reset() { queued.length = 0; },
};

/** k6 `http.asyncRequest(method, url, body, params)`: a promise of the Response. */
function asyncRequest(method, target, body, given) {
  let request;
  try {
    const [url, params] = named(target, given);
    if (params && params.auth === 'digest') throw new Error("not supported by volley: http.asyncRequest with auth: 'digest' (use http.request)");
    request = [String(method).toUpperCase(), url, body, params, durationMs(params && params.timeout), expectOf(params)];
  } catch (e) {
    // A promise's function rejects, it does not throw.
    return loop.Promise.reject(e);
  }
  loop.__io(asyncRequests);
  return new loop.Promise((resolve, reject) => queued.push({ request, resolve, reject }));
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
    [m[1], m[3]] = named(m[1], m[3]);
    m.push(durationMs(m[3] && m[3].timeout), expectOf(m[3]));
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
  get: k6method('GET', false),
  head: k6method('HEAD', false),
  options: k6method('OPTIONS', true),
  del: k6method('DELETE', true),
  post: k6method('POST', true),
  put: k6method('PUT', true),
  patch: k6method('PATCH', true),
  request: k6request,
  asyncRequest,
  url,
  file: (data, filename, contentType) => new volley.FileData(data, filename, contentType),
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
 * k6 `SharedArray(name, fn)`: a read-only array from `fn`, made once per run
 * and shared by every VU: the first VU to get here runs `fn` and hands the
 * rows to the engine; the others wait for them and never run `fn`. Each VU
 * holds no copy: a row is read from the engine (and parsed) on access.
 */
class SharedArray {
  constructor(name, fn) {
    if (typeof fn !== 'function') throw new Error(`SharedArray(${JSON.stringify(name)}): the second argument must be a function returning an array`);
    // Apart from the plan's data sets of the same name.
    const key = `k6/data:${name}`;
    if (!wvu.dataClaim(key)) makeShared(name, key, fn);
    return sharedView(key, volley.vu.dataLen(key));
  }
}

function makeShared(name, key, fn) {
  let rows;
  try {
    const items = fn();
    if (!Array.isArray(items)) throw new Error(`SharedArray(${JSON.stringify(name)}): the function must return an array`);
    rows = JSON.stringify(items);
  } catch (e) {
    // Lets the next VU make it instead of every VU waiting on this one.
    try { wvu.dataShare(key, ''); } catch (_) { /* the release is the point */ }
    throw e;
  }
  wvu.dataShare(key, rows);
}

/** An array-like over the engine's rows: index, length, for-of and Array methods. */
function sharedView(key, length) {
  const row = (i) => volley.vu.dataRow(key, i);
  const index = (p) => (typeof p === 'string' && /^(0|[1-9][0-9]*)$/.test(p) ? Number(p) : undefined);
  return new Proxy([], {
    get(target, p) {
      if (p === 'length') return length;
      if (p === Symbol.iterator) return function* rows() { for (let i = 0; i < length; i++) yield row(i); };
      const i = index(p);
      if (i !== undefined) return i < length ? row(i) : undefined;
      return Reflect.get(target, p);
    },
    has(target, p) {
      const i = index(p);
      return i !== undefined ? i < length : Reflect.has(target, p);
    },
    set() { return false; },
    deleteProperty() { return false; },
  });
}

const data = k6module('k6/data', { SharedArray });

// ------------------------------------------------------------------ k6/execution

const execution = k6module('k6/execution', {
  vu: k6module('k6/execution.vu', {
    get idInTest() { return wvu.id(); },
    get idInInstance() { return wvu.id(); },
    get iterationInInstance() { return Number(wvu.iteration()); },
    get iterationInScenario() { return Number(wvu.iteration()); },
    // Tags on every sample this VU records from the SDK (k6 6.x's place,
    // and the older `tags`).
    metrics: k6module('k6/execution.vu.metrics', { tags: volley.__vuTags }),
    tags: volley.__vuTags,
  }),
  scenario: k6module('k6/execution.scenario', {
    get name() { return wvu.scenario(); },
    /** This iteration's number across the scenario (one volley process is k6's one instance). */
    get iterationInInstance() { return Number(wvu.iterationInScenario()); },
    get iterationInTest() { return Number(wvu.iterationInScenario()); },
  }),
  instance: k6module('k6/execution.instance', {
    /** Milliseconds since the run started (the engine's clock). */
    get currentTestRunDuration() { return Number(wvu.nowUs()) / 1000; },
  }),
  test: k6module('k6/execution.test', {
    abort(message) {
      throw new Error(`not supported by volley: exec.test.abort(${JSON.stringify(message ?? '')}) (use a threshold with abortOnFail)`);
    },
  }),
});

// ------------------------------------------------------------------ k6/encoding

/** @internal a string (UTF-8) or binary data as bytes. */
export function __toBytes(input) {
  if (typeof input === 'string') return volley.__encoder.encode(input);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (input instanceof Uint8Array) return input;
  throw new Error('expected a string or an ArrayBuffer');
}

function b64encode(input, encoding = 'std') {
  let s = volley.bytesB64(__toBytes(input));
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

// ------------------------------------------------------------------ k6/timers, WebCrypto

const timers = k6module('k6/timers', {
  setTimeout: loop.setTimeout,
  clearTimeout: loop.clearTimeout,
  setInterval: loop.setInterval,
  clearInterval: loop.clearInterval,
});

// Random bytes for WebCrypto from the VU's generator, six per host call.
let pool = 0;
let poolLeft = 0;
function randomByte() {
  if (poolLeft === 0) {
    pool = Math.floor(volley.random.float() * 2 ** 48);
    poolLeft = 6;
  }
  const b = pool % 256;
  pool = Math.floor(pool / 256);
  poolLeft--;
  return b;
}

/**
 * @internal k6 scripts have WebCrypto as the global `crypto` (no import).
 * The generated main module calls this when the script names `crypto`:
 * a component that leaves WebCrypto out gives every VU less memory.
 */
export function __webcrypto(webcrypto) {
  volley.__onInit((g) => {
    Object.defineProperty(g, 'crypto', { value: webcrypto(randomByte), writable: true, configurable: true });
  });
}

/** What `require(id)` returns in a bundled script: k6's modules and volley's SDK. */
export const modules = {
  volley,
  k6,
  'k6/http': http,
  'k6/metrics': metrics,
  'k6/data': data,
  'k6/execution': execution,
  'k6/encoding': encoding,
  'k6/timers': timers,
  // `k6/crypto` (k6crypto.js) and jslib.k6.io's modules (jslib.js,
  // url.js) are added by the generated main module only when the script
  // imports them (`__register`): each one a component carries costs every
  // VU memory.
};

/** @internal registers a module the script imports that the generated main module added (`k6/crypto`, jslib's). */
export function __register(id, members) {
  // Named in errors as scripts name it: `k6/crypto`, `url` (not `jslib/url`).
  modules[id] = k6module(id.replace(/^jslib\//, ''), members);
}
