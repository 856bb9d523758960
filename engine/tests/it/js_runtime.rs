//! volley's own QuickJS runtime (`sdk/js/runtime`): what `volley build`
//! hands componentize-qjs by default. Its QuickJS makes the snapshot's values
//! immortal, so the cycle collector and the VUs' memory are what these
//! tests look at.

use std::process::{Command, Stdio};

use crate::support::{Reap, scratch, standalone_auction, standalone_http, volley_with};

/// Garbage in cycles, every object of it holding SDK objects (which are
/// immortal: they were alive at the build's snapshot), is still collected:
/// 400 iterations make about 150 MB of it, past the VU's 64 MiB of linear
/// memory, and not one iteration runs out.
#[test]
fn cyclic_garbage_holding_immortal_sdk_objects_is_collected() {
    let dir = scratch("jsrt", "cycles");
    let script = dir.join("cycles.js");
    std::fs::write(
        &script,
        r#"import { http, check, vu } from 'volley';

export default function () {
  let ring = null, first = null;
  for (let i = 0; i < 2000; i++) {
    const node = { i, pad: 'x'.repeat(48) + i, sdk: http, check, next: ring };
    node.self = node;
    if (first === null) first = node;
    ring = node;
  }
  first.next = ring; // one cycle through all 2,000
  const kept = { ring, vu };
  check(kept, { 'the ring is whole': (k) => k.ring.next.i === 1998 && k.ring.sdk === http });
}
"#,
    )
    .unwrap();
    let (doc, stderr) = run_summary(&script, 400, &[]);
    let metrics = &doc["metrics"];
    assert_eq!(
        metrics["iterations"]["values"]["count"].as_f64(),
        Some(400.0),
        "{doc}"
    );
    let checks = &metrics["checks"]["values"];
    assert_eq!(checks["passes"].as_f64(), Some(400.0), "{checks}");
    assert_eq!(checks["fails"].as_f64(), Some(0.0), "{checks}");
    assert!(!stderr.to_lowercase().contains("out of memory"), "{stderr}");
}

/// An owned resource the engine hands to JavaScript (a `socket`, a
/// producer, a `reply`...) is dropped when the script lets go of it: each of
/// 40 iterations of one VU opens a WebSocket, pings it and never closes it,
/// then asks the auction target how many sockets are open. Dropped at the
/// end of its iteration, the socket closes, so the target never sees more
/// than the current one and one or two still closing; before, each stayed
/// open until the VU ended (40 at the last iteration). Every other
/// iteration drops its socket by hand, twice, and then its `ping` throws.
#[test]
fn sockets_javascript_lets_go_of_are_closed() {
    let dir = scratch("jsrt", "drop");
    let (_rt, server) = standalone_auction();
    let script = dir.join("sockets.js");
    std::fs::write(
        &script,
        r#"import { http, ws, vu, Trend } from 'volley';

const open = new Trend('sockets_open');
export default function () {
  const api = vu.param('api');
  const s = ws.Socket.connect(`${api.replace('http://', 'ws://')}/ws/items/1`,
    { headers: '', subprotocols: [], timeoutMs: 3000, tags: [] });
  s.ping(3000);
  open.add(http.get(`${api}/stats`).json().viewers);
  if (typeof s.drop !== 'function' || s.drop !== s[Symbol.dispose]) throw new Error('no drop()');
  if (vu.iteration % 2) {
    s[Symbol.dispose]();
    s.drop(); // again: nothing
    let threw = '';
    try { s.ping(1000); } catch (e) { threw = String(e); }
    if (!threw.includes('TypeError: socket.ping: this socket was dropped')) throw new Error(`ping after drop: ${threw}`);
  }
}
"#,
    )
    .unwrap();
    let doc = run_one_vu(&script, &server.url(), 40);
    let metrics = &doc["metrics"];
    let count = |m: &str| metrics[m]["values"]["count"].as_f64();
    assert_eq!(count("iterations"), Some(40.0), "{doc}");
    assert_eq!(count("iterations_failed").unwrap_or(0.0), 0.0, "{doc}");
    assert_eq!(count("ws_sessions"), Some(40.0), "{doc}");
    let most = metrics["sockets_open"]["values"]["max"].as_f64().unwrap();
    assert!(most <= 3.0, "{most} sockets open at once: {doc}");
    assert_eq!(server.stats().viewer_sessions, 40);
}

/// A bare `http.get` leaves its response in the engine (`send-url-held`)
/// and reads its parts when asked; the reply is dropped when the Response
/// is freed. So 1,500 requests an iteration lets go of are all held (the
/// VU's bound of 1,024 replies is never reached), and of 1,100 it keeps,
/// the first 1,024 are held and the rest come copied whole: every body is
/// the right one either way; and once they are let go of, the next is held
/// again, as is one with params (`send-held`). A response that sets a cookie comes copied (the jar takes it at
/// once), and the next request sends the cookie.
#[test]
fn responses_javascript_lets_go_of_release_their_replies() {
    let dir = scratch("jsrt", "replies");
    let (_rt, server) = standalone_http();
    let script = dir.join("replies.js");
    std::fs::write(
        &script,
        r#"import { http, check, vu, Response } from 'volley';

const held = (r) => Object.getPrototypeOf(r) !== Response.prototype;
// Each part in a function of its own: what its frame holds is gone when
// it returns.
function letGo(api) {
  let heldOnes = 0;
  let right = 0;
  for (let i = 0; i < 1500; i++) {
    const r = http.get(`${api}/echo/free?i=${i}`);
    if (held(r)) heldOnes++;
    if (r.status === 200 && r.json('query') === `i=${i}`) right++;
  }
  check(heldOnes, { 'all 1,500 let go of were held': (n) => n === 1500 });
  check(right, { 'all 1,500 let go of were right': (n) => n === 1500 });
}
function keep(api) {
  const kept = [];
  for (let i = 0; i < 1100; i++) kept.push(http.get(`${api}/echo/kept?i=${i}`));
  check(kept.filter(held).length, { '1,024 of 1,100 kept were held': (n) => n === 1024 });
  check(kept, {
    'every kept one is right': (k) => k.every((r, i) => r.status === 200 && r.json('query') === `i=${i}`
      && r.headers['Content-Type'].startsWith('application/json') && r.timings.duration >= 0
      && r.protocol === 'HTTP/1.1' && r.url === `${api}/echo/kept?i=${i}`),
  });
}
export default function () {
  const api = vu.param('api');
  letGo(api);
  keep(api);
  check(http.get(`${api}/echo/after`), { 'held again once let go of': (r) => held(r) && r.json('path') === '/echo/after' });
  // A request with params (`send-held`) is held as well, and shows what it sent.
  const sent = http.get(`${api}/echo/params`, { headers: { 'X-Seen': 'yes' }, tags: { kind: 'p' } });
  check(sent, { 'one with params is held': (r) => held(r) && r.json('headers')['x-seen'] === 'yes'
    && r.request.headers['X-Seen'] === 'yes' && r.url === `${api}/echo/params` && r.status === 200 });
  // `request` shows what was sent (made from the request record when read):
  // a header whose value holds ': ', the form body's own type, the body as
  // given; in a batch too.
  const form = { a: '1', b: 'x y' };
  const posted = http.post(`${api}/echo/form`, form, { headers: { 'X-Two': 'a: b' } });
  check(posted, { 'a post shows what it sent': (r) => r.status === 200 && r.json('headers')['x-two'] === 'a: b'
    && r.request.method === 'POST' && r.request.url === `${api}/echo/form` && r.request.body === form
    && r.request.headers['X-Two'] === 'a: b'
    && r.request.headers['Content-Type'] === 'application/x-www-form-urlencoded'
    && Object.keys(r.request.headers).length === 2 });
  const both = http.batch([['GET', `${api}/echo/b1`, null, { headers: { 'X-B': ' 1' } }], ['POST', `${api}/echo/b2`, 'text']]);
  check(both, { 'a batch shows what each sent': (rs) => rs[0].status === 200 && rs[1].status === 200
    && rs[0].request.headers['X-B'] === ' 1' && rs[0].request.body === null && rs[0].request.method === 'GET'
    && rs[1].request.body === 'text' && rs[1].request.method === 'POST'
    && Object.keys(rs[1].request.headers).length === 0 && rs[1].request.url === `${api}/echo/b2` });
  // `headers`: any case finds a name; two responses with the same header
  // text share their names until one is written to, which then has its own.
  const twins = [http.get(`${api}/echo/same`), http.get(`${api}/echo/same`)];
  check(twins, { 'headers read in any case, written alone': ([a, b]) => {
    const ha = a.headers;
    const hb = b.headers;
    const keys = Object.keys(ha);
    const read = ha['content-type'] === ha['Content-Type'] && ha['Content-Type'].startsWith('application/json')
      && 'CONTENT-TYPE' in ha && keys.includes('Content-Type') && !('X-None' in ha) && ha['X-None'] === undefined
      && JSON.parse(JSON.stringify(ha))['Content-Type'] === ha['Content-Type'];
    ha['X-Mine'] = 'm';
    delete ha['Content-Type'];
    let n = 0;
    for (const k in hb) if (k) n++;
    return read && ha['x-mine'] === 'm' && ha['Content-Type'] === undefined
      && !Object.keys(ha).includes('Content-Type') && Object.keys(ha).includes('X-Mine')
      && hb['X-Mine'] === undefined && hb['content-type'].startsWith('application/json')
      && Object.keys(hb).length === keys.length && n === keys.length
      && hb.hasOwnProperty('Content-Type') && !hb.hasOwnProperty('content-type');
  } });
  // A header that cannot be sent is refused by name, though the same name,
  // or the same text as a value, went out before.
  const refused = (headers) => {
    try { http.get(`${api}/echo/bad`, { headers }); return 'sent'; } catch (e) { return String(e.message); }
  };
  check(refused({ 'X-Seen': 'a\nb' }), { 'a value with a line break is refused': (m) => m.startsWith('header "X-Seen"') });
  check(refused({ 'X-Two': 'a\rb' }), { 'and with a carriage return': (m) => m.startsWith('header "X-Two"') });
  check(refused({ 'a: b': 'x' }), { "a name with ': ' sent as a value is refused": (m) => m.startsWith('header "a: b"') });
  check(refused({ '': 'x' }), { 'an empty name is refused': (m) => m.startsWith('header ""') });
  if (vu.iteration === 1) {
    // The last iteration: from here on the VU has a cookie, and none of its
    // requests is bare.
    check(http.get(`${api}/cookie/sid/1`), { 'a cookie comes copied': (r) => !held(r) && r.status === 200 });
    check(http.get(`${api}/echo/next`), { 'and is sent next': (r) => r.json('headers').cookie === 'sid=1' });
  }
}
"#,
    )
    .unwrap();
    let doc = run_one_vu(&script, &server.url(), 2);
    // 1,500 + 1,100 + 7 requests an iteration and 2 more, each seen by the target.
    assert_clean_run(&doc, 2, 28, 2 * 2607 + 2);
    assert_eq!(server.stats().requests, 2 * 2607 + 2);
}

/// A one-tag list is made once and shared by the requests and samples
/// that carry the same tag (the SDK keeps the last eight): ten names in
/// turn, more than it keeps, each land in their own series, on requests
/// and on a counter, inside a group and out of it.
#[test]
fn one_tag_lists_are_shared_and_each_tag_lands_in_its_own_series() {
    let (_rt, server) = standalone_http();
    let dir = scratch("jsrt", "tags");
    let script = dir.join("tags.js");
    let mut thresholds = String::new();
    for i in 0..10 {
        thresholds += &format!(
            "'http_reqs{{name:t{i}}}': ['count==6'], 'seen{{kind:k{i}}}': ['count=={}'], ",
            6 * (i + 1)
        );
    }
    std::fs::write(
        &script,
        format!(
            r#"import http from 'k6/http';
import {{ check, group }} from 'k6';
import {{ Counter }} from 'k6/metrics';

export const options = {{ thresholds: {{ {thresholds}'http_reqs{{name:g}}': ['count==2'] }} }};
const seen = new Counter('seen');

export default function () {{
  for (let i = 0; i < 30; i++) {{
    const r = http.get(`${{__ENV.api}}/echo/t${{i % 10}}`, {{ tags: {{ name: `t${{i % 10}}` }} }});
    check(r, {{ 'status is 200': (r) => r.status === 200 }});
    seen.add((i % 10) + 1, {{ kind: `k${{i % 10}}` }});
  }}
  group('inside', () => {{
    http.get(`${{__ENV.api}}/echo/g`, {{ tags: {{ name: 'g' }} }});
  }});
}}
"#
        ),
    )
    .unwrap();
    let doc = run_one_vu(&script, &server.url(), 2);
    assert_clean_run(&doc, 2, 60, 62);
    assert_eq!(server.stats().requests, 62);
    let count = |m: &str| doc["metrics"][m]["values"]["count"].as_f64();
    for i in 0..10 {
        assert_eq!(
            count(&format!("http_reqs{{name:t{i}}}")),
            Some(6.0),
            "{doc}"
        );
        assert_eq!(
            count(&format!("seen{{kind:k{i}}}")),
            Some(6.0 * f64::from(i + 1)),
            "{doc}"
        );
    }
    assert_eq!(count("http_reqs{name:g}"), Some(2.0), "{doc}");
}

/// Text and its UTF-8 bytes under QuickJS, which has no TextEncoder or
/// TextDecoder (volley's runtime converts in C, `sdk/js/runtime/immortal.py`;
/// the SDK by hand on another QuickJS): a
/// body with two-, three- and four-byte characters, longer than one of the
/// decoder's chunks, arrives as sent and reads back the same; bytes that are
/// not UTF-8 read as text without throwing; a lone surrogate is encoded;
/// base64 (Uint8Array's own where the engine has it) and hex as k6 gives
/// them; digests and HMACs (in C in volley's runtime) as Python's give them.
#[test]
fn text_and_utf8_bytes_convert_both_ways_in_javascript() {
    let (_rt, server) = standalone_http();
    let dir = scratch("jsrt", "utf8");
    let script = dir.join("utf8.js");
    std::fs::write(
        &script,
        r#"import { http, check, vu, __encoder, __decoder } from 'volley';
import encoding from 'k6/encoding';
import crypto from 'k6/crypto';

export default function () {
  check(null, {
    'the runtime converts in C': () => typeof __volley_utf8_encode === 'function'
      && typeof __volley_utf8_decode === 'function' && !Object.keys(globalThis).includes('__volley_utf8_encode')
      && typeof Uint8Array.fromBase64 === 'function' && typeof new Uint8Array(1).toHex === 'function',
    'a part of a buffer decodes alone': () => __decoder.decode(__encoder.encode('ab\u00e9cd').subarray(2, 4)) === '\u00e9'
      && __decoder.decode(new Uint8Array(0)) === '' && __decoder.decode([104, 105]) === 'hi'
      && __decoder.decode(new Uint8Array([0x68, 0x69]).buffer) === 'hi' && __encoder.encode('').length === 0
      && __encoder.encode(12).join() === '49,50',
  });
  const api = vu.param('api');
  const text = `h\u00e9llo \u20ac \u{1F600} ${'x'.repeat(20000)} \u00e9`;
  const wide = http.post(`${api}/echo/utf8`, text);
  const plain = http.post(`${api}/echo/ascii`, 'plain text');
  check(wide, { 'a UTF-8 body arrives as sent and reads back': (r) => r.status === 200
    && r.json('body') === text && r.json('headers')['content-length'] === String(text.length + 6) });
  check(plain, { 'an ASCII body too': (r) => r.status === 200 && r.json('body') === 'plain text' });
  check(encoding.b64decode('/w==', 'std', 's'), { 'bytes that are not UTF-8 read as text': (t) => t === '\ufffd' });
  check(encoding.b64encode('\ud800x'), { 'a lone surrogate is encoded': (t) => t === '7aCAeA==' });
  check(encoding.b64encode('h\u00e9\u{1F600}'), { 'UTF-8 of a string': (t) => t === 'aMOp8J+YgA==' });
  check(null, {
    'base64 and hex, either way': () => encoding.b64decode('aGk', 'rawstd', 's') === 'hi' && encoding.b64encode('hi') === 'aGk='
      && encoding.b64encode(new Uint8Array([251, 255]).buffer, 'rawurl') === '-_8'
      && new Uint8Array(encoding.b64decode('-_8', 'rawurl')).join() === '251,255'
      && new Uint8Array(encoding.b64decode(' +/8= ')).join() === '251,255'
      && (() => { try { encoding.b64decode('a*b='); return false; } catch (e) { return String(e.message).includes('not base64: "*" at 1'); } })()
      && crypto.sha256('abc', 'hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
      && crypto.md5('', 'base64') === '1B2M2Y8AsgTpgAmY7PhCfg==',
    // Each length about a block's edge, each algorithm: the hex joined,
    // then hashed (the expected value from Python's hashlib).
    'md5, sha1 and sha256 at every padding edge': () => {
      let all = '';
      for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000]) {
        const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 255);
        for (const a of ['md5', 'sha1', 'sha256']) all += crypto[a](bytes.buffer, 'hex');
      }
      return typeof __volley_digest === 'function'
        && crypto.sha256(all, 'hex') === 'e35c800d1cff6a037d4f9ef57fdb2806d50e9aacc8b39bda65924581e3a58785'
        && crypto.md5('abc', 'hex') === '900150983cd24fb0d6963f7d28e17f72'
        && crypto.sha1('abc', 'hex') === 'a9993e364706816aba3e25717850c26c9cd0d89d';
    },
    'HMAC, a key longer than a block too': () => typeof __volley_hmac === 'function'
      && crypto.hmac('SHA-256', 'secret-key', 'GET\n/api/items\n0', 'hex') === '6a080b3aed457c9baaa0c2334216ba81d7d4f42f7c752a296b7a11bfe32f11a5'
      && crypto.hmac('sha1', 'k'.repeat(100), 'msg', 'hex') === 'a3f6e90d792b6ca5ed3bfc556a4aa73d62d7cae4'
      && crypto.hmac('md5', 'key', 'The quick brown fox', 'hex') === 'd006bc60c92ff6e54f615474fe835e02',
  });
}
"#,
    )
    .unwrap();
    let doc = run_one_vu(&script, &server.url(), 2);
    assert_clean_run(&doc, 2, 20, 4);
    assert_eq!(server.stats().requests, 4);
}

/// The runtime's fast paths (`sdk/js/runtime/immortal.py`: strict
/// equality decided by the tags, an object literal's new field, a new
/// function's `length` and `name`, `Object.keys`' array, the binding's
/// record fields, the global `undefined` read as the value, JSON.stringify's
/// runs of characters that need no escape) give what QuickJS's generic code gives, in the cases
/// they take and in those they leave to it: every check here must pass.
#[test]
fn the_runtime_s_fast_paths_keep_javascript_s_semantics() {
    let (_rt, server) = standalone_http();
    let dir = scratch("jsrt", "fast-paths");
    let script = dir.join("fast.js");
    std::fs::write(
        &script,
        r#"import { http, check, vu } from 'volley';

class Fields { f = 1; g = 'two'; }
const proto = { inherited: 'yes' };

export default function () {
  const o = { a: 1 };
  const s = Symbol('s');
  const built = 'ab' + String(vu.iteration >= 0 ? 'c' : 'd');
  const f = () => 0;
  const many = {};
  for (let i = 0; i < 100; i++) many['k' + i] = i;
  const hidden = { a: 1 };
  Object.defineProperty(hidden, 'h', { value: 2, enumerable: false });
  hidden[Symbol('x')] = 3;
  const extended = (x, y) => x + y;
  extended.extra = 1;
  const r = http.post(`${vu.param('api')}/echo/fast`, 'x');
  check(null, {
    'numbers': () => 1 === 1.0 && 0.1 + 0.2 !== 0.3 && NaN !== NaN && -0 === 0 && !(1 === '1') && 2 ** 40 === 2 ** 40,
    'undefined, null and booleans': () => undefined === undefined && null === null && null !== undefined
      && true === true && true !== false && !(false === 0) && !(undefined === null) && !('' === false),
    'objects and symbols by identity': () => o === o && o !== { ...o } && s === s && Symbol('a') !== Symbol('a')
      && Symbol.for('a') === Symbol.for('a') && f === f && f !== (() => 0),
    'strings by content': () => built === 'abc' && built !== 'abd' && 'abc' === built && '' !== undefined
      && 'x' !== null && '1' !== 1 && 'a'.repeat(300) === 'a'.repeat(300) && 'a'.repeat(300) !== 'a'.repeat(299) + 'b',
    'bigints': () => 1n === 1n && 2n ** 70n === 2n ** 70n && !(1n === 1),
    'a repeated literal key keeps its last value, in its first place': () => ({ a: 1, b: 2, a: 3 }).a === 3
      && Object.keys({ a: 1, b: 2, a: 3 }).join() === 'a,b',
    'literal fields in order': () => JSON.stringify({ x: 1, y: 'two', z: [3] }) === '{"x":1,"y":"two","z":[3]}'
      && Object.keys({ 2: 'b', 1: 'a', x: 'c' }).join() === '1,2,x',
    'class fields, __proto__ and getters in literals': () => new Fields().g === 'two' && Object.keys(new Fields()).join() === 'f,g'
      && ({ __proto__: proto, q: 1 }).inherited === 'yes' && Object.keys({ __proto__: proto, q: 1 }).join() === 'q'
      && ({ get g() { return 5; } }).g === 5,
    'a function\'s length and name': () => ((a, b) => 0).length === 2 && (function named(x) { return x; }).name === 'named'
      && (() => 0).name === '' && f.name === 'f' && Object.keys(f).length === 0
      && Object.getOwnPropertyDescriptor(f, 'name').configurable === true
      && Object.getOwnPropertyDescriptor(f, 'length').writable === false
      && Object.keys(extended).join() === 'extra' && extended.length === 2,
    'Object.keys and its kin': () => Object.keys(many).length === 100 && Object.keys(many)[99] === 'k99'
      && Object.keys(hidden).join() === 'a' && Object.getOwnPropertyNames(hidden).join() === 'a,h'
      && Object.keys([5, 6]).join() === '0,1' && Object.keys('ab').join() === '0,1' && Object.keys({}).length === 0
      && Object.entries({ a: 1 }).join() === 'a,1' && Object.values({ a: 1, b: 2 }).join() === '1,2',
    'the binding\'s records': () => r.status === 200 && r.json('body') === 'x' && r.timings.duration >= 0
      && typeof r.headers === 'object',
    'JSON.stringify escapes what it must, in runs or not': () => JSON.stringify({ 'a"b': 'q"\\\n\t\u0001\u007f\u00e9 end', n: 'x'.repeat(300) })
        === '{"a\\"b":"q\\"\\\\\\n\\t\\u0001\u007f\u00e9 end","n":"' + 'x'.repeat(300) + '"}'
      && JSON.stringify('\u{1F600}\ud800"') === '"\u{1F600}\\ud800\\""' && JSON.stringify('') === '""'
      && JSON.stringify(['\\', '"', 'plain']) === '["\\\\","\\"","plain"]',
    'undefined is the value unless a scope declares it': () => {
      var absent;
      const shadowed = (undefined) => undefined === 3 && undefined !== void 0;
      function declared() { var undefined = 5; return () => undefined; }
      return absent === undefined && undefined === void 0 && typeof undefined === 'undefined' && 0 !== undefined
        && shadowed(3) && declared()() === 5 && globalThis.undefined === undefined
        && Object.getOwnPropertyDescriptor(globalThis, 'undefined').writable === false
        && (0, eval)('undefined') === undefined
        && new Function('with ({ undefined: 7 }) return undefined')() === 7
        && new Function('eval("var undefined = 8"); return undefined')() === 8
        && new Function('return undefined')() === undefined;
    },
  });
}
"#,
    )
    .unwrap();
    let doc = run_one_vu(&script, &server.url(), 2);
    assert_clean_run(&doc, 2, 26, 2);
    assert_eq!(server.stats().requests, 2);
}

/// QuickJS makes some properties on first use: each built-in method, a
/// function's `prototype`. volley's runtime makes them all at the end of
/// the build's initialization, so that a VU making one does not write the
/// snapshot's pages (`sdk/js/runtime/immortal.py`,
/// `js_make_autoinit_properties`). They must be what QuickJS would have
/// made later: the same values, attributes and identities, in every
/// iteration; every check here must pass.
#[test]
fn properties_quickjs_makes_on_first_use_are_what_they_were() {
    let dir = scratch("jsrt", "autoinit");
    let script = dir.join("autoinit.js");
    std::fs::write(
        &script,
        r#"import { check } from 'volley';

function Plain(x) { this.x = x; }

export default function () {
  function Fresh() {}
  check(null, {
    'a function\'s prototype': () => {
      const d = Object.getOwnPropertyDescriptor(Plain, 'prototype');
      return d.writable && !d.enumerable && !d.configurable && Plain.prototype.constructor === Plain
        && Object.getPrototypeOf(new Plain(1)) === Plain.prototype && new Plain(1) instanceof Plain
        && Object.keys(Plain.prototype).length === 0 && Object.getOwnPropertyNames(Plain.prototype).join() === 'constructor';
    },
    'a function made in the iteration has its own': () => Fresh.prototype !== Plain.prototype
      && Fresh.prototype.constructor === Fresh && !(new Fresh() instanceof Plain),
    'a built-in method': () => {
      const d = Object.getOwnPropertyDescriptor(String.prototype, 'padStart');
      return typeof d.value === 'function' && d.writable && !d.enumerable && d.configurable
        && d.value.name === 'padStart' && d.value.length === 1 && 'a'.padStart(3, '-') === '--a'
        && [[1], [2]].flatMap((x) => x).join() === '1,2' && Array.prototype.map === [].map;
    },
    'Symbol.hasInstance stays read-only': () => {
      const d = Object.getOwnPropertyDescriptor(Function.prototype, Symbol.hasInstance);
      return typeof d.value === 'function' && !d.writable && !d.configurable && !d.enumerable;
    },
    'a built-in the script replaces, then restores': () => {
      const before = Array.prototype.at;
      Array.prototype.at = function () { return 'mine'; };
      const replaced = [1].at(0) === 'mine';
      Array.prototype.at = before;
      return replaced && [1].at(0) === 1 && Array.prototype.at === before;
    },
    'properties in their places': () => Object.getOwnPropertyNames(Plain).join() === 'length,name,prototype'
      && Object.getOwnPropertyNames(Math).slice(0, 4).join() === 'min,max,abs,floor' && Object.keys(Math).length === 0
      && Object.getOwnPropertyNames(String.prototype).slice(0, 3).join() === 'length,at,charCodeAt',
  });
}
"#,
    )
    .unwrap();
    let (doc, _) = run_summary(&script, 2, &[]);
    assert_clean_run(&doc, 2, 12, 0);
}

/// volley's runtime keeps the last shapes freed (a shape: an object's list
/// of property names and attributes, shared by objects with the same
/// list), so that an object made on every iteration finds its shape from
/// the last (`sdk/js/runtime/immortal.py`, `js_free_shape0`). Objects with
/// one shape keep their own values, order and attributes; one changed
/// (a property added, deleted, made read-only, frozen) changes no other.
/// A kept shape holds its prototype, so only shapes of immortal
/// prototypes are kept: an object whose prototype was made in the last
/// iteration must have let go of it when it died (a `WeakRef` to it is
/// empty; with every shape kept, that check failed 59 times in 60).
#[test]
fn shapes_kept_for_the_next_iteration_keep_javascript_s_semantics() {
    let dir = scratch("jsrt", "shapes");
    let script = dir.join("shapes.js");
    std::fs::write(
        &script,
        r#"import { check, vu } from 'volley';

const shared = { kind: 'shared' };
let lastProto;

export default function () {
  const i = vu.iteration;
  const protoGone = lastProto === undefined || lastProto.deref() === undefined;
  const mine = { tag: i };
  const made = Object.create(mine);
  made.x = i;
  lastProto = new WeakRef(mine);
  class Local { constructor() { this.v = i; } twice() { return this.v * 2; } }
  const l = new Local();
  const a = { x: i, y: 'two' };
  const b = { x: i + 1, y: 'three' };
  const swapped = { y: 'y', x: 'x' };
  const grown = { x: 1, y: 2 };
  grown.z = 3;
  const shrunk = { x: 1, y: 2 };
  delete shrunk.x;
  const fixed = { x: 1, y: 2 };
  Object.defineProperty(fixed, 'x', { writable: false });
  const frozen = Object.freeze({ x: 1, y: 2 });
  const inherits = { __proto__: shared, x: i };
  check(null, {
    'a prototype made in the last iteration is gone': () => protoGone,
    'each object its own values': () => a.x === i && a.y === 'two' && b.x === i + 1 && b.y === 'three'
      && made.tag === i && made.x === i && Object.keys(made).join() === 'x',
    'keys in the order they were added': () => Object.keys(swapped).join() === 'y,x' && Object.keys(a).join() === 'x,y'
      && JSON.stringify(grown) === '{"x":1,"y":2,"z":3}' && Object.keys(shrunk).join() === 'y',
    'a property changed on one object only': () => {
      const other = { x: 1, y: 2 };
      other.x = 5;
      let threw = false;
      try { (function () { 'use strict'; fixed.x = 9; })(); } catch (e) { threw = e instanceof TypeError; }
      return threw && fixed.x === 1 && other.x === 5 && Object.isFrozen(frozen) && !Object.isFrozen(other)
        && Object.getOwnPropertyDescriptor(other, 'x').writable && Object.keys(other).join() === 'x,y';
    },
    'prototypes': () => inherits.kind === 'shared' && !('kind' in a) && l.v === i && l.twice() === 2 * i
      && l instanceof Local && Object.getPrototypeOf(l) === Local.prototype,
  });
}
"#,
    )
    .unwrap();
    let (doc, _) = run_summary(&script, 60, &[]);
    assert_clean_run(&doc, 60, 300, 0);
}

/// A plain (not async) default function that leaves work behind still has
/// it run before its iteration ends, as k6 does: a timer, a promise
/// reaction, an unhandled rejection (which fails the iteration). The runner
/// skips the event loop on the way out only when nothing is left, and an
/// iteration after a failed one starts clean.
#[test]
fn a_plain_function_s_timers_reactions_and_rejections_run_before_its_iteration_ends() {
    let dir = scratch("jsrt", "plain-loop");
    let script = dir.join("plain.js");
    std::fs::write(
        &script,
        r#"import { check, vu } from 'volley';

export default function () {
  const i = vu.iteration;
  if (i % 4 === 1) {
    setTimeout(() => check(null, { 'a timer a plain function set ran': () => true }), 5);
  } else if (i % 4 === 2) {
    Promise.resolve(i).then((v) => check(v, { 'a reaction a plain function queued ran': (x) => x === i }));
  } else if (i % 4 === 3) {
    Promise.reject(new Error('left unhandled'));
  } else {
    check(null, { 'nothing left to run': () => true });
  }
}
"#,
    )
    .unwrap();
    let (doc, _) = run_summary(&script, 8, &[]);
    let metrics = &doc["metrics"];
    let count = |m: &str| metrics[m]["values"]["count"].as_f64();
    assert_eq!(count("iterations"), Some(8.0), "{doc}");
    // Iterations 3 and 7 left a rejection nobody handled.
    assert_eq!(count("iterations_failed"), Some(2.0), "{doc}");
    let checks = |field: &str| metrics["checks"]["values"][field].as_f64();
    assert_eq!(checks("passes"), Some(6.0), "{doc}");
    assert_eq!(checks("fails"), Some(0.0), "{doc}");
    let groups = &doc["root_group"]["checks"];
    for name in [
        "a timer a plain function set ran",
        "a reaction a plain function queued ran",
        "nothing left to run",
    ] {
        assert_eq!(groups[name]["passes"].as_f64(), Some(2.0), "{name}: {doc}");
    }
}

/// The runtime hands a short string the engine sends again as the last
/// one's QuickJS string (the runner's entry name, every iteration): the
/// strings must still be what was sent, each time, whatever the script
/// does with the one it got before (appending to it included).
#[test]
fn strings_the_engine_sends_again_are_still_what_it_sent() {
    let dir = scratch("jsrt", "strings-again");
    let script = dir.join("again.js");
    std::fs::write(
        &script,
        r#"import { check, vu } from 'volley';

export default function () {
  const a = vu.param('same');
  let b = vu.param('same');
  b += '!';
  check(null, {
    'the same text twice': () => a === 'text' && vu.param('same') === a && b === 'text!' && a.length === 4,
    'other texts between': () => vu.param('other') === 'other text' && vu.param('same') === 'text'
      && vu.param('num') === '123' && vu.param('num') === '123' && vu.param('same') !== vu.param('other'),
    'long and non-ASCII texts': () => vu.param('long') === 'x'.repeat(40) && vu.param('long') === vu.param('long')
      && vu.param('wide') === 'h\u00e9llo' && vu.param('wide').length === 5 && vu.param('empty') === '',
    'an appended copy leaves the next one alone': () => { let s = vu.param('same'); s += s; return s === 'texttext' && vu.param('same') === 'text'; },
  });
}
"#,
    )
    .unwrap();
    let long = format!("long={}", "x".repeat(40));
    let (doc, _) = run_summary(
        &script,
        3,
        &[
            "-e",
            "same=text",
            "-e",
            "other=other text",
            "-e",
            "num=123",
            "-e",
            &long,
            "-e",
            "wide=h\u{e9}llo",
            "-e",
            "empty=",
        ],
    );
    assert_clean_run(&doc, 3, 12, 0);
}

/// A runtime file built from volley's runtime (`VOLLEY_QJS_RUNTIME=<file>`,
/// e.g. a rebuilt one being measured) gets the SDK's held responses, as
/// the default runtime does, so that it is measured on the same path.
#[test]
fn a_runtime_file_built_from_volley_s_gets_held_responses() {
    let dir = scratch("jsrt", "heldfile");
    let (_rt, server) = standalone_http();
    std::fs::write(
        dir.join("scenario.js"),
        r#"import { http, check, vu } from 'volley';
export default function () {
  const r = http.get(`${vu.param('api')}/health`);
  check(r, {
    'status is 200': (r) => r.status === 200,
    'held by the engine': (r) => r._reply !== undefined,
  });
}
"#,
    )
    .unwrap();
    let runtime = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sdk/js/runtime/quickjs.wasm"
    );
    let (code, stdout, stderr) = volley_with(
        &["build", dir.to_str().unwrap()],
        &[("VOLLEY_QJS_RUNTIME", runtime)],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("runtime {runtime}")),
        "{stdout}{stderr}"
    );
    let component = std::path::PathBuf::from(stdout.lines().last().unwrap().trim());
    assert!(component.is_file(), "{stdout}");
    let doc = run_one_vu(&component, &server.url(), 3);
    assert_clean_run(&doc, 3, 6, 3);
    assert_eq!(server.stats().requests, 3);
}

/// A run's summary says: `iterations` iterations, none failed; `passes`
/// checks, none failed; `requests` requests.
fn assert_clean_run(doc: &serde_json::Value, iterations: u32, passes: u32, requests: u32) {
    let metrics = &doc["metrics"];
    let count = |m: &str| metrics[m]["values"]["count"].as_f64();
    assert_eq!(count("iterations"), Some(f64::from(iterations)), "{doc}");
    assert_eq!(count("iterations_failed").unwrap_or(0.0), 0.0, "{doc}");
    let checks = |field: &str| metrics["checks"]["values"][field].as_f64();
    assert_eq!(checks("passes"), Some(f64::from(passes)), "{doc}");
    assert_eq!(checks("fails"), Some(0.0), "{doc}");
    // A run without requests has no `http_reqs` at all.
    assert_eq!(
        count("http_reqs").unwrap_or(0.0),
        f64::from(requests),
        "{doc}"
    );
}

/// Runs `script` with one VU for `iterations` against the target at
/// `api` (the script's `api` parameter); its summary export, once the run
/// passed.
fn run_one_vu(script: &std::path::Path, api: &str, iterations: u32) -> serde_json::Value {
    let host = api.trim_start_matches("http://");
    let api = format!("api={api}");
    run_summary(script, iterations, &["-e", &api, "--allow-host", host]).0
}

/// Runs `script` with one VU for `iterations`, `args` added to the run's
/// flags; its summary export and its stderr, once the run passed.
fn run_summary(
    script: &std::path::Path,
    iterations: u32,
    args: &[&str],
) -> (serde_json::Value, String) {
    let export = script.with_extension("summary.json");
    let iterations = iterations.to_string();
    let mut all = vec![
        "run",
        script.to_str().unwrap(),
        "--vus",
        "1",
        "--iterations",
        &iterations,
        "--quiet",
        "--summary-export",
        export.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (code, _, stderr) = volley_with(&all, &[]);
    assert_eq!(code, 0, "{stderr}");
    let doc = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    (doc, stderr)
}

/// The point of the runtime: sleeping VUs share the snapshot's pages
/// instead of each writing its own copy. The same script built on the
/// runtime componentize-qjs bundles (`VOLLEY_QJS_RUNTIME=cli`) takes about
/// 1.7x the memory per VU (docs/PERFORMANCE.md); here volley's must take
/// under 0.55x of it, measured as the growth of volley's proportional set
/// size from 10 to 160 VUs (0.46x since the built-in methods are made
/// before the snapshot: 179 against 389 KiB; 0.57x before, 223 against
/// 390, when each VU wrote the pages they sit on: the build before fails). Also: the build names the runtime it used, and
/// a runtime path that is not there is refused by name.
#[test]
fn vus_on_volley_s_runtime_share_the_snapshot_pages() {
    let dir = scratch("jsrt", "pss");
    let (_rt, server) = standalone_http();
    let source = r#"import { http, check, sleep, vu } from 'volley';
let url;
export function initVu() { url = vu.param('url'); }
export default function () {
  const r = http.get(url);
  check(r, { 'status is 200': (r) => r.status === 200 });
  sleep(1);
}
"#;
    let mut per_vu = Vec::new();
    for runtime in ["volley", "cli"] {
        let folder = dir.join(runtime);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("scenario.js"), source).unwrap();
        let (code, stdout, stderr) = volley_with(
            &["build", folder.to_str().unwrap()],
            &[("VOLLEY_QJS_RUNTIME", runtime)],
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
        let says = if runtime == "volley" {
            "volley runtime"
        } else {
            "its own runtime"
        };
        assert!(
            stdout.contains(says) || stderr.contains(says),
            "{runtime}: {stdout}{stderr}"
        );
        let component = folder.join(format!("target/volley/{runtime}.wasm"));
        assert!(component.is_file(), "{}", component.display());
        let host = server.addr().to_string();
        let url = format!("http://{host}/health");
        // The first run compiles the component, and the compiler's memory
        // stays in the process: compile it here, outside the samples.
        let (code, _, stderr) = volley_with(
            &[
                "run",
                component.to_str().unwrap(),
                "--iterations",
                "1",
                "-e",
                &format!("url={url}"),
                "--allow-host",
                &host,
            ],
            &[],
        );
        assert_eq!(code, 0, "{stderr}");
        let few = pss_kib(&component, &url, &host, 10);
        let many = pss_kib(&component, &url, &host, 160);
        per_vu.push((many as f64 - few as f64) / 150.0);
        eprintln!("{runtime}: PSS {few} KiB at 10 VUs, {many} KiB at 160");
    }
    let (volley, cli) = (per_vu[0], per_vu[1]);
    assert!(
        volley < 0.55 * cli,
        "PSS per sleeping VU: volley's runtime {volley:.0} KiB, the CLI's {cli:.0} KiB"
    );

    let (code, stdout, stderr) = volley_with(
        &["build", dir.join("volley").to_str().unwrap(), "--force"],
        &[("VOLLEY_QJS_RUNTIME", "/nonexistent/runtime.wasm")],
    );
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("VOLLEY_QJS_RUNTIME=/nonexistent/runtime.wasm: no such file"),
        "{stderr}"
    );
}

/// volley's proportional set size in KiB while `vus` VUs of `component`
/// sleep between requests to `url` (on `host`): read 3 s into a 5 s run.
/// Without the mappings of volley's own binary and of shared libraries:
/// other tests' volley processes share those pages, and how many run at
/// the moment of each sample must not move the result.
fn pss_kib(component: &std::path::Path, url: &str, host: &str, vus: u32) -> u64 {
    let child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .arg("run")
        .arg(component)
        .args(["--vus", &vus.to_string(), "--duration", "5s", "--quiet"])
        .args(["--no-summary", "-e", &format!("url={url}")])
        .args(["--allow-host", host])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Reap(child);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", child.0.id()))
        .expect("volley is still running 3 s into a 5 s run");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_volley")).unwrap();
    let mut counted = true;
    let mut pss = 0;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A mapping's first line: `start-end perms offset dev inode [path]`.
        if fields.first().is_some_and(|f| f.contains('-')) && fields.len() >= 5 {
            let path = fields.get(5).copied().unwrap_or("");
            counted = path != exe.to_str().unwrap() && !path.contains(".so");
        } else if counted && fields.first() == Some(&"Pss:") {
            pss += fields[1].parse::<u64>().expect("a Pss value in KiB");
        }
    }
    assert!(pss > 0, "no Pss lines in smaps");
    pss
}
