// k6's side of the JavaScript comparison: the same logic as
// bench/lang/js/scenario.js's default entry.
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const r = http.get(__ENV.URL);
  check(r, { 'status is 200': (r) => r.status === 200 });
}
