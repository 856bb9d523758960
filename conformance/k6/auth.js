// Authentication, redirects and cookie jars as k6 scripts use them: a user
// and password in the URL (Basic), `auth: 'digest'` (the echo server
// challenges and checks the answer), `maxRedirects` and per-request
// `redirects`, local jars (`new http.CookieJar()`, `params.jar`), and the
// `expected_response` tag thresholds select on. ECHO_URL is the test's
// echo server.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: 1,
  iterations: 2,
  maxRedirects: 3,
  thresholds: {
    checks: ['rate==1'],
    // Per iteration 6 answers are unexpected: the digest with a wrong
    // password and the five 401s of the URLs in turn.
    'http_reqs{expected_response:false}': ['count==12'],
    'http_req_failed{expected_response:true}': ['rate==0'],
  },
};

const ECHO = __ENV.ECHO_URL;
const as = (user, password, path) => ECHO.replace('://', `://${user}:${password}@`) + path;

export default function () {
  check(http.get(as('user', 'passwd', '/auth/basic')), {
    'basic: the URL user and password': (r) => r.status === 200 && r.json('user') === 'user',
  });
  check(http.get(as('user', 'passwd', '/auth/digest'), { auth: 'digest' }), {
    'digest: authenticated': (r) => r.status === 200 && r.json('user') === 'user',
  });
  check(http.get(as('user', 'wrong', '/auth/digest'), { auth: 'digest' }), {
    'digest: a wrong password is refused': (r) => r.status === 401,
  });
  // Three URLs in turn, two with a user and one without: each request
  // carries its own URL's user, whichever URL came before it.
  const turns = [as('user', 'passwd', '/auth/basic'), `${ECHO}/auth/basic`, as('user', 'wrong', '/auth/basic')];
  const seen = [0, 1, 2, 0, 1, 0, 2, 2, 0].map((i) => http.get(turns[i]).status);
  check(seen, {
    'URLs in turn: each its own user': (s) => s.join() === '200,401,401,200,401,200,401,401,200',
  });

  check(http.get(`${ECHO}/redirect/5`), {
    'maxRedirects: past it the last redirect is the answer': (r) => r.status === 302,
  });
  check(http.get(`${ECHO}/redirect/2`), { 'redirects: followed': (r) => r.status === 200 });
  check(http.get(`${ECHO}/redirect/2`, { redirects: 1 }), { 'params.redirects: its own limit': (r) => r.status === 302 });
  check(http.get(`${ECHO}/redirect/1`, { redirects: 0 }), { 'params.redirects 0: the 302 itself': (r) => r.status === 302 });

  const jar = new http.CookieJar();
  jar.set(ECHO, 'local', 'l1');
  check(http.get(`${ECHO}/cookies`, { jar }), {
    'jar: a local jar is sent': (r) => r.json('cookie').indexOf('local=l1') >= 0,
  });
  http.get(`${ECHO}/cookies/set?kept=here`, { jar });
  check(null, {
    'jar: response cookies land in the local jar': () => jar.cookiesForURL(`${ECHO}/`).kept[0] === 'here',
    'jar: not in the VU jar': () => http.cookieJar().cookiesForURL(`${ECHO}/`).kept === undefined,
  });
  jar.clear(`${ECHO}/`);
  check(jar.cookiesForURL(`${ECHO}/`), { 'jar: clear': (c) => Object.keys(c).length === 0 });
}
