// The global `crypto` of k6 scripts (WebCrypto): `getRandomValues`,
// `randomUUID` and `subtle` with `digest` (SHA-1/256/384/512), HMAC keys
// (`generateKey`, `importKey`/`exportKey` as raw or JWK, `sign`, `verify`)
// and AES keys (`generateKey`, `importKey`/`exportKey`) with `encrypt` and
// `decrypt` in AES-GCM, AES-CBC and AES-CTR (./aes.js). Everything else
// (RSA, ECDSA, ECDH, PBKDF2, deriveBits, ...) rejects with a message that
// names it: never an undefined method. `subtle`'s methods return promises,
// settled by the VU's event loop (./loop.js).

import { sha1, sha256, sha384, sha512 } from './hash.js';
import * as aes from './aes.js';
import { Promise } from './loop.js';

const DIGESTS = {
  'SHA-1': [sha1, 64],
  'SHA-256': [sha256, 64],
  'SHA-384': [sha384, 128],
  'SHA-512': [sha512, 128],
};

function bytesOf(data, what) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  throw new TypeError(`${what}: expected an ArrayBuffer, a TypedArray or a DataView`);
}

function buffer(bytes) { return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength); }

function algName(alg) {
  const name = typeof alg === 'string' ? alg : alg && alg.name;
  if (typeof name !== 'string') throw new TypeError('an algorithm is a name or { name, ... }');
  return name.toUpperCase();
}

function hashName(h) {
  const name = algName(h);
  if (!DIGESTS[name]) throw unsupported(`hash ${JSON.stringify(name)} (SHA-1, SHA-256, SHA-384, SHA-512)`);
  return name;
}

function unsupported(what) {
  const e = new Error(`not supported by volley: crypto.subtle ${what}`);
  e.name = 'NotSupportedError';
  return e;
}

/** Runs `fn` and hands its result (or error) over as a promise, as WebCrypto does. */
function later(fn) {
  return new Promise((resolve) => resolve(fn()));
}

export function hmac(hash, key, msg) {
  const [fn, block] = DIGESTS[hash];
  const k = key.length > block ? fn(key) : key;
  const inner = new Uint8Array(block + msg.length);
  for (let i = 0; i < block; i++) inner[i] = (k[i] || 0) ^ 0x36;
  inner.set(msg, block);
  const ih = fn(inner);
  const outer = new Uint8Array(block + ih.length);
  for (let i = 0; i < block; i++) outer[i] = (k[i] || 0) ^ 0x5c;
  outer.set(ih, block);
  return fn(outer);
}

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
function b64url(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    out += B64U[n >> 18] + B64U[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += B64U[(n >> 6) & 63];
    if (i + 2 < bytes.length) out += B64U[n & 63];
  }
  return out;
}
function unb64url(text) {
  const clean = String(text).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const ch of clean) {
    const v = B64U.indexOf(ch);
    if (v < 0) throw new TypeError(`JWK: ${JSON.stringify(ch)} is not base64url`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 255);
    }
  }
  return new Uint8Array(out);
}

/** A secret key (HMAC or AES); its bytes stay inside this module. */
class CryptoKey {
  constructor(algorithm, extractable, usages, bytes) {
    this.type = 'secret';
    this.extractable = !!extractable;
    this.algorithm = algorithm;
    this.usages = Array.from(usages || []);
    Object.defineProperty(this, '_bytes', { value: bytes, enumerable: false });
  }
}

const AES = ['AES-GCM', 'AES-CBC', 'AES-CTR'];

function keyAlgorithm(alg, bytes) {
  const name = algName(alg);
  if (name === 'HMAC') {
    const hash = hashName(alg.hash);
    return { name, hash: { name: hash }, length: bytes.length * 8 };
  }
  if (AES.includes(name)) {
    if (![16, 24, 32].includes(bytes.length)) throw new Error(`${name}: a key is 128, 192 or 256 bits, not ${bytes.length * 8}`);
    return { name, length: bytes.length * 8 };
  }
  throw unsupported(`keys of ${name} (volley has HMAC, AES-GCM, AES-CBC and AES-CTR)`);
}

function needs(key, usage, name) {
  if (!(key instanceof CryptoKey)) throw new TypeError(`${usage}: the key must come from crypto.subtle.generateKey or importKey`);
  if (key.algorithm.name !== name) throw new Error(`${usage}: the key is a ${key.algorithm.name} key, not ${name}`);
  if (!key.usages.includes(usage)) throw new Error(`${usage}: the key's usages (${key.usages.join(', ')}) do not include ${usage}`);
}

function generateKey(alg, extractable, usages) {
  const name = algName(alg);
  let length;
  if (name === 'HMAC') length = alg.length || DIGESTS[hashName(alg.hash)][1] * 8;
  else if (AES.includes(name)) length = alg.length;
  else throw unsupported(`generateKey for ${name} (volley has HMAC, AES-GCM, AES-CBC and AES-CTR)`);
  if (!length || length % 8) throw new Error(`generateKey ${name}: \`length\` must be a multiple of 8 bits`);
  const bytes = new Uint8Array(length / 8);
  getRandomValues(bytes);
  return new CryptoKey(keyAlgorithm(alg, bytes), extractable, usages, bytes);
}

function importKey(format, data, alg, extractable, usages) {
  let bytes;
  if (format === 'raw') bytes = bytesOf(data, 'importKey');
  else if (format === 'jwk') {
    if (!data || data.kty !== 'oct' || typeof data.k !== 'string') throw new Error('importKey jwk: volley imports secret keys (kty "oct" with "k")');
    bytes = unb64url(data.k);
  } else throw unsupported(`importKey in format ${JSON.stringify(format)} (volley has raw and jwk secret keys)`);
  return new CryptoKey(keyAlgorithm(alg, bytes), extractable, usages, bytes);
}

function exportKey(format, key) {
  if (!(key instanceof CryptoKey)) throw new TypeError('exportKey: not a CryptoKey');
  if (!key.extractable) throw new Error('exportKey: the key is not extractable');
  if (format === 'raw') return buffer(key._bytes);
  if (format === 'jwk') {
    const a = key.algorithm;
    const alg = a.name === 'HMAC' ? `HS${a.hash.name.slice(4)}` : `A${a.length}${a.name.slice(4)}`;
    return { kty: 'oct', k: b64url(key._bytes), alg, ext: key.extractable, key_ops: key.usages.slice() };
  }
  throw unsupported(`exportKey in format ${JSON.stringify(format)} (volley has raw and jwk)`);
}

function sign(alg, key, data) {
  const name = algName(alg);
  if (name !== 'HMAC') throw unsupported(`sign with ${name} (volley signs with HMAC)`);
  needs(key, 'sign', 'HMAC');
  return buffer(hmac(key.algorithm.hash.name, key._bytes, bytesOf(data, 'sign')));
}

function verify(alg, key, signature, data) {
  const name = algName(alg);
  if (name !== 'HMAC') throw unsupported(`verify with ${name} (volley verifies HMAC)`);
  needs(key, 'verify', 'HMAC');
  const want = hmac(key.algorithm.hash.name, key._bytes, bytesOf(data, 'verify'));
  const got = bytesOf(signature, 'verify');
  let diff = want.length ^ got.length;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ (got[i] || 0);
  return diff === 0;
}

function cipher(usage, alg, key, data) {
  const name = algName(alg);
  if (!AES.includes(name)) throw unsupported(`${usage} with ${name} (volley has AES-GCM, AES-CBC and AES-CTR)`);
  needs(key, usage, name);
  const input = bytesOf(data, usage);
  const enc = usage === 'encrypt';
  if (name === 'AES-GCM') {
    const iv = bytesOf(alg.iv, 'AES-GCM iv');
    const aad = alg.additionalData === undefined ? new Uint8Array(0) : bytesOf(alg.additionalData, 'AES-GCM additionalData');
    const tagBits = alg.tagLength === undefined ? 128 : alg.tagLength;
    return buffer(enc ? aes.gcmEncrypt(key._bytes, iv, input, aad, tagBits / 8) : aes.gcmDecrypt(key._bytes, iv, input, aad, tagBits / 8));
  }
  if (name === 'AES-CBC') {
    const iv = bytesOf(alg.iv, 'AES-CBC iv');
    return buffer(enc ? aes.cbcEncrypt(key._bytes, iv, input) : aes.cbcDecrypt(key._bytes, iv, input));
  }
  const counter = bytesOf(alg.counter, 'AES-CTR counter');
  return buffer(aes.ctr(key._bytes, counter, alg.length, input));
}

let randomByte;
/** Fills `array` with random bytes from the VU's generator (k6: at most 65,536 bytes). */
export function getRandomValues(array) {
  if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
    throw new TypeError('crypto.getRandomValues: expected an integer TypedArray');
  }
  if (array.byteLength > 65536) {
    const e = new Error(`crypto.getRandomValues: ${array.byteLength} bytes is more than 65536`);
    e.name = 'QuotaExceededError';
    throw e;
  }
  const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < view.length; i++) view[i] = randomByte();
  return array;
}

function randomUUID() {
  const b = getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const NAMED = ['deriveBits', 'deriveKey', 'wrapKey', 'unwrapKey'];

/** The `crypto` object; `byte()` gives one random byte (the VU's generator). */
export function webcrypto(byte) {
  randomByte = byte;
  const subtle = {
    digest: (alg, data) => later(() => {
      const name = algName(alg);
      if (!DIGESTS[name]) throw unsupported(`digest with ${name} (SHA-1, SHA-256, SHA-384, SHA-512)`);
      return buffer(DIGESTS[name][0](bytesOf(data, 'digest')));
    }),
    generateKey: (alg, extractable, usages) => later(() => generateKey(alg, extractable, usages)),
    importKey: (format, data, alg, extractable, usages) => later(() => importKey(format, data, alg, extractable, usages)),
    exportKey: (format, key) => later(() => exportKey(format, key)),
    sign: (alg, key, data) => later(() => sign(alg, key, data)),
    verify: (alg, key, signature, data) => later(() => verify(alg, key, signature, data)),
    encrypt: (alg, key, data) => later(() => cipher('encrypt', alg, key, data)),
    decrypt: (alg, key, data) => later(() => cipher('decrypt', alg, key, data)),
  };
  for (const m of NAMED) subtle[m] = () => later(() => { throw unsupported(m); });
  return { getRandomValues, randomUUID, subtle, CryptoKey };
}
