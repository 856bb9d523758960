// The language benchmark's scenario in JavaScript (see ../README.md); the
// same script as bench/k6/get-check.js is for k6.
import { http, check, sleep, vu, log } from 'volley';

let url;
export function initVu() { url = vu.param('url'); }

export function empty() {}

export default function () {
  const r = http.get(url);
  check(r, { 'status is 200': (r) => r.status === 200 });
}

// bench/vu-memory.sh: many VUs, each mostly asleep.
export function sleepy() {
  const r = http.get(url);
  check(r, { 'status is 200': (r) => r.status === 200 });
  sleep(1);
}

let blockStart = 0;
export function soak() {
  const r = http.get(url);
  check(r, { 'status is 200': (r) => r.status === 200 });
  const i = vu.iteration + 1;
  if (i % 10000 === 0) {
    const now = vu.nowUs();
    if (blockStart > 0) log.info(`soak iterations=${i} rate=${Math.round(1e10 / (now - blockStart))}/s`);
    blockStart = now;
  }
}
