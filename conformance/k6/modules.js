// k6's other modules, the init context and the globals, as a k6 user writes
// them: check/group/sleep/fail, custom metrics, SharedArray over open(),
// k6/execution, k6/encoding, k6/crypto, __ENV, __VU, __ITER and console.
import http from 'k6/http';
import { check, group, sleep, fail } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import encoding from 'k6/encoding';
import crypto from 'k6/crypto';

export const options = {
  scenarios: {
    modules: { executor: 'per-vu-iterations', vus: 2, iterations: 2 },
  },
  thresholds: { checks: ['rate==1'] },
};

// Init context: runs once in every VU.
const users = new SharedArray('users', () => JSON.parse(open('./users.json')));
const initVu = __VU;
const initRandom = Math.random();
const orders = new Counter('orders');
const queue = new Gauge('queue_depth');
const okRate = new Rate('ok_rate');
const think = new Trend('think_ms', true);

export function setup() {
  return { started: 'yes' };
}

export default function (data) {
  check(data, { 'setup data': (d) => d.started === 'yes' });
  check(users, { 'shared array from open()': (u) => u.length === 3 && u[1].name === 'grace' });
  check(null, {
    'init ran in this VU': () => initVu === __VU && initVu >= 1,
    'Math.random in init': () => initRandom >= 0 && initRandom < 1,
    'env': () => __ENV.GREETING === 'hello',
    'iter': () => __ITER === exec.vu.iterationInInstance,
    'execution': () => exec.vu.idInTest === __VU && exec.scenario.name === 'modules',
  });
  check(null, {
    'metrics add returns true': () => orders.add(1) === true && queue.add(3) === true && okRate.add(true) === true && think.add(12) === true,
  });
  group('checkout', () => {
    const r = http.get(`${__ENV.BASE_URL}/health`);
    check(r, { 'in group: 200': (x) => x.status === 200 });
  });
  check(null, {
    'b64': () => encoding.b64encode('hello') === 'aGVsbG8=' && encoding.b64decode('aGVsbG8=', 'std', 's') === 'hello',
    'b64 url': () => encoding.b64encode('\xff\xfe', 'rawurl') === 'w7_Dvg',
    'sha256': () => crypto.sha256('hello', 'hex') === '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    'md5': () => crypto.md5('hello', 'hex') === '5d41402abc4b2a76b9719d911017c592',
    'sha1': () => crypto.sha1('hello', 'hex') === 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d',
    'hmac': () => crypto.hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog', 'hex')
      === 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
  });
  console.log(`vu ${__VU} iteration ${__ITER}`);
  let failed = false;
  try {
    fail('expected');
  } catch (e) {
    failed = String(e).indexOf('expected') >= 0;
  }
  check(failed, { 'fail throws': (f) => f });
  sleep(0.01);
}
