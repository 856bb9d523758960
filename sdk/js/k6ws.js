// k6's WebSocket modules on volley's WebSocket client, so a k6 WebSocket
// script runs as written.
//
// `k6/ws`: `ws.connect(url, params, callback)` opens the socket, lets
// `callback(socket)` set up its handlers, fires `open` and then runs the
// socket's own event loop (messages, `setTimeout`/`setInterval`, pings)
// until the socket closes; then it returns the handshake's response.
//
// `k6/websockets` (also by its older name, `k6/experimental/websockets`):
// the browser-like `WebSocket`, whose events run on the VU's event loop.
//
// The engine times the session and counts messages itself (`ws_sessions`,
// `ws_connecting`, `ws_session_duration`, `ws_msgs_sent`,
// `ws_msgs_received`, `ws_ping`), as k6 does. `volley build` adds this file
// to a component only when its script imports one of these modules.

import * as wws from 'volley:scenario/ws@0.2.0';
import { __tagList, __encoder, __decoder, __binary, __concat, __netError as netError, __k6ErrorCode, cookieJar } from './volley.js';
import * as loop from './loop.js';

const EVENTS = ['open', 'message', 'binaryMessage', 'ping', 'pong', 'close', 'error'];
/** How long one wait for a message lasts when no timer is due sooner. */
const WAIT_MS = 1000;
/** How long `socket.ping()` waits for its pong. */
const PING_MS = 10000;
/** Events and timer callbacks one session may run before it fails (the iteration's deadline bounds its time). */
const MAX_STEPS = 10000000;
const { nowMs } = loop;

/** `call()`; a network error it throws goes to `failed(message)` instead (undefined is returned). */
function attempt(call, failed) {
  try {
    return call();
  } catch (e) {
    const p = netError(e);
    if (!p) throw e;
    failed(`${p.class}: ${p.message}`);
    return undefined;
  }
}

/** Drops a socket now, not left to the collector (a VU holds at most 1,024). */
function dispose(raw) {
  const drop = typeof Symbol.dispose === 'symbol' ? raw[Symbol.dispose] : raw.drop;
  if (typeof drop === 'function') drop.call(raw);
}

/** k6's error event argument: `e.error()` is the message. */
function errorEvent(message) {
  return { error: () => message, toString: () => message };
}

/** The connect options the binding takes, from k6's `params`. */
function connectOptions(url, params) {
  if (params.compression !== undefined && params.compression !== '') {
    throw new Error(`not supported by volley: k6/ws params.compression (${JSON.stringify(params.compression)}); volley's WebSocket client does not negotiate permessage-deflate`);
  }
  const lines = [];
  const subprotocols = [];
  let cookie = false;
  for (const [name, value] of Object.entries(params.headers || {})) {
    const lower = name.toLowerCase();
    if (lower === 'sec-websocket-protocol') {
      for (const p of String(value).split(',')) if (p.trim()) subprotocols.push(p.trim());
      continue;
    }
    if (lower === 'cookie') cookie = true;
    lines.push(`${name}: ${value}`);
  }
  // As k6: the VU's cookies for the URL (or the jar's in `params.jar`) go
  // with the handshake unless the script set a Cookie header.
  if (!cookie) {
    const jar = params.jar || cookieJar();
    const httpUrl = String(url).replace(/^ws/i, 'http');
    const pairs = Object.entries(jar.cookiesForURL(httpUrl)).map(([n, v]) => `${n}=${v[0]}`);
    if (pairs.length) lines.push(`Cookie: ${pairs.join('; ')}`);
  }
  return { headers: lines.join('\n'), subprotocols, timeoutMs: undefined, tags: __tagList(params.tags) };
}

/** k6's `ws.connect`'s result: the handshake's response. */
function response(url, status, protocol, error, errorCode) {
  const headers = protocol ? { 'Sec-Websocket-Protocol': protocol } : {};
  return { url: String(url), status, headers, body: '', error: error || '', error_code: errorCode || 0 };
}

/** The socket `callback` gets: handlers, sends, timers, `close`. */
class Socket {
  constructor(raw) {
    this._raw = raw;
    this._handlers = {};
    this._timers = [];
    this._pings = 0;
    this._closed = false;
    this._steps = 0;
  }

  /** Adds `handler` for `event` (`open`, `message`, `binaryMessage`, `pong`, `close`, `error`; `ping`, the peer's pings, never fires: the engine answers them). */
  on(event, handler) {
    if (!EVENTS.includes(event)) throw new Error(`socket.on: unknown event ${JSON.stringify(event)} (k6/ws has ${EVENTS.join(', ')})`);
    if (typeof handler !== 'function') throw new TypeError(`socket.on('${event}', handler): handler is not a function`);
    (this._handlers[event] || (this._handlers[event] = [])).push(handler);
  }

  /** Sends a text message. */
  send(data) {
    if (this._closed) return;
    this._try(() => this._raw.sendText(String(data)));
  }

  /** Sends a binary message (an `ArrayBuffer` or a typed array). */
  sendBinary(data) {
    if (this._closed) return;
    const bytes = __binary(data);
    if (!bytes) throw new TypeError('socket.sendBinary(data): data is an ArrayBuffer or a typed array (send text with socket.send)');
    this._try(() => this._raw.sendBinary(bytes));
  }

  /** Sends a ping; `pong` fires when its answer comes (the round trip is `ws_ping`). */
  ping() {
    if (!this._closed) this._pings += 1;
  }

  /** Calls `fn` once, `ms` milliseconds from now, while the socket is open. */
  setTimeout(fn, ms) { this._timer(fn, ms, false); }

  /** Calls `fn` every `ms` milliseconds while the socket is open. */
  setInterval(fn, ms) {
    if (!(Number(ms) > 0)) throw new Error(`socket.setInterval(fn, ${ms}): the interval is a number of milliseconds above 0`);
    this._timer(fn, ms, true);
  }

  /** Closes the socket (close frame `code`; 1001, going away, if none, as in k6); `close` fires and `ws.connect` returns. */
  close(code) {
    if (this._closed) return;
    const c = code === undefined ? 1001 : Number(code);
    try {
      this._raw.close(c, '');
    } catch (e) {
      const p = netError(e);
      if (!p) throw e;
      // A code no close frame may carry: nothing was sent, the script is told.
      if (p.class === 'invalid-request') throw new Error(`socket.close(${code}): ${p.message}`);
    }
    this._closed = true;
    this._emit('close', c);
  }

  _timer(fn, ms, repeat) {
    if (typeof fn !== 'function') throw new TypeError('socket timers take a function');
    const every = Math.max(0, Number(ms) || 0);
    this._timers.push({ at: nowMs() + every, every, repeat, fn });
  }

  _emit(event, ...args) {
    const list = this._handlers[event];
    if (!list) return;
    for (const h of list) h.apply(this, args);
  }

  /** Runs a binding call; a network error fires `error`, closes the socket, and is not thrown. */
  _try(call) {
    return attempt(call, (message) => this._fail(message));
  }

  _fail(message) {
    if (this._closed) return;
    this._closed = true;
    this._emit('error', errorEvent(message));
    this._emit('close', 1006);
  }

  _step() {
    this._steps += 1;
    if (this._steps > MAX_STEPS) throw new Error(`k6/ws: the session ran ${MAX_STEPS} events and timers without closing`);
  }

  /** The event loop: until the socket closes. */
  _run() {
    while (!this._closed) {
      this._step();
      if (this._pings > 0) {
        this._pings -= 1;
        if (this._try(() => this._raw.ping(PING_MS)) !== undefined) this._emit('pong');
        continue;
      }
      let next;
      for (const t of this._timers) if (!next || t.at < next.at) next = t;
      const now = nowMs();
      if (next && next.at <= now) {
        if (next.repeat) next.at = Math.max(next.at + next.every, now);
        else this._timers.splice(this._timers.indexOf(next), 1);
        next.fn.call(this);
        continue;
      }
      const wait = next ? Math.min(WAIT_MS, Math.ceil(next.at - now)) : WAIT_MS;
      const got = this._try(() => this._raw.recv(wait));
      if (got == null) continue;
      if (got.tag === 'text') this._emit('message', got.val);
      else if (got.tag === 'binary') {
        const b = got.val;
        this._emit('binaryMessage', b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      } else if (got.tag === 'close') {
        this._closed = true;
        this._emit('close', got.val.code);
      }
    }
  }
}

/**
 * k6 `ws.connect(url, [params], callback)`: opens the socket, calls
 * `callback(socket)`, fires `open`, and runs the socket until it closes.
 * Returns the handshake's response (status 101); one that failed has
 * status 0 and `error` set (as k6's without `throw`).
 */
function connect(url, params, callback) {
  if (typeof params === 'function' && callback === undefined) {
    callback = params;
    params = undefined;
  }
  if (typeof callback !== 'function') throw new TypeError('ws.connect(url, params, callback): callback is the function that sets up the socket');
  let raw;
  try {
    raw = wws.Socket.connect(String(url), connectOptions(url, params || {}));
  } catch (e) {
    const p = netError(e);
    if (!p) throw e;
    return response(url, 0, undefined, `${p.class}: ${p.message}`, __k6ErrorCode(p.class));
  }
  const socket = new Socket(raw);
  try {
    callback(socket);
    if (!socket._closed) socket._emit('open');
    socket._run();
    return response(url, 101, raw.protocol());
  } finally {
    socket._closed = true;
    dispose(raw);
  }
}

export const k6ws = { connect };

// ------------------------------------------------ k6/experimental/websockets

// k6's browser-like `WebSocket` (`k6/websockets`, and
// `k6/experimental/websockets`): the socket connects and its events
// run on the VU's event loop (loop.js), which keeps the call going while any
// socket is open, as k6's does.

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** This VU's sockets that are open: the event loop waits on them. */
const live = new Set();

const io = {
  pending() { return live.size > 0; },
  wait(ms) {
    const open = [...live];
    const ready = wws.poll(open.map((w) => w._raw), ms);
    for (const i of ready) open[i]._drain();
  },
  reset() {
    for (const w of [...live]) w._end();
  },
};

function bytesOf(data) {
  return data instanceof Blob ? data._bytes : __binary(data);
}

/** k6's `Blob`: what a binary message is unless `binaryType` is `'arraybuffer'`. */
export class Blob {
  constructor(parts = [], options = {}) {
    this._bytes = __concat(Array.from(parts, (p) => bytesOf(p) || __encoder.encode(String(p))));
    this.type = options && options.type ? String(options.type) : '';
  }

  get size() { return this._bytes.length; }
  arrayBuffer() { return loop.Promise.resolve(this._bytes.slice().buffer); }
  bytes() { return loop.Promise.resolve(this._bytes.slice()); }
  text() { return loop.Promise.resolve(__decoder.decode(this._bytes)); }
  slice(start, end, type) { return new Blob([this._bytes.slice(start, end)], { type }); }
}

/**
 * k6's `WebSocket(url, protocols, params)`: connects on the event loop, then
 * fires `open`, `message` (`data`: a string, or a `Blob` or `ArrayBuffer`
 * by `binaryType`), `pong`, `error` (`error`: the message) and `close`,
 * through `on<event>` and `addEventListener`.
 */
export class WebSocket {
  constructor(url, protocols, params) {
    this.url = String(url);
    this.readyState = CONNECTING;
    this.protocol = '';
    this.extensions = '';
    this.bufferedAmount = 0;
    this._binaryType = 'blob';
    this.onopen = null;
    this.onmessage = null;
    this.onerror = null;
    this.onclose = null;
    this.onping = null;
    this.onpong = null;
    this._listeners = {};
    this._raw = undefined;
    const opts = connectOptions(url, params || {});
    if (protocols !== undefined && protocols !== null) {
      for (const p of Array.isArray(protocols) ? protocols : [protocols]) opts.subprotocols.push(String(p));
    }
    loop.__io(io);
    // After the script's code that made it, as in k6: handlers set just
    // after `new` see the `open`.
    loop.setTimeout(() => this._connect(opts), 0);
  }

  get binaryType() { return this._binaryType; }
  set binaryType(t) {
    if (t !== 'blob' && t !== 'arraybuffer') throw new Error(`unknown binaryType ${t}, the supported ones are "blob" and "arraybuffer"`);
    this._binaryType = t;
  }

  /** Sends a string as a text message, an `ArrayBuffer`, typed array or `Blob` as a binary one. */
  send(data) {
    if (this.readyState !== OPEN) throw new Error('InvalidStateError: the socket is not open');
    if (typeof data === 'string') {
      this._try(() => this._raw.sendText(data));
      return;
    }
    const bytes = bytesOf(data);
    if (!bytes) throw new TypeError('WebSocket.send(data): data is a string, an ArrayBuffer, a typed array or a Blob');
    this._try(() => this._raw.sendBinary(bytes));
  }

  /** Sends a ping; `pong` fires when its answer comes (the round trip is `ws_ping`). */
  ping() {
    if (this.readyState !== OPEN) throw new Error('InvalidStateError: the socket is not open');
    if (this._try(() => this._raw.ping(PING_MS)) !== undefined) {
      loop.setTimeout(() => this._dispatch('pong', {}), 0);
    }
  }

  /** Closes the socket (code 1000 unless given); `close` fires on the event loop. */
  close(code, reason) {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    if (this.readyState === CONNECTING) {
      this.readyState = CLOSED;
      return;
    }
    const c = code === undefined ? 1000 : Number(code);
    try {
      this._raw.close(c, reason === undefined ? '' : String(reason));
    } catch (e) {
      const p = netError(e);
      if (!p) throw e;
      if (p.class === 'invalid-request') throw new Error(`WebSocket.close(${code}): ${p.message}`);
    }
    this.readyState = CLOSING;
    this._end();
    loop.setTimeout(() => this._dispatch('close', {}), 0);
  }

  addEventListener(event, handler) {
    if (typeof handler !== 'function') throw new TypeError(`addEventListener('${event}', handler): handler is not a function`);
    (this._listeners[event] || (this._listeners[event] = [])).push(handler);
  }

  removeEventListener(event, handler) {
    const list = this._listeners[event];
    if (list) this._listeners[event] = list.filter((h) => h !== handler);
  }

  _connect(opts) {
    if (this.readyState !== CONNECTING) return;
    try {
      this._raw = wws.Socket.connect(this.url, opts);
    } catch (e) {
      const p = netError(e);
      if (!p) throw e;
      this.readyState = CLOSED;
      this._dispatch('error', { error: `${p.class}: ${p.message}` });
      this._dispatch('close', {});
      return;
    }
    this.protocol = this._raw.protocol() || '';
    this.readyState = OPEN;
    live.add(this);
    this._dispatch('open', {});
  }

  /** Takes every message the socket has ready and fires its events. */
  _drain() {
    while (this.readyState === OPEN) {
      const got = this._try(() => this._raw.recv(0));
      if (got == null) return;
      if (got.tag === 'text') this._dispatch('message', { data: got.val, origin: this.url });
      else if (got.tag === 'binary') {
        const b = got.val;
        const data = this._binaryType === 'arraybuffer' ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) : new Blob([b]);
        this._dispatch('message', { data, origin: this.url });
      } else if (got.tag === 'close') {
        this._end();
        const { code, reason } = got.val;
        // As k6: a close the server starts with another code than 1000 is an error too.
        if (code !== 1000) this._dispatch('error', { error: `websocket: close ${code}: ${reason}` });
        this._dispatch('close', {});
      }
    }
  }

  /** A binding call; a network error fires `error` and `close` and ends the socket. */
  _try(call) {
    return attempt(call, (message) => {
      this._end();
      this._dispatch('error', { error: message });
      this._dispatch('close', {});
    });
  }

  /** Closed: off the loop, dropped (a VU holds at most 1,024 sockets). */
  _end() {
    this.readyState = CLOSED;
    live.delete(this);
    const raw = this._raw;
    if (raw) {
      this._raw = undefined;
      dispose(raw);
    }
  }

  _dispatch(type, fields) {
    const event = { type, target: this, timestamp: Date.now(), ...fields };
    const own = this[`on${type}`];
    if (typeof own === 'function') own.call(this, event);
    const list = this._listeners[type];
    if (list) for (const h of list.slice()) h.call(this, event);
  }
}

WebSocket.CONNECTING = CONNECTING;
WebSocket.OPEN = OPEN;
WebSocket.CLOSING = CLOSING;
WebSocket.CLOSED = CLOSED;

export const k6websockets = { WebSocket, Blob };
