// booking: a ticket shop under load, written the way a k6 user writes it.
//
// setup() registers 100 test users; every iteration logs one in, searches
// the events, and books seats on one of them, with checks on each step.
// Run it against the embedded target: `volley run scripts/booking -p load`
// (plans: load, spike, stress, quick). The shop sells a limited number of
// seats (`volley targets --seats N`, default 100,000): a sold-out event
// answers 409, which is a valid answer here, not an error.
import { http, check, sleep, vu, random, Counter, fail } from 'volley';

const USERS = 100;
const SEARCHES = ['berlin', 'london', 'paris', 'jazz', 'vienna', 'festival', 'lisbon', 'summit'];

// As in k6, an object body is form-encoded: JSON goes as a string.
const JSON_BODY = { 'Content-Type': 'application/json' };

const seatsBooked = new Counter('seats_booked');
const soldOut = new Counter('sold_out');

export function setup() {
  const api = vu.param('api');
  if (!api) fail('param `api` is missing: add it to [targets]');
  const users = [];
  for (let i = 0; i < USERS; i++) {
    const user = { username: `user${i}-${random.string(8)}`, password: random.string(16) };
    const r = http.post(`${api}/users`, JSON.stringify(user), { name: 'register', headers: JSON_BODY });
    if (r.status !== 201) fail(`setup: POST /users answered ${r.status}: ${r.body}`);
    users.push(user);
  }
  return { api, users };
}

export default function (data) {
  // 409 (sold out) is an answer the shop gives by design.
  http.expectStatuses(200, 201, 409);
  const user = data.users[(vu.id + vu.iteration) % data.users.length];

  const login = http.post(`${data.api}/login`, JSON.stringify(user), { name: 'login', headers: JSON_BODY });
  const token = login.status === 200 ? login.json().token : undefined;
  if (!check(login, { 'logged in': () => token !== undefined })) return;

  const search = http.get(`${data.api}/events?q=${random.choice(SEARCHES)}`, { name: 'search' });
  const events = search.status === 200 ? search.json() : [];
  if (!check(search, { 'search answered': (r) => r.status === 200, 'events found': () => events.length > 0 })) return;

  const event = random.choice(events);
  const seats = random.int(1, 4);
  const book = http.post(`${data.api}/events/${event.id}/bookings`, JSON.stringify({ seats }), {
    name: 'book',
    headers: { ...JSON_BODY, Authorization: `Bearer ${token}` },
  });
  check(book, { 'booked or sold out': (r) => r.status === 201 || r.status === 409 });
  if (book.status === 201) seatsBooked.add(seats);
  if (book.status === 409) soldOut.add(1);

  sleep(0.5 + random.float() * 0.5); // think time, as a user would
}
