// A k6 script that posts JSON, as most API tests do: a body made by
// `JSON.stringify`, a `Content-Type` header, a status check. For
// `K6_SCRIPT=bench/k6/post-json.js bench/js-rounds.sh`.
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const payload = JSON.stringify({ user_id: 1, channel_id: 2, content: 'hello from k6' });
  const r = http.post(__ENV.URL, payload, { headers: { 'Content-Type': 'application/json' } });
  check(r, { 'status is 200': (r) => r.status === 200 });
}
