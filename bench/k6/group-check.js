// A k6 script that puts its request and check in a `group`, as many do:
// every sample inside carries the group's tag. For
// `K6_SCRIPT=bench/k6/group-check.js bench/js-rounds.sh`.
import http from 'k6/http';
import { check, group } from 'k6';

export default function () {
  group('home', () => {
    const r = http.get(__ENV.URL);
    check(r, { 'status is 200': (r) => r.status === 200 });
  });
}
