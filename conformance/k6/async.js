// Promises as k6 runs them: async setup and default functions, awaits,
// k6/timers, http.asyncRequest (ECHO_URL: the test's echo server), and
// WebCrypto on the global `crypto` (digest, HMAC, AES-GCM, random values,
// UUIDs).
import http from 'k6/http';
import { check } from 'k6';
import { setTimeout, clearTimeout } from 'k6/timers';

export const options = {
  vus: 1,
  iterations: 2,
  thresholds: { checks: ['rate==1'] },
};

const bytes = (text) => Uint8Array.from(text.split(''), (c) => c.charCodeAt(0));
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function setup() {
  await wait(1);
  return { token: 't-1' };
}

export default async function (data) {
  check(data, { 'async setup: its value': (d) => d.token === 't-1' });

  const order = [];
  const dropped = setTimeout(() => order.push('dropped'), 5);
  clearTimeout(dropped);
  setTimeout(() => order.push('b'), 20);
  setTimeout(() => order.push('a'), 10);
  await wait(30);
  check(order, { 'timers: in time order, a cleared one never runs': (o) => o.join() === 'a,b' });

  // http.asyncRequest: the requests go together; each promise gets its
  // Response, one with no response too (status 0, `error` set).
  const [got, posted] = await Promise.all([
    http.asyncRequest('GET', `${__ENV.ECHO_URL}/echo`),
    http.asyncRequest('POST', `${__ENV.ECHO_URL}/echo`, 'b', { headers: { 'X-Trace': 't-2' } }),
  ]);
  check(null, {
    'asyncRequest: each its response': () => got.status === 200 && got.json('method') === 'GET' && posted.json('method') === 'POST' && posted.json('trace') === 't-2',
  });
  const dead = await http.asyncRequest('GET', 'http://127.0.0.1:1/');
  check(dead, { 'asyncRequest: no response is status 0': (r) => r.status === 0 && r.error !== '' });

  const caught = await Promise.reject(new Error('no')).catch((e) => e.message);
  const all = await Promise.all([1, Promise.resolve(2), (async () => 3)()]);
  check(null, { 'promises: catch and all': () => caught === 'no' && all.join() === '1,2,3' });

  const hello = bytes('hello');
  check(hex(await crypto.subtle.digest('SHA-256', hello)), {
    'webcrypto: digest SHA-256': (h) => h === '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
  });
  check(hex(await crypto.subtle.digest('SHA-512', hello)), {
    'webcrypto: digest SHA-512': (h) => h.indexOf('9b71d224bd62f378') === 0,
  });
  const key = await crypto.subtle.importKey('raw', bytes('secret'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const sig = await crypto.subtle.sign('HMAC', key, hello);
  check(hex(sig), { 'webcrypto: HMAC sign': (h) => h === '88aab3ede8d3adf94d26ab90d3bafd4a2083070c3bcce9c014ee04a443847c0b' });
  const good = await crypto.subtle.verify('HMAC', key, sig, hello);
  const bad = await crypto.subtle.verify('HMAC', key, sig, bytes('hellO'));
  check(null, { 'webcrypto: HMAC verify': () => good === true && bad === false });

  const aes = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aes, hello);
  const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, aes, sealed);
  check(null, {
    'webcrypto: AES-GCM round trip': () => sealed.byteLength === hello.length + 16 && hex(opened) === hex(hello),
  });
  check(crypto.randomUUID(), {
    'webcrypto: randomUUID': (u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u),
  });
}
