// k6's response callbacks as a k6 user writes them: for one request
// (`params.responseCallback`, in a batch too) and for the VU's later
// requests (`http.setResponseCallback`). The thresholds say which
// responses count as failed, under k6 and under volley alike. ECHO_URL is
// the test's echo server: `/missing` answers 404, `/json` 200.
import http from 'k6/http';
import { check } from 'k6';

const only404 = http.expectedStatuses(404);

export const options = {
  vus: 1,
  iterations: 2,
  thresholds: {
    checks: ['rate==1'],
    // The request's own callback: its 404 is expected, a 200 is not.
    'http_req_failed{name:request expects 404}': ['rate==0'],
    'http_req_failed{name:request expects 404 gets 200}': ['rate==1'],
    // It was that request's only: the next 404 fails again.
    'http_req_failed{name:plain 404}': ['rate==1'],
    'http_req_failed{name:batch expects 404}': ['rate==0'],
    // The VU's callback, and a request's own overriding it.
    'http_req_failed{name:vu expects 404}': ['rate==0'],
    'http_req_failed{name:request overrides vu}': ['rate==0'],
    // Back to k6's default, 200-399.
    'http_req_failed{name:default again}': ['rate==1'],
  },
};

const ECHO = __ENV.ECHO_URL;

export default function () {
  const tagged = (name, more) => Object.assign({ tags: { name } }, more);
  check(http.get(`${ECHO}/missing`, tagged('request expects 404', { responseCallback: only404 })), {
    'request callback: 404 answered': (r) => r.status === 404,
  });
  http.get(`${ECHO}/json`, tagged('request expects 404 gets 200', { responseCallback: only404 }));
  http.get(`${ECHO}/missing`, tagged('plain 404'));
  const [batched] = http.batch([['GET', `${ECHO}/missing`, null, tagged('batch expects 404', { responseCallback: only404 })]]);
  check(batched, { 'batch callback: 404 answered': (r) => r.status === 404 });

  http.setResponseCallback(only404);
  http.get(`${ECHO}/missing`, tagged('vu expects 404'));
  http.get(`${ECHO}/json`, tagged('request overrides vu', { responseCallback: http.expectedStatuses(200) }));

  // null judges nothing: no http_req_failed sample for these (k6 emits none).
  http.get(`${ECHO}/missing`, tagged('request judges none', { responseCallback: null }));
  http.setResponseCallback(null);
  http.get(`${ECHO}/missing`, tagged('vu judges none'));

  http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }));
  http.get(`${ECHO}/missing`, tagged('default again'));
}
