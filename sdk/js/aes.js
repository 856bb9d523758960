// AES (FIPS 197) in JavaScript with the three WebCrypto modes volley's
// `crypto.subtle` offers: GCM (NIST SP 800-38D), CBC with PKCS#7 padding
// and CTR (SP 800-38A). For load-test payloads, not for secrets at rest: it
// makes no attempt at constant time.

const SBOX = new Uint8Array(256);
const INV = new Uint8Array(256);
{
  // The S-box from GF(2^8) inverses and the affine map.
  let p = 1;
  let q = 1;
  do {
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6)) ^ ((q << 3) | (q >> 5)) ^ ((q << 4) | (q >> 4));
    SBOX[p] = (x ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) INV[SBOX[i]] = i;
}

const xt = (b) => ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
function mul(a, b) {
  let r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a = xt(a);
    b >>= 1;
  }
  return r;
}

/** Round keys: (rounds + 1) * 16 bytes. */
function expand(key) {
  const nk = key.length / 4;
  const rounds = nk + 6;
  const w = new Uint8Array((rounds + 1) * 16);
  w.set(key);
  let rcon = 1;
  for (let i = nk; i < (rounds + 1) * 4; i++) {
    let t = w.slice((i - 1) * 4, i * 4);
    if (i % nk === 0) {
      t = Uint8Array.of(SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]);
      rcon = xt(rcon);
    } else if (nk > 6 && i % nk === 4) {
      t = t.map((b) => SBOX[b]);
    }
    for (let j = 0; j < 4; j++) w[i * 4 + j] = w[(i - nk) * 4 + j] ^ t[j];
  }
  return { w, rounds };
}

function encryptBlock({ w, rounds }, input) {
  const s = input.slice(0, 16);
  for (let i = 0; i < 16; i++) s[i] ^= w[i];
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < 16; i++) s[i] = SBOX[s[i]];
    // ShiftRows: row k of the column-major state moves left by k.
    const t = s.slice();
    for (let c = 0; c < 4; c++) for (let k = 0; k < 4; k++) s[c * 4 + k] = t[((c + k) % 4) * 4 + k];
    if (r !== rounds) {
      for (let c = 0; c < 4; c++) {
        const [a0, a1, a2, a3] = s.subarray(c * 4, c * 4 + 4);
        s[c * 4] = xt(a0) ^ xt(a1) ^ a1 ^ a2 ^ a3;
        s[c * 4 + 1] = a0 ^ xt(a1) ^ xt(a2) ^ a2 ^ a3;
        s[c * 4 + 2] = a0 ^ a1 ^ xt(a2) ^ xt(a3) ^ a3;
        s[c * 4 + 3] = xt(a0) ^ a0 ^ a1 ^ a2 ^ xt(a3);
      }
    }
    for (let i = 0; i < 16; i++) s[i] ^= w[r * 16 + i];
  }
  return s;
}

function decryptBlock({ w, rounds }, input) {
  const s = input.slice(0, 16);
  for (let i = 0; i < 16; i++) s[i] ^= w[rounds * 16 + i];
  for (let r = rounds - 1; r >= 0; r--) {
    const t = s.slice();
    for (let c = 0; c < 4; c++) for (let k = 0; k < 4; k++) s[((c + k) % 4) * 4 + k] = t[c * 4 + k];
    for (let i = 0; i < 16; i++) s[i] = INV[s[i]];
    for (let i = 0; i < 16; i++) s[i] ^= w[r * 16 + i];
    if (r !== 0) {
      for (let c = 0; c < 4; c++) {
        const [a0, a1, a2, a3] = s.subarray(c * 4, c * 4 + 4);
        s[c * 4] = mul(a0, 14) ^ mul(a1, 11) ^ mul(a2, 13) ^ mul(a3, 9);
        s[c * 4 + 1] = mul(a0, 9) ^ mul(a1, 14) ^ mul(a2, 11) ^ mul(a3, 13);
        s[c * 4 + 2] = mul(a0, 13) ^ mul(a1, 9) ^ mul(a2, 14) ^ mul(a3, 11);
        s[c * 4 + 3] = mul(a0, 11) ^ mul(a1, 13) ^ mul(a2, 9) ^ mul(a3, 14);
      }
    }
  }
  return s;
}

function checkKey(key) {
  if (![16, 24, 32].includes(key.length)) throw new Error(`AES: a key is 128, 192 or 256 bits, not ${key.length * 8}`);
  return expand(key);
}

export function cbcEncrypt(key, iv, data) {
  if (iv.length !== 16) throw new Error('AES-CBC: iv must be 16 bytes');
  const k = checkKey(key);
  const n = 16 - (data.length % 16);
  const padded = new Uint8Array(data.length + n);
  padded.set(data);
  padded.fill(n, data.length);
  const out = new Uint8Array(padded.length);
  let prev = iv;
  for (let at = 0; at < padded.length; at += 16) {
    const block = padded.slice(at, at + 16);
    for (let i = 0; i < 16; i++) block[i] ^= prev[i];
    prev = encryptBlock(k, block);
    out.set(prev, at);
  }
  return out;
}

export function cbcDecrypt(key, iv, data) {
  if (iv.length !== 16) throw new Error('AES-CBC: iv must be 16 bytes');
  if (!data.length || data.length % 16) throw new Error('AES-CBC: the ciphertext is not a whole number of blocks');
  const k = checkKey(key);
  const out = new Uint8Array(data.length);
  let prev = iv;
  for (let at = 0; at < data.length; at += 16) {
    const block = data.subarray(at, at + 16);
    const plain = decryptBlock(k, block);
    for (let i = 0; i < 16; i++) out[at + i] = plain[i] ^ prev[i];
    prev = block;
  }
  const n = out[out.length - 1];
  if (n < 1 || n > 16 || out.subarray(out.length - n).some((b) => b !== n)) throw new Error('AES-CBC: bad padding (wrong key or iv?)');
  return out.slice(0, out.length - n);
}

/** CTR: the low `bits` bits of the 16-byte `counter` count blocks. */
export function ctr(key, counter, bits, data) {
  if (counter.length !== 16) throw new Error('AES-CTR: counter must be 16 bytes');
  if (!(bits >= 1 && bits <= 128)) throw new Error('AES-CTR: length must be 1 to 128 bits');
  const k = checkKey(key);
  const c = counter.slice();
  const out = new Uint8Array(data.length);
  for (let at = 0; at < data.length; at += 16) {
    const ks = encryptBlock(k, c);
    for (let i = 0; i < 16 && at + i < data.length; i++) out[at + i] = data[at + i] ^ ks[i];
    // Increment the low `bits` bits, wrapping within them.
    let left = bits;
    for (let i = 15; i >= 0 && left > 0; i--) {
      const width = Math.min(8, left);
      const mask = (1 << width) - 1;
      const v = (c[i] & mask) + 1;
      c[i] = (c[i] & ~mask & 0xff) | (v & mask);
      left -= width;
      if (v <= mask) break;
    }
  }
  return out;
}

/** GF(2^128) product of two 16-byte blocks (GCM's bit order). */
function gmul(x, y) {
  const z = new Uint8Array(16);
  const v = y.slice();
  for (let i = 0; i < 128; i++) {
    if (x[i >> 3] & (0x80 >> (i & 7))) for (let j = 0; j < 16; j++) z[j] ^= v[j];
    const lsb = v[15] & 1;
    for (let j = 15; j > 0; j--) v[j] = (v[j] >> 1) | ((v[j - 1] & 1) << 7);
    v[0] >>= 1;
    if (lsb) v[0] ^= 0xe1;
  }
  return z;
}

function ghash(h, aad, ct) {
  let y = new Uint8Array(16);
  const feed = (data) => {
    for (let at = 0; at < data.length; at += 16) {
      for (let i = 0; i < 16 && at + i < data.length; i++) y[i] ^= data[at + i];
      y = gmul(y, h);
    }
  };
  feed(aad);
  feed(ct);
  const lens = new Uint8Array(16);
  const put = (n, at) => { for (let i = 0; i < 8; i++) lens[at + 7 - i] = Math.floor((n * 8) / 2 ** (8 * i)) & 255; };
  put(aad.length, 0);
  put(ct.length, 8);
  for (let i = 0; i < 16; i++) y[i] ^= lens[i];
  return gmul(y, h);
}

function gcmSetup(key, iv) {
  const k = checkKey(key);
  const h = encryptBlock(k, new Uint8Array(16));
  let j0;
  if (iv.length === 12) {
    j0 = new Uint8Array(16);
    j0.set(iv);
    j0[15] = 1;
  } else {
    if (!iv.length) throw new Error('AES-GCM: iv must not be empty');
    j0 = ghash(h, new Uint8Array(0), iv);
  }
  return { k, h, j0 };
}

function gctr(k, j0, data) {
  const c = j0.slice();
  const inc = () => { for (let i = 15; i >= 12; i--) if (++c[i] <= 255) break; else c[i] = 0; };
  const out = new Uint8Array(data.length);
  for (let at = 0; at < data.length; at += 16) {
    inc();
    const ks = encryptBlock(k, c);
    for (let i = 0; i < 16 && at + i < data.length; i++) out[at + i] = data[at + i] ^ ks[i];
  }
  return out;
}

function tagOf(k, h, j0, aad, ct, tagLen) {
  const s = ghash(h, aad, ct);
  const e = encryptBlock(k, j0);
  for (let i = 0; i < 16; i++) s[i] ^= e[i];
  return s.slice(0, tagLen);
}

function checkTag(tagLen) {
  if (![4, 8, 12, 13, 14, 15, 16].includes(tagLen)) throw new Error(`AES-GCM: tagLength ${tagLen * 8} (32, 64, 96 to 128 bits)`);
}

/** Ciphertext followed by the tag (as WebCrypto returns it). */
export function gcmEncrypt(key, iv, data, aad, tagLen) {
  checkTag(tagLen);
  const { k, h, j0 } = gcmSetup(key, iv);
  const ct = gctr(k, j0, data);
  const out = new Uint8Array(ct.length + tagLen);
  out.set(ct);
  out.set(tagOf(k, h, j0, aad, ct, tagLen), ct.length);
  return out;
}

export function gcmDecrypt(key, iv, data, aad, tagLen) {
  checkTag(tagLen);
  if (data.length < tagLen) throw new Error('AES-GCM: the ciphertext is shorter than its tag');
  const { k, h, j0 } = gcmSetup(key, iv);
  const ct = data.subarray(0, data.length - tagLen);
  const want = tagOf(k, h, j0, aad, ct, tagLen);
  let diff = 0;
  for (let i = 0; i < tagLen; i++) diff |= want[i] ^ data[ct.length + i];
  if (diff) {
    const e = new Error('AES-GCM: the tag does not match (wrong key, iv or data)');
    e.name = 'OperationError';
    throw e;
  }
  return gctr(k, j0, ct);
}
