// A k6 script as most are written: a request with params (a header and a
// `name` tag) and checks that read the response's headers. For
// `K6_SCRIPT=bench/k6/params-headers.js bench/js-rounds.sh`.
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const r = http.get(__ENV.URL, { headers: { 'X-Token': 'abc' }, tags: { name: 'home' } });
  check(r, {
    'status is 200': (r) => r.status === 200,
    'is text': (r) => r.headers['Content-Type'] === 'text/plain',
  });
}
