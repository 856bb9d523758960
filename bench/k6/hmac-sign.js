// A k6 script that signs each request, as APIs with request signatures
// need: an HMAC-SHA256 of the method, path and a counter, sent as a header,
// and a status check. For `K6_SCRIPT=bench/k6/hmac-sign.js bench/js-rounds.sh`.
import http from 'k6/http';
import crypto from 'k6/crypto';
import { check } from 'k6';

export default function () {
  const sig = crypto.hmac('sha256', 'secret-key', `GET\n/api/items\n${__ITER}`, 'hex');
  const r = http.get(__ENV.URL, { headers: { 'X-Signature': sig } });
  check(r, { 'status is 200': (r) => r.status === 200 });
}
