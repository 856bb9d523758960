// k6/http as a k6 user writes it: every request kind, params, bodies,
// responses, selectors, headers, cookies and batches. BASE_URL is the
// embedded demo service; ECHO_URL a server that echoes what it receives
// and sets cookies (the test starts it).
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: 1,
  iterations: 2,
  thresholds: { checks: ['rate==1'] },
};

const BASE = __ENV.BASE_URL;
const ECHO = __ENV.ECHO_URL;

export default function () {
  const health = http.get(`${BASE}/health`, { tags: { name: 'health' }, timeout: '10s' });
  check(health, {
    'get: status 200': (r) => r.status === 200,
    'get: json()': (r) => r.json().status === 'ok',
    'get: header canonical': (r) => r.headers['Content-Type'].indexOf('application/json') === 0,
    'get: timings': (r) => r.timings.duration >= r.timings.waiting && r.timings.waiting >= 0,
    'get: phases within the duration': (r) => r.timings.tls_handshaking === 0
      && r.timings.sending + r.timings.waiting + r.timings.receiving <= r.timings.duration + 0.001,
    // The VU's first request opens its connection; the next iteration's reuses it.
    'get: connecting on a new connection only': (r) => (__ITER === 0) === (r.timings.connecting > 0),
    'get: url': (r) => r.url === `${BASE}/health`,
  });

  const doc = http.get(`${ECHO}/json`);
  check(doc, {
    'json: a.b': (r) => r.json('a.b') === 'c',
    'json: items.1.id': (r) => r.json('items.1.id') === 2,
    'json: items.#': (r) => r.json('items.#') === 3,
    'json: missing': (r) => r.json('a.nope') === undefined,
  });

  const form = http.post(`${ECHO}/echo`, { b: 'x y', a: '1' });
  check(form, {
    'form: encoded': (r) => r.json('body') === 'a=1&b=x+y',
    'form: content type': (r) => r.json('contentType') === 'application/x-www-form-urlencoded',
  });
  // A body with a file is multipart/form-data: a part for each field, a
  // file's with its name and type (application/octet-stream and a timestamp
  // name when none is given). k6 sends the parts in any order (volley in
  // the object's), so they are compared as a set.
  const upload = http.post(`${ECHO}/echo`, {
    note: 'n 1',
    upload: http.file('hello\nworld', 'greeting.txt', 'text/plain'),
    bin: http.file(new Uint8Array([65, 66]).buffer),
  });
  const boundary = String(upload.json('contentType')).split('boundary=')[1];
  const parts = String(upload.json('body')).split(`--${boundary}`);
  check(upload, {
    'multipart: content type and boundary': (r) => /^multipart\/form-data; boundary=[0-9a-f]{60}$/.test(r.json('contentType')),
    'multipart: the parts': () => parts.length === 5 && parts[0] === '' && parts[4] === '--\r\n'
      && parts.slice(1, 4).sort().join('|') === [
        '\r\nContent-Disposition: form-data; name="bin"; filename="TIME"\r\nContent-Type: application/octet-stream\r\n\r\nAB\r\n',
        '\r\nContent-Disposition: form-data; name="note"\r\n\r\nn 1\r\n',
        '\r\nContent-Disposition: form-data; name="upload"; filename="greeting.txt"\r\nContent-Type: text/plain\r\n\r\nhello\nworld\r\n',
      ].join('|').replace('TIME', (parts.join('').match(/name="bin"; filename="([0-9]+)"/) || [])[1]),
  });
  // http.url: the URL with its values (requests are named by the template).
  const id = 7;
  check(http.get(http.url`${ECHO}/echo?id=${id}`), {
    'http.url: the URL with its values': (r) => r.status === 200 && r.url === `${ECHO}/echo?id=7`,
  });
  const raw = http.post(`${ECHO}/echo`, JSON.stringify({ n: 1 }), { headers: { 'Content-Type': 'application/json', 'X-Trace': 't-1' } });
  check(raw, {
    'string body: as is': (r) => r.json('body') === '{"n":1}',
    'string body: header sent': (r) => r.json('trace') === 't-1',
    'echo: header canonical': (r) => r.headers['X-Echo'] === 'yes',
  });
  // A params literal made anew for each request, some alike, some not:
  // each request sends its own URL and headers, and shows them.
  const sent = [[0, 't-2'], [0, 't-2'], [0, 't-3'], [1, 't-3'], [1, 't-3']]
    .map(([i, t]) => http.get(`${ECHO}/echo?i=${i}`, { headers: { 'X-Trace': t }, tags: { name: 'echo-trace' } }));
  check(sent, {
    'params alike and not: each its own headers': (s) => s.map((r) => r.json('trace')).join() === 't-2,t-2,t-3,t-3,t-3',
    'params alike and not: each its own URL': (s) => s.map((r) => `${r.request.url.slice(-3)} ${r.request.headers['X-Trace']}`).join() === 'i=0 t-2,i=0 t-2,i=0 t-3,i=1 t-3,i=1 t-3',
  });

  for (const [name, res] of [
    ['put', http.put(`${ECHO}/echo`, 'p')],
    ['patch', http.patch(`${ECHO}/echo`, 'p')],
    ['del', http.del(`${ECHO}/echo`)],
    ['options', http.options(`${ECHO}/echo`)],
    ['request', http.request('POST', `${ECHO}/echo`, 'p')],
  ]) {
    check(res, { [`${name}: method`]: (r) => r.json('method') === (name === 'del' ? 'DELETE' : name === 'request' ? 'POST' : name.toUpperCase()) });
  }
  check(http.head(`${ECHO}/echo`), { 'head: 200': (r) => r.status === 200 });
  check(http.get(`${ECHO}/json`, { responseType: 'none' }), { 'responseType none: no body': (r) => r.body === null });
  check(http.get(`${ECHO}/json`, { responseType: 'binary' }), { 'responseType binary: bytes': (r) => r.body.byteLength > 10 });

  const set = http.get(`${ECHO}/cookies/set?flavour=oat`);
  check(set, {
    'cookies: res.cookies': (r) => r.cookies.flavour[0].value === 'oat' && r.cookies.session[0].value === 's-1',
  });
  const back = http.get(`${ECHO}/cookies`);
  check(back, {
    'cookies: jar sends them back': (r) => r.json('cookie').indexOf('flavour=oat') >= 0 && r.json('cookie').indexOf('session=s-1') >= 0,
  });
  // A login that sets its cookie and redirects: the cookie goes to the
  // next hop and stays in the jar; res.url is where the redirects ended.
  const login = http.get(`${ECHO}/cookies/login?hop=h1`);
  check(login, {
    'redirect: res.url is the last hop': (r) => r.url === `${ECHO}/cookies`,
    'redirect: its cookie went to the next hop': (r) => r.json('cookie').indexOf('hop=h1') >= 0,
  });
  check(http.get(`${ECHO}/cookies`), {
    'redirect: its cookie is in the jar': (r) => r.json('cookie').indexOf('hop=h1') >= 0,
  });
  check(http.batch([['GET', `${ECHO}/redirect/2`]]), {
    'batch: res.url after redirects': (r) => r[0].url === `${ECHO}/redirect/0`,
  });
  const jar = http.cookieJar();
  jar.set(ECHO, 'extra', 'e1');
  check(jar.cookiesForURL(ECHO), { 'cookies: jar.set': (c) => c.extra[0] === 'e1' });

  const responses = http.batch([
    ['GET', `${BASE}/health`],
    ['POST', `${ECHO}/echo`, 'b'],
    { method: 'GET', url: `${ECHO}/json` },
  ]);
  check(responses, {
    'batch: three answers': (r) => r.length === 3 && r[0].status === 200 && r[1].json('body') === 'b' && r[2].json('a.b') === 'c',
  });

  http.setResponseCallback(http.expectedStatuses(200, 404));
  check(http.get(`${ECHO}/missing`), { 'expected 404': (r) => r.status === 404 });
}
