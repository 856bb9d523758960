// A k6 script that alternates between two hosts (an API and its auth
// server, say): URL and URL2, two nginx on two ports. For
// `K6_SCRIPT=bench/k6/two-hosts.js bench/js-rounds.sh`.
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  check(http.get(__ENV.URL), { 'first host 200': (r) => r.status === 200 });
  check(http.get(__ENV.URL2), { 'second host 200': (r) => r.status === 200 });
}
