// HTTP digest authentication (RFC 7616) for k6's `params.auth: 'digest'`:
// the user and password come from the URL (`http://user:pass@host/...`);
// the first request goes without credentials and its 401's
// `WWW-Authenticate: Digest ...` challenge is answered by a second one, as
// k6 does (both are requests in the metrics; the 401 counts as expected).

import { md5, sha256 } from './hash.js';

const HASHES = { MD5: md5, 'SHA-256': sha256 };

/** `Digest realm="x", qop="auth,auth-int", ...` -> { realm, qop, ... }, or undefined if not Digest. */
export function parseChallenge(header) {
  const m = /^\s*Digest\s+(.*)$/is.exec(String(header || ''));
  if (!m) return undefined;
  const out = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  let p;
  while ((p = re.exec(m[1])) !== null) out[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return out;
}

function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''); }

/**
 * The `Authorization` header answering challenge `c` for `method` on `uri`
 * (path and query). `cnonce` is random hex; `encode` makes UTF-8 bytes.
 */
export function authorization(c, { method, uri, user, password, cnonce, encode }) {
  const alg = (c.algorithm || 'MD5').toUpperCase();
  const sess = alg.endsWith('-SESS');
  const fn = HASHES[sess ? alg.slice(0, -5) : alg];
  if (!fn) throw new Error(`params.auth 'digest': the server asks for algorithm ${c.algorithm}, volley answers MD5 and SHA-256 (and their -sess forms)`);
  const H = (s) => hex(fn(encode(s)));
  const qops = (c.qop || '').split(',').map((q) => q.trim()).filter(Boolean);
  if (qops.length && !qops.includes('auth')) {
    throw new Error(`params.auth 'digest': the server offers qop ${c.qop}; volley answers qop=auth (not auth-int)`);
  }
  const nc = '00000001';
  let ha1 = H(`${user}:${c.realm || ''}:${password}`);
  if (sess) ha1 = H(`${ha1}:${c.nonce}:${cnonce}`);
  const ha2 = H(`${method}:${uri}`);
  const response = qops.length ? H(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`) : H(`${ha1}:${c.nonce}:${ha2}`);
  const q = (s) => `"${String(s).replace(/["\\]/g, '\\$&')}"`;
  const parts = [`username=${q(user)}`, `realm=${q(c.realm || '')}`, `nonce=${q(c.nonce || '')}`, `uri=${q(uri)}`, `algorithm=${c.algorithm || 'MD5'}`];
  if (qops.length) parts.push('qop=auth', `nc=${nc}`, `cnonce=${q(cnonce)}`);
  parts.push(`response=${q(response)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${q(c.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}
