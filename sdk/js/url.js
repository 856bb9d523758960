// `URL` and `URLSearchParams` for scripts that import them from
// jslib.k6.io's `url` module (QuickJS, like k6's runtime, has neither).
// Written after the WHATWG URL Standard's parser for what load tests use:
// special schemes (http, https, ws, wss, ftp, file) with user info, IPv4
// in any of its forms, IPv6, ports, dot segments and percent-encoding;
// other schemes with a host or an opaque path. Not done: international
// domain names are lowered and punycoded without the full IDNA mapping.

const DEFAULT_PORT = { 'http': 80, 'https': 443, 'ws': 80, 'wss': 443, 'ftp': 21, 'file': null };
const isSpecial = (scheme) => Object.prototype.hasOwnProperty.call(DEFAULT_PORT, scheme);

const invalid = (what) => new TypeError(`Invalid URL: ${what}`);

// The percent-encode sets, by their ASCII members (every code point outside
// U+0020..U+007E is in all of them).
const FRAGMENT = ' "<>`';
const QUERY = ' "#<>';
const SPECIAL_QUERY = `${QUERY}'`;
const PATH = `${QUERY}?\`{}`;
const USERINFO = `${PATH}/:;=@[\\]^|`;

function utf8Escape(ch) {
  try {
    return encodeURIComponent(ch);
  } catch {
    return '%EF%BF%BD'; // a lone surrogate: U+FFFD
  }
}

function encodeSet(text, set) {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x20 || c > 0x7e) out += utf8Escape(ch);
    else if (set.includes(ch)) out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** UTF-8 bytes to text, each malformed sequence as U+FFFD. */
function utf8Text(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (need === 0) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    let c = need > 0 ? b & (0x3f >> need) : 0;
    let n = 0;
    while (need > 0 && n < need) {
      const next = bytes[i + 1 + n];
      // The second byte's range rules out overlong forms and surrogates.
      const lo = n === 0 && b === 0xe0 ? 0xa0 : n === 0 && b === 0xf0 ? 0x90 : 0x80;
      const hi = n === 0 && b === 0xed ? 0x9f : n === 0 && b === 0xf4 ? 0x8f : 0xbf;
      if (next === undefined || next < lo || next > hi) break;
      c = (c << 6) | (next & 0x3f);
      n++;
    }
    if (need > 0 && n === need) {
      out += String.fromCodePoint(c);
      i += need + 1;
    } else {
      out += '\uFFFD';
      i += need > 0 ? n + 1 : 1;
    }
  }
  return out;
}

/** `%XX` escapes to the bytes they name, the rest as its UTF-8, read as UTF-8. */
function percentDecode(text) {
  if (!text.includes('%')) return text;
  const bytes = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const c = text.codePointAt(i);
    const ch = String.fromCodePoint(c);
    if (c < 0x80) bytes.push(c);
    else for (const hex of utf8Escape(ch).split('%').slice(1)) bytes.push(parseInt(hex, 16));
    i += ch.length;
  }
  return utf8Text(bytes);
}

// ------------------------------------------------------------------ hosts

function parseIpv4Number(part) {
  if (part === '') return NaN;
  let radix = 10;
  if (/^0[xX]/.test(part)) {
    part = part.slice(2);
    radix = 16;
    if (part === '') return 0;
  } else if (part.length > 1 && part[0] === '0') {
    part = part.slice(1);
    radix = 8;
  }
  const digits = radix === 16 ? /^[0-9A-Fa-f]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  return digits.test(part) ? parseInt(part, radix) : NaN;
}

/** Whether a domain's last label makes it an IPv4 address (then it must be one). */
function endsInNumber(domain) {
  const labels = domain.split('.');
  if (labels[labels.length - 1] === '') {
    if (labels.length === 1) return false;
    labels.pop();
  }
  const last = labels[labels.length - 1];
  return /^[0-9]+$/.test(last) || !Number.isNaN(parseIpv4Number(last)) && /^0[xX]/.test(last);
}

function parseIpv4(domain) {
  const parts = domain.split('.');
  if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop();
  if (parts.length > 4) throw invalid(`IPv4 address ${domain} has more than four parts`);
  const numbers = parts.map(parseIpv4Number);
  if (numbers.some(Number.isNaN)) throw invalid(`IPv4 address ${domain}`);
  const last = numbers.pop();
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) {
    throw invalid(`IPv4 address ${domain} is out of range`);
  }
  let address = last;
  numbers.forEach((n, i) => { address += n * 256 ** (3 - i); });
  const bytes = [];
  for (let i = 3; i >= 0; i--) bytes.push(Math.floor(address / 256 ** i) % 256);
  return bytes.join('.');
}

function parseIpv6(text) {
  const fail = () => invalid(`IPv6 address [${text}]`);
  const pieces = [0, 0, 0, 0, 0, 0, 0, 0];
  let at = 0;
  let compress = null;
  let i = 0;
  if (text[0] === ':') {
    if (text[1] !== ':') throw fail();
    i = 2;
    compress = ++at;
  }
  while (i < text.length) {
    if (at === 8) throw fail();
    if (text[i] === ':') {
      if (compress !== null) throw fail();
      i++;
      compress = ++at;
      continue;
    }
    const hex = /^[0-9A-Fa-f]{0,4}/.exec(text.slice(i))[0];
    if (text[i + hex.length] === '.') {
      // An IPv4 address in the last two pieces.
      if (at > 6) throw fail();
      const v4 = text.slice(i);
      if (!/^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/.test(v4)) throw fail();
      const b = v4.split('.').map(Number);
      pieces[at++] = b[0] * 256 + b[1];
      pieces[at++] = b[2] * 256 + b[3];
      i = text.length;
      break;
    }
    if (hex === '') throw fail();
    pieces[at++] = parseInt(hex, 16);
    i += hex.length;
    if (i < text.length) {
      if (text[i] !== ':' || i + 1 === text.length) throw fail();
      i++;
    }
  }
  if (compress !== null) {
    // The pieces after `::` move to the end.
    let swaps = at - compress;
    for (let k = 7; k !== 0 && swaps > 0; k--, swaps--) {
      const from = compress + swaps - 1;
      [pieces[k], pieces[from]] = [pieces[from], pieces[k]];
    }
  } else if (at !== 8) {
    throw fail();
  }
  // The longest run of two or more zero pieces is written `::`.
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    let n = 0;
    while (k + n < 8 && pieces[k + n] === 0) n++;
    if (n > bestLen) {
      best = k;
      bestLen = n;
    }
    k += n || 1;
  }
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === best) {
      out += k === 0 ? '::' : ':';
      k += bestLen - 1;
      continue;
    }
    out += pieces[k].toString(16) + (k < 7 ? ':' : '');
  }
  return `[${out}]`;
}

// Punycode (RFC 3492) for a label with code points outside ASCII.
function punycode(label) {
  const cps = [...label].map((ch) => ch.codePointAt(0));
  const digit = (d) => String.fromCharCode(d < 26 ? 97 + d : 22 + d);
  const adapt = (delta, points, first) => {
    delta = first ? Math.floor(delta / 700) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    for (; delta > 455; k += 36) delta = Math.floor(delta / 35);
    return k + Math.floor((36 * delta) / (delta + 38));
  };
  let out = cps.filter((c) => c < 0x80).map((c) => String.fromCharCode(c)).join('');
  const basic = out.length;
  let handled = basic;
  if (basic > 0) out += '-';
  let n = 128;
  let delta = 0;
  let bias = 72;
  while (handled < cps.length) {
    const m = Math.min(...cps.filter((c) => c >= n));
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of cps) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = 36; ; k += 36) {
        const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
        if (q < t) break;
        out += digit(t + ((q - t) % (36 - t)));
        q = Math.floor((q - t) / (36 - t));
      }
      out += digit(q);
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return `xn--${out}`;
}

const FORBIDDEN_HOST = /[\u0000\t\n\r #/:<>?@[\\\]^|]/;
const FORBIDDEN_DOMAIN = /[\u0000-\u001f\t\n\r #%/:<>?@[\\\]^|\u007f]/;

function parseHost(text, special) {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw invalid(`host ${text} has no closing ]`);
    return parseIpv6(text.slice(1, -1));
  }
  if (!special) {
    if (FORBIDDEN_HOST.test(text)) throw invalid(`host ${text} has a forbidden character`);
    return encodeSet(text, '');
  }
  let domain = percentDecode(text).normalize('NFC').toLowerCase();
  if (domain === '') throw invalid('empty host');
  if (/[^\u0000-\u007f]/.test(domain)) {
    domain = domain.replace(/[\u3002\uff0e\uff61]/g, '.')
      .split('.').map((label) => (/[^\u0000-\u007f]/.test(label) ? punycode(label) : label)).join('.');
  }
  if (FORBIDDEN_DOMAIN.test(domain)) throw invalid(`host ${text} has a forbidden character`);
  return endsInNumber(domain) ? parseIpv4(domain) : domain;
}

// ------------------------------------------------------------------ parser

const SCHEME = /^([A-Za-z][A-Za-z0-9+\-.]*):/;
const isSingleDot = (s) => s === '.' || s.toLowerCase() === '%2e';
const isDoubleDot = (s) => ['..', '.%2e', '%2e.', '%2e%2e'].includes(s.toLowerCase());
const isDriveLetter = (s) => /^[A-Za-z][:|]$/.test(s);

/** Adds a path's segments (`a/b/../c`) to `path`, resolving dot segments. */
function pushSegments(path, text, rec) {
  const slash = isSpecial(rec.scheme) ? /[/\\]/ : /\//;
  const segments = text.split(slash);
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (isDoubleDot(seg)) {
      if (!(rec.scheme === 'file' && path.length === 1 && isDriveLetter(path[0]))) path.pop();
      if (last) path.push('');
    } else if (isSingleDot(seg)) {
      if (last) path.push('');
    } else {
      if (rec.scheme === 'file' && path.length === 0 && isDriveLetter(seg)) seg = `${seg[0]}:`;
      path.push(encodeSet(seg, PATH));
    }
  });
}

/** `user:pass@host:port` into the record. */
function parseAuthority(rec, authority) {
  const special = isSpecial(rec.scheme);
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const info = authority.slice(0, at);
    const colon = info.indexOf(':');
    rec.username = encodeSet(colon < 0 ? info : info.slice(0, colon), USERINFO);
    rec.password = colon < 0 ? '' : encodeSet(info.slice(colon + 1), USERINFO);
    authority = authority.slice(at + 1);
  }
  const close = authority.lastIndexOf(']');
  const colon = authority.indexOf(':', close + 1);
  const host = colon < 0 ? authority : authority.slice(0, colon);
  const port = colon < 0 ? '' : authority.slice(colon + 1);
  if (rec.scheme === 'file') {
    const h = host === '' ? '' : parseHost(host, true);
    rec.host = h === 'localhost' ? '' : h;
    return;
  }
  if (host === '') {
    if (special || at >= 0 || port !== '') throw invalid(`${rec.scheme}: URL has no host`);
    rec.host = '';
    return;
  }
  rec.host = parseHost(host, special);
  setPort(rec, port, true);
}

function setPort(rec, port, strict) {
  if (port === '') {
    rec.port = null;
    return;
  }
  const digits = strict ? port : /^[0-9]*/.exec(port)[0];
  if (!/^[0-9]+$/.test(digits)) {
    if (strict) throw invalid(`port ${port} is not a number`);
    return;
  }
  const n = parseInt(digits, 10);
  if (n > 65535) {
    if (strict) throw invalid(`port ${port} is over 65535`);
    return;
  }
  rec.port = n === DEFAULT_PORT[rec.scheme] ? null : n;
}

function splitTail(text) {
  let fragment = null;
  let query = null;
  const hash = text.indexOf('#');
  if (hash >= 0) {
    fragment = text.slice(hash + 1);
    text = text.slice(0, hash);
  }
  const q = text.indexOf('?');
  if (q >= 0) {
    query = text.slice(q + 1);
    text = text.slice(0, q);
  }
  return { text, query, fragment };
}

function parse(input, base) {
  const source = String(input).replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
  const rec = { scheme: '', username: '', password: '', host: null, port: null, path: [], opaque: null, query: null, fragment: null };
  const scheme = SCHEME.exec(source);
  let rest = source;
  if (scheme) {
    rec.scheme = scheme[1].toLowerCase();
    rest = source.slice(scheme[0].length);
    // `http:foo` against an http base is relative to it.
    if (base && base.scheme === rec.scheme && isSpecial(rec.scheme) && rec.scheme !== 'file' && !/^[/\\]/.test(rest)) {
      return relative(rest, base, rec);
    }
  } else if (!base) {
    throw invalid(`${source} is relative and there is no base URL`);
  } else {
    return relative(rest, base, rec);
  }
  const special = isSpecial(rec.scheme);
  const { text, query, fragment } = splitTail(rest);
  rec.fragment = fragment === null ? null : encodeSet(fragment, FRAGMENT);
  if (special && rec.scheme !== 'file') {
    const body = text.replace(/^[/\\]*/, '');
    const end = body.search(/[/\\]/);
    parseAuthority(rec, end < 0 ? body : body.slice(0, end));
    if (end >= 0) pushSegments(rec.path, body.slice(end + 1), rec);
    if (rec.path.length === 0) rec.path.push('');
  } else if (rec.scheme === 'file') {
    const m = /^[/\\]{2}([^/\\]*)(.*)$/.exec(text);
    if (m && !isDriveLetter(m[1])) {
      parseAuthority(rec, m[1]);
      if (m[2]) pushSegments(rec.path, m[2].slice(1), rec);
    } else {
      rec.host = '';
      pushSegments(rec.path, text.replace(/^[/\\]+/, ''), rec);
    }
    if (rec.path.length === 0) rec.path.push('');
  } else if (text.startsWith('//')) {
    const body = text.slice(2);
    const end = body.indexOf('/');
    parseAuthority(rec, end < 0 ? body : body.slice(0, end));
    if (end >= 0) pushSegments(rec.path, body.slice(end + 1), rec);
  } else if (text.startsWith('/')) {
    pushSegments(rec.path, text.slice(1), rec);
  } else {
    rec.opaque = encodeSet(text, '');
  }
  rec.query = query === null ? null : encodeSet(query, special ? SPECIAL_QUERY : QUERY);
  return rec;
}

/** `input` (no scheme, or the base's own special scheme) against `base`. */
function relative(input, base, rec) {
  rec.scheme = base.scheme;
  const special = isSpecial(rec.scheme);
  const { text, query, fragment } = splitTail(input);
  rec.fragment = fragment === null ? null : encodeSet(fragment, FRAGMENT);
  const encodeQuery = (q) => (q === null ? null : encodeSet(q, special ? SPECIAL_QUERY : QUERY));
  if (base.opaque !== null) {
    if (text !== '' || query !== null || fragment === null) {
      throw invalid(`${input} cannot be resolved against ${serialize(base)}`);
    }
    return { ...base, path: [], fragment: rec.fragment };
  }
  const slash = special ? /^[/\\]/ : /^\//;
  const twoSlashes = special ? /^[/\\]{2}/ : /^\/\//;
  if (twoSlashes.test(text)) {
    // Another host, this scheme.
    return parse(`${rec.scheme}:${input}`, null);
  }
  rec.username = base.username;
  rec.password = base.password;
  rec.host = base.host;
  rec.port = base.port;
  if (slash.test(text)) {
    pushSegments(rec.path, text.slice(1), rec);
    if (rec.path.length === 0 && special) rec.path.push('');
    rec.query = encodeQuery(query);
    return rec;
  }
  rec.path = base.path.slice();
  if (text === '') {
    rec.query = query === null ? base.query : encodeQuery(query);
    return rec;
  }
  if (!(rec.scheme === 'file' && rec.path.length === 1 && isDriveLetter(rec.path[0]))) rec.path.pop();
  pushSegments(rec.path, text, rec);
  rec.query = encodeQuery(query);
  return rec;
}

function serializePath(rec) {
  if (rec.opaque !== null) return rec.opaque;
  // A path that would start with `//` on a URL without host reads as one.
  const guard = rec.host === null && rec.path.length > 1 && rec.path[0] === '' ? '/.' : '';
  return guard + rec.path.map((s) => `/${s}`).join('');
}

function serialize(rec, noFragment) {
  let out = `${rec.scheme}:`;
  if (rec.host !== null) {
    out += '//';
    if (rec.username !== '' || rec.password !== '') {
      out += rec.username + (rec.password !== '' ? `:${rec.password}` : '') + '@';
    }
    out += rec.host + (rec.port !== null ? `:${rec.port}` : '');
  }
  out += serializePath(rec);
  if (rec.query !== null) out += `?${rec.query}`;
  if (!noFragment && rec.fragment !== null) out += `#${rec.fragment}`;
  return out;
}

// ------------------------------------------------------------------ URLSearchParams

const LIST = Symbol('list');
const OWNER = Symbol('owner');
const REC = Symbol('record');
const PARAMS = Symbol('params');

function formEncode(text) {
  let out = '';
  for (const ch of text) {
    if (/^[A-Za-z0-9*\-._]$/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += ch.codePointAt(0) < 0x80 ? `%${ch.codePointAt(0).toString(16).toUpperCase().padStart(2, '0')}` : utf8Escape(ch);
  }
  return out;
}

function formDecode(text) {
  const list = [];
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    list.push([percentDecode(name.replace(/\+/g, ' ')), percentDecode(value.replace(/\+/g, ' '))]);
  }
  return list;
}

/** A string as JavaScript strings are turned into USVStrings: lone surrogates to U+FFFD. */
const usv = (v) => String(v).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\uFFFD');

export class URLSearchParams {
  constructor(init = '') {
    this[OWNER] = null;
    if (init instanceof URLSearchParams) {
      this[LIST] = init[LIST].map(([k, v]) => [k, v]);
    } else if (init !== null && typeof init === 'object' || typeof init === 'function') {
      if (typeof init[Symbol.iterator] === 'function') {
        this[LIST] = [...init].map((pair) => {
          const p = [...pair];
          if (p.length !== 2) throw new TypeError('URLSearchParams: each pair needs a name and a value');
          return [usv(p[0]), usv(p[1])];
        });
      } else {
        this[LIST] = Object.keys(init).map((k) => [usv(k), usv(init[k])]);
      }
    } else {
      const text = usv(init);
      this[LIST] = formDecode(text.startsWith('?') ? text.slice(1) : text);
    }
  }

  get size() { return this[LIST].length; }

  append(name, value) {
    this[LIST].push([usv(name), usv(value)]);
    this.#update();
  }

  delete(name, value) {
    name = usv(name);
    value = value === undefined ? undefined : usv(value);
    this[LIST] = this[LIST].filter(([k, v]) => !(k === name && (value === undefined || v === value)));
    this.#update();
  }

  get(name) {
    name = usv(name);
    const found = this[LIST].find(([k]) => k === name);
    return found ? found[1] : null;
  }

  getAll(name) {
    name = usv(name);
    return this[LIST].filter(([k]) => k === name).map(([, v]) => v);
  }

  has(name, value) {
    name = usv(name);
    value = value === undefined ? undefined : usv(value);
    return this[LIST].some(([k, v]) => k === name && (value === undefined || v === value));
  }

  set(name, value) {
    name = usv(name);
    value = usv(value);
    const first = this[LIST].findIndex(([k]) => k === name);
    if (first < 0) {
      this[LIST].push([name, value]);
    } else {
      this[LIST][first][1] = value;
      this[LIST] = this[LIST].filter(([k], i) => i <= first || k !== name);
    }
    this.#update();
  }

  sort() {
    // Stable, by UTF-16 code units, as the standard says.
    this[LIST] = this[LIST].map((p, i) => [p, i])
      .sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j))
      .map(([p]) => p);
    this.#update();
  }

  forEach(callback, thisArg) {
    for (const [k, v] of this[LIST]) callback.call(thisArg, v, k, this);
  }

  keys() { return this[LIST].map(([k]) => k)[Symbol.iterator](); }

  values() { return this[LIST].map(([, v]) => v)[Symbol.iterator](); }

  entries() { return this[LIST].map(([k, v]) => [k, v])[Symbol.iterator](); }

  [Symbol.iterator]() { return this.entries(); }

  toString() { return this[LIST].map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join('&'); }

  #update() {
    const url = this[OWNER];
    if (!url) return;
    const text = this.toString();
    url[REC].query = text === '' ? null : text;
  }
}

// ------------------------------------------------------------------ URL

export class URL {
  constructor(url, base) {
    const baseRec = base === undefined ? null : parse(base instanceof URL ? base.href : base, null);
    this[REC] = parse(url instanceof URL ? url.href : url, baseRec);
    const params = new URLSearchParams(this[REC].query || '');
    params[OWNER] = this;
    this[PARAMS] = params;
  }

  static canParse(url, base) {
    try {
      new URL(url, base); // eslint-disable-line no-new
      return true;
    } catch {
      return false;
    }
  }

  get href() { return serialize(this[REC]); }

  set href(value) {
    this[REC] = parse(value, null);
    this[PARAMS][LIST] = formDecode(this[REC].query || '');
  }

  get origin() {
    const rec = this[REC];
    if (isSpecial(rec.scheme) && rec.scheme !== 'file') {
      return `${rec.scheme}://${rec.host}${rec.port !== null ? `:${rec.port}` : ''}`;
    }
    if (rec.scheme === 'blob' && rec.opaque !== null) {
      try {
        const inner = new URL(rec.opaque);
        if (inner.protocol === 'http:' || inner.protocol === 'https:') return inner.origin;
      } catch {
        // not a URL inside: an opaque origin
      }
    }
    return 'null';
  }

  get protocol() { return `${this[REC].scheme}:`; }

  set protocol(value) {
    const m = /^([A-Za-z][A-Za-z0-9+\-.]*)/.exec(String(value));
    if (!m) return;
    const scheme = m[1].toLowerCase();
    const rec = this[REC];
    if (isSpecial(scheme) !== isSpecial(rec.scheme)) return;
    if (scheme === 'file' && (rec.username !== '' || rec.password !== '' || rec.port !== null)) return;
    if (rec.scheme === 'file' && rec.host === '') return;
    rec.scheme = scheme;
    if (rec.port === DEFAULT_PORT[scheme]) rec.port = null;
  }

  get username() { return this[REC].username; }

  set username(value) {
    const rec = this[REC];
    if (rec.host === null || rec.host === '' || rec.scheme === 'file') return;
    rec.username = encodeSet(usv(value), USERINFO);
  }

  get password() { return this[REC].password; }

  set password(value) {
    const rec = this[REC];
    if (rec.host === null || rec.host === '' || rec.scheme === 'file') return;
    rec.password = encodeSet(usv(value), USERINFO);
  }

  get host() {
    const rec = this[REC];
    if (rec.host === null) return '';
    return rec.port === null ? rec.host : `${rec.host}:${rec.port}`;
  }

  set host(value) { this.#setHost(String(value), true); }

  get hostname() { return this[REC].host === null ? '' : this[REC].host; }

  set hostname(value) { this.#setHost(String(value), false); }

  get port() { return this[REC].port === null ? '' : String(this[REC].port); }

  set port(value) {
    const rec = this[REC];
    if (rec.host === null || rec.host === '' || rec.scheme === 'file') return;
    setPort(rec, String(value), false);
  }

  get pathname() { return serializePath(this[REC]); }

  set pathname(value) {
    const rec = this[REC];
    if (rec.opaque !== null) return;
    const text = String(value).replace(/[\t\n\r]/g, '');
    rec.path = [];
    const slash = isSpecial(rec.scheme) ? /^[/\\]/ : /^\//;
    if (isSpecial(rec.scheme) || text !== '') pushSegments(rec.path, slash.test(text) ? text.slice(1) : text, rec);
  }

  get search() { return this[REC].query ? `?${this[REC].query}` : ''; }

  set search(value) {
    const rec = this[REC];
    const text = String(value).replace(/[\t\n\r]/g, '');
    if (text === '') {
      rec.query = null;
      this[PARAMS][LIST] = [];
      return;
    }
    const q = text.startsWith('?') ? text.slice(1) : text;
    rec.query = encodeSet(q, isSpecial(rec.scheme) ? SPECIAL_QUERY : QUERY);
    this[PARAMS][LIST] = formDecode(q);
  }

  get searchParams() { return this[PARAMS]; }

  get hash() { return this[REC].fragment ? `#${this[REC].fragment}` : ''; }

  set hash(value) {
    const text = String(value).replace(/[\t\n\r]/g, '');
    if (text === '') {
      this[REC].fragment = null;
      return;
    }
    this[REC].fragment = encodeSet(text.startsWith('#') ? text.slice(1) : text, FRAGMENT);
  }

  toString() { return this.href; }

  toJSON() { return this.href; }

  #setHost(value, withPort) {
    const rec = this[REC];
    if (rec.opaque !== null) return;
    const special = isSpecial(rec.scheme);
    let text = value.replace(/[\t\n\r]/g, '');
    const end = text.search(special ? /[/\\?#]/ : /[/?#]/);
    if (end >= 0) text = text.slice(0, end);
    const close = text.lastIndexOf(']');
    const colon = text.indexOf(':', close + 1);
    const host = colon < 0 ? text : text.slice(0, colon);
    if (colon >= 0 && !withPort) return;
    if (host === '' && special) return;
    let parsed;
    try {
      parsed = host === '' ? '' : parseHost(host, special);
    } catch {
      return;
    }
    rec.host = rec.scheme === 'file' && parsed === 'localhost' ? '' : parsed;
    if (colon >= 0) setPort(rec, text.slice(colon + 1), false);
  }
}

export const k6url = { URL, URLSearchParams };
