// k6's event loop inside one VU call: promises, `async` functions and
// timers (`setTimeout`, `setInterval`) settle before the call returns.
//
// The guest's calls into the engine are synchronous and the JavaScript
// engines volley builds with run no job queue of their own during an export
// call, so the loop is here: `volley build` lowers `async`/`await` to
// generators over the global `Promise`, which is this file's `Promise` while
// a script runs, and `drive` runs its reactions and the timers (sleeping on
// the engine's timer) until the call's promise settles and nothing is left
// to run. Bounded: a loop that keeps scheduling work fails the call after
// MAX_STEPS steps (the iteration timeout bounds its time).

import * as wvu from 'volley:scenario/vu@0.2.0';

/** Reactions and timer callbacks one call may run before it is failed. */
const MAX_STEPS = 10000000;

const jobs = [];
let head = 0;
let timers = [];
let timerSeq = 0;
// Rejected promises nobody handled (yet): k6 fails the iteration for them.
const unhandled = new Set();
// False when `unhandled` is surely empty: read on every call's way out
// instead of the set's `size` (a getter, about 1,000 instructions under
// QuickJS). True may be stale; `drive`'s slow path makes it false again.
let maybeUnhandled = false;
// What the loop waits on besides its timers, registered by the modules a
// script uses: k6's `WebSocket` (k6ws.js: its open sockets) and
// `http.asyncRequest` (k6.js: requests queued to go together). Each has
// `pending()` while it has work, `wait(ms)` that waits up to `ms` for it
// and runs what came (an `immediate` one does its work at once), and
// `reset()`, which drops it all after a failed call.
const sources = [];
/**
 * True when the loop surely has nothing to run (no reaction, timer,
 * unhandled rejection or source): the runner then skips `drive` on an
 * iteration's way out (under QuickJS a call costs about 1,000 instructions).
 * False may be stale; `drive` makes it true again.
 */
export let idle = true;
/** How long the loop waits on open sockets when no timer is due sooner. */
const IO_WAIT_MS = 1000;

/** @internal registers a source of work the loop waits on (once). */
export function __io(source) {
  if (sources.includes(source)) return;
  idle = false;
  // Immediate sources first: queued requests go before a wait on sockets.
  if (source.immediate) sources.unshift(source);
  else sources.push(source);
}

function ioPending() {
  for (const s of sources) if (s.pending()) return true;
  return false;
}

function queue(job) {
  idle = false;
  jobs.push(job);
}

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

function isObj(v) { return v !== null && (typeof v === 'object' || typeof v === 'function'); }

/** Promises/A+ with the ES statics, settled by this file's job queue. */
export class Promise {
  constructor(executor) {
    if (typeof executor !== 'function') throw new TypeError('Promise resolver is not a function');
    this._state = PENDING;
    this._value = undefined;
    this._reactions = [];
    const [resolve, reject] = this._resolvers();
    try {
      executor(resolve, reject);
    } catch (e) {
      reject(e);
    }
  }

  _resolvers() {
    let done = false;
    const resolve = (v) => { if (!done) { done = true; this._resolve(v); } };
    const reject = (e) => { if (!done) { done = true; this._settle(REJECTED, e); } };
    return [resolve, reject];
  }

  _resolve(v) {
    if (v === this) { this._settle(REJECTED, new TypeError('a promise resolved with itself')); return; }
    if (isObj(v)) {
      let then;
      try {
        then = v.then;
      } catch (e) {
        this._settle(REJECTED, e);
        return;
      }
      if (typeof then === 'function') {
        const [res, rej] = this._resolvers();
        queue(() => {
          try {
            then.call(v, res, rej);
          } catch (e) {
            rej(e);
          }
        });
        return;
      }
    }
    this._settle(FULFILLED, v);
  }

  _settle(state, value) {
    if (this._state !== PENDING) return;
    this._state = state;
    this._value = value;
    if (state === REJECTED && this._reactions.length === 0) {
      unhandled.add(this);
      maybeUnhandled = true;
      idle = false;
    }
    for (const r of this._reactions) this._react(r);
    this._reactions = null;
  }

  _react([onOk, onErr, resolve, reject]) {
    const state = this._state;
    const value = this._value;
    queue(() => {
      const fn = state === FULFILLED ? onOk : onErr;
      if (typeof fn !== 'function') {
        if (state === FULFILLED) resolve(value);
        else reject(value);
        return;
      }
      let out;
      try {
        out = fn(value);
      } catch (e) {
        reject(e);
        return;
      }
      resolve(out);
    });
  }

  then(onOk, onErr) {
    let resolve;
    let reject;
    const next = new Promise((res, rej) => { resolve = res; reject = rej; });
    const r = [onOk, onErr, resolve, reject];
    if (maybeUnhandled) unhandled.delete(this);
    if (this._state === PENDING) this._reactions.push(r);
    else this._react(r);
    return next;
  }

  catch(onErr) { return this.then(undefined, onErr); }

  finally(fn) {
    if (typeof fn !== 'function') return this.then(fn, fn);
    return this.then(
      (v) => Promise.resolve(fn()).then(() => v),
      (e) => Promise.resolve(fn()).then(() => { throw e; }),
    );
  }

  static resolve(v) { return v instanceof Promise ? v : new Promise((res) => res(v)); }
  static reject(e) { return new Promise((_, rej) => rej(e)); }
  static withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  static all(items) {
    return new Promise((resolve, reject) => {
      const list = Array.from(items);
      const out = new Array(list.length);
      let left = list.length;
      if (!left) resolve(out);
      list.forEach((p, i) => Promise.resolve(p).then((v) => {
        out[i] = v;
        if (--left === 0) resolve(out);
      }, reject));
    });
  }

  static allSettled(items) {
    return Promise.all(Array.from(items, (p) => Promise.resolve(p).then(
      (value) => ({ status: 'fulfilled', value }),
      (reason) => ({ status: 'rejected', reason }),
    )));
  }

  static race(items) {
    return new Promise((resolve, reject) => {
      for (const p of items) Promise.resolve(p).then(resolve, reject);
    });
  }

  static any(items) {
    return new Promise((resolve, reject) => {
      const list = Array.from(items);
      const errors = new Array(list.length);
      let left = list.length;
      const none = () => reject(new Error('Promise.any: every promise was rejected'));
      if (!left) none();
      list.forEach((p, i) => Promise.resolve(p).then(resolve, (e) => {
        errors[i] = e;
        if (--left === 0) none();
      }));
    });
  }
}

/** The engine's clock in milliseconds. */
export function nowMs() { return Number(wvu.nowUs()) / 1000; }

function addTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('setTimeout/setInterval: the callback must be a function');
  const delay = Math.max(0, Number(ms) || 0);
  const id = ++timerSeq;
  idle = false;
  timers.push({ id, at: nowMs() + delay, fn, args, every: repeat ? delay : undefined });
  return id;
}

function removeTimer(id) { timers = timers.filter((t) => t.id !== id); }

/** k6/timers: run `fn` after `ms` milliseconds, within the same iteration. */
export function setTimeout(fn, ms, ...args) { return addTimer(fn, ms, args, false); }
export function clearTimeout(id) { removeTimer(id); }
/** k6/timers: run `fn` every `ms` milliseconds until `clearInterval`. */
export function setInterval(fn, ms, ...args) { return addTimer(fn, ms, args, true); }
export function clearInterval(id) { removeTimer(id); }

/** Drops what a failed call left behind: the next call starts clean. */
export function reset() {
  jobs.length = 0;
  head = 0;
  timers = [];
  unhandled.clear();
  maybeUnhandled = false;
  for (const s of sources) s.reset();
  idle = sources.length === 0;
}

function describeReason(e) {
  return e instanceof Error ? e : new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

/**
 * Runs the loop until `out` (a call's result) is settled and no reaction
 * or timer is left; returns its value, throws its rejection. `sleepMs`
 * waits for the next timer on the engine's clock.
 */
export function drive(out, sleepMs) {
  // A plain function that left nothing to run: no loop to drive. (An
  // `undefined` result is not asked `instanceof`, about 900 instructions.)
  if (head >= jobs.length && !timers.length && !maybeUnhandled && (out === undefined || !(out instanceof Promise))
    && !(sources.length && ioPending())) {
    idle = sources.length === 0;
    return out;
  }
  const awaited = out instanceof Promise ? out : undefined;
  if (awaited) unhandled.delete(awaited);
  let steps = 0;
  try {
    for (;;) {
      while (head < jobs.length) {
        if (++steps > MAX_STEPS) throw new Error(`more than ${MAX_STEPS} promise reactions and timer callbacks in one call: does a promise chain or setInterval never end?`);
        const job = jobs[head];
        jobs[head++] = undefined;
        job();
      }
      jobs.length = 0;
      head = 0;
      const waiting = sources.length > 0 && ioPending();
      if (!timers.length && !waiting) break;
      if (++steps > MAX_STEPS) throw new Error(`more than ${MAX_STEPS} promise reactions and timer callbacks in one call: does a setInterval never end?`);
      let next = -1;
      for (let i = 0; i < timers.length; i++) if (next < 0 || timers[i].at < timers[next].at) next = i;
      const wait = next < 0 ? IO_WAIT_MS : timers[next].at - nowMs();
      if (waiting && (wait > 0 || sources.some((s) => s.immediate && s.pending()))) {
        // Wait on the sources (what comes runs its handlers and settles
        // its promises), the first with work for up to the next timer,
        // then look again at what is due.
        let ms = wait > 0 ? Math.ceil(wait) : 0;
        for (const s of sources) {
          if (!s.pending()) continue;
          s.wait(s.immediate ? 0 : ms);
          ms = 0;
        }
        continue;
      }
      if (wait > 0) sleepMs(Math.ceil(wait));
      const t = timers[next];
      if (t.every === undefined) timers.splice(next, 1);
      else t.at = Math.max(t.at + t.every, nowMs());
      t.fn(...t.args);
    }
    if (awaited && awaited._state === PENDING) {
      throw new Error('the function returned a promise that never settled (nothing left to run: it waits for something that never happens)');
    }
    for (const p of unhandled) {
      unhandled.delete(p);
      if (p !== awaited) {
        const e = describeReason(p._value);
        e.message = `Uncaught (in promise) ${e.message}`;
        throw e;
      }
    }
    maybeUnhandled = false;
    idle = sources.length === 0;
    if (awaited && awaited._state === REJECTED) throw awaited._value;
    return awaited ? awaited._value : out;
  } catch (e) {
    reset();
    throw e;
  }
}
