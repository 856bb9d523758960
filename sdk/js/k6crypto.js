// k6's `k6/crypto` (hashes, HMAC, random bytes) in JavaScript. Part of a
// component only when its script imports `k6/crypto`: the generated main
// module registers it (k6.js's `__register`).

import * as volley from './volley.js';
import { __toBytes } from './k6.js';
import { sha1, sha256, sha384, sha512, md5 } from './hash.js';

const HASHES = { sha256: [sha256, 64], sha1: [sha1, 64], md5: [md5, 64], sha384: [sha384, 128], sha512: [sha512, 128] };

function hashOf(algorithm) {
  const h = HASHES[String(algorithm).toLowerCase().replace('-', '')];
  if (!h) throw new Error(`not supported by volley: k6/crypto algorithm ${JSON.stringify(algorithm)} (sha256, sha1, md5)`);
  return h;
}

function out(bytes, enc) {
  if (enc === 'hex') {
    // Uint8Array's own hex where the engine has it (QuickJS, in C).
    if (bytes instanceof Uint8Array && typeof bytes.toHex === 'function') return bytes.toHex();
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  if (enc === 'base64') return volley.bytesB64(bytes);
  if (enc === 'base64url' || enc === 'base64rawurl') {
    const s = volley.bytesB64(bytes).replace(/\+/g, '-').replace(/\//g, '_');
    return enc === 'base64rawurl' ? s.replace(/=+$/, '') : s;
  }
  if (enc === 'binary' || enc === undefined) return bytes.buffer.slice(0, bytes.length);
  throw new Error(`k6/crypto: output encoding ${JSON.stringify(enc)} (hex, base64, base64url, base64rawurl, binary)`);
}

// volley's runtime computes these HMACs in C (`__volley_hmac`): the pads
// below cost about 3,600 bytecode instructions a call in JavaScript.
const NATIVE_HMAC = typeof __volley_hmac === 'function' ? __volley_hmac : undefined;
const IN_C = new Set(['sha256', 'sha1', 'md5']);

function hmacBytes(algorithm, key, input) {
  const [fn, block] = hashOf(algorithm);
  const name = String(algorithm).toLowerCase().replace('-', '');
  if (NATIVE_HMAC && IN_C.has(name)) return NATIVE_HMAC(name, __toBytes(key), __toBytes(input));
  let k = __toBytes(key);
  if (k.length > block) k = fn(k);
  const ipad = new Uint8Array(block);
  const opad = new Uint8Array(block);
  for (let i = 0; i < block; i++) {
    ipad[i] = (k[i] || 0) ^ 0x36;
    opad[i] = (k[i] || 0) ^ 0x5c;
  }
  const msg = __toBytes(input);
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
  update(input) { this.parts.push(__toBytes(input)); return this; }
  digest(enc) {
    const all = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) { all.set(p, at); at += p.length; }
    return out(this.fn(all), enc);
  }
}

export const k6crypto = {
  sha256: (input, enc) => out(sha256(__toBytes(input)), enc),
  sha1: (input, enc) => out(sha1(__toBytes(input)), enc),
  md5: (input, enc) => out(md5(__toBytes(input)), enc),
  hmac: (algorithm, key, input, enc) => out(hmacBytes(algorithm, key, input), enc),
  createHash: (algorithm) => new Hasher(algorithm),
  createHMAC: (algorithm, key) => {
    const parts = [];
    return {
      update(input) { parts.push(typeof input === 'string' ? input : volley.__decoder.decode(__toBytes(input))); return this; },
      digest(enc) { return out(hmacBytes(algorithm, key, parts.join('')), enc); },
    };
  },
  randomBytes: (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(volley.random.float() * 256);
    return b.buffer;
  },
};
