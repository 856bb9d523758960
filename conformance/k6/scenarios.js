// `export const options` is the plan: two scenarios with their own
// executors, entries and tags, and thresholds (one per scenario's tag).
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

export const options = {
  scenarios: {
    browse: { executor: 'shared-iterations', vus: 2, iterations: 6, exec: 'browse', tags: { flow: 'browse' } },
    buy: { executor: 'per-vu-iterations', vus: 1, iterations: 3, exec: 'buy', startTime: '0s', env: { ITEM: 'tea' } },
  },
  thresholds: {
    'http_reqs{flow:browse}': ['count==6'],
    checks: ['rate==1'],
  },
  tags: { suite: 'conformance' },
};

export function browse() {
  const r = http.get(`${__ENV.BASE_URL}/health`);
  check(r, { 'browse: 200': (x) => x.status === 200, 'browse: scenario': () => exec.scenario.name === 'browse' });
}

export function buy() {
  check(null, { 'buy: scenario env': () => __ENV.ITEM === 'tea' && exec.scenario.name === 'buy' });
}
