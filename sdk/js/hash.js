// Hash functions in JavaScript for the k6 layer (k6/crypto, WebCrypto's
// digest and HMAC, HTTP digest authentication): SHA-1, SHA-256, SHA-384,
// SHA-512 and MD5 over a Uint8Array, each returning a Uint8Array. No host
// call: the guest hashes what it signs without a round trip (MD5, SHA-1 and
// SHA-256 in C where volley's runtime has them).

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

// volley's runtime hashes in C (`__volley_digest`, sdk/js/runtime): an
// HMAC-SHA256 of a short text cost about 82,000 bytecode instructions here.
const NATIVE = typeof __volley_digest === 'function' ? __volley_digest : undefined;

export function sha256(bytes) {
  if (NATIVE && bytes instanceof Uint8Array) return NATIVE('sha256', bytes);
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

export function sha1(bytes) {
  if (NATIVE && bytes instanceof Uint8Array) return NATIVE('sha1', bytes);
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

export function md5(bytes) {
  if (NATIVE && bytes instanceof Uint8Array) return NATIVE('md5', bytes);
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


// SHA-512 and SHA-384 on BigInt words (64-bit arithmetic the simple way;
// their constants are the first primes' roots, computed once).
const M64 = (1n << 64n) - 1n;

function iroot(n, k) {
  // Integer k-th root by Newton's method (n > 0).
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / Number(k)) + 1);
  for (;;) {
    const y = ((k - 1n) * x + n / x ** (k - 1n)) / k;
    if (y >= x) return x;
    x = y;
  }
}

let K512;
let IV512;
let IV384;
function constants512() {
  if (K512) return;
  const primes = [];
  for (let n = 2; primes.length < 80; n++) if (primes.every((p) => n % p)) primes.push(n);
  K512 = primes.map((p) => iroot(BigInt(p) << 192n, 3n) & M64);
  IV512 = primes.slice(0, 8).map((p) => iroot(BigInt(p) << 128n, 2n) & M64);
  IV384 = primes.slice(8, 16).map((p) => iroot(BigInt(p) << 128n, 2n) & M64);
}

function sha512core(bytes, iv, outLen) {
  constants512();
  const len = bytes.length;
  const total = (((len + 16) >> 7) + 1) << 7;
  const p = new Uint8Array(total);
  p.set(bytes);
  p[len] = 0x80;
  const bits = len * 8;
  for (let i = 0; i < 8; i++) p[total - 1 - i] = Math.floor(bits / 2 ** (8 * i)) & 255;
  const h = iv.slice();
  const r = (x, n) => ((x >> n) | (x << (64n - n))) & M64;
  const w = new Array(80);
  for (let at = 0; at < total; at += 128) {
    for (let t = 0; t < 16; t++) {
      let v = 0n;
      for (let j = 0; j < 8; j++) v = (v << 8n) | BigInt(p[at + t * 8 + j]);
      w[t] = v;
    }
    for (let t = 16; t < 80; t++) {
      const s0 = r(w[t - 15], 1n) ^ r(w[t - 15], 8n) ^ (w[t - 15] >> 7n);
      const s1 = r(w[t - 2], 19n) ^ r(w[t - 2], 61n) ^ (w[t - 2] >> 6n);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & M64;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 80; t++) {
      const t1 = (hh + (r(e, 14n) ^ r(e, 18n) ^ r(e, 41n)) + ((e & f) ^ (~e & M64 & g)) + K512[t] + w[t]) & M64;
      const t2 = ((r(a, 28n) ^ r(a, 34n) ^ r(a, 39n)) + ((a & b) ^ (a & c) ^ (b & c))) & M64;
      hh = g; g = f; f = e; e = (d + t1) & M64; d = c; c = b; b = a; a = (t1 + t2) & M64;
    }
    [a, b, c, d, e, f, g, hh].forEach((v, j) => { h[j] = (h[j] + v) & M64; });
  }
  const out = new Uint8Array(outLen);
  for (let i = 0; i < outLen; i++) out[i] = Number((h[i >> 3] >> BigInt(56 - 8 * (i & 7))) & 255n);
  return out;
}

export function sha512(bytes) { constants512(); return sha512core(bytes, IV512, 64); }
export function sha384(bytes) { constants512(); return sha512core(bytes, IV384, 48); }
