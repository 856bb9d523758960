//! The booking API of the embedded HTTP target, what a k6-style test of a
//! ticket shop needs: register users, log in for a token, search events,
//! book seats (limited: a sold-out event answers 409).
//!
//! - `POST /users` `{username, password}` -> 201 `{id}`; 409 taken; 422
//! - `POST /login` `{username, password}` -> 200 `{token}`; 401
//! - `GET /events?q=TEXT` -> 200 `[{id, name, city, seats_left}]` (name or
//!   city containing TEXT, case-insensitive; all without `q`)
//! - `GET /events/ID` -> 200 the event; 404
//! - `POST /events/ID/bookings` `{seats}` with `Authorization: Bearer TOKEN`
//!   -> 201 `{booking_id, seats_left}`; 401; 404; 409 sold out; 422
//!
//! Owns only its own state (in memory, per server); the HTTP plumbing is
//! `embedded::http`'s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use hyper::StatusCode;
use serde::Serialize;
use serde_json::json;

/// The event catalogue: 20 events, the same in every run.
const EVENTS: [(&str, &str); 20] = [
    ("Rust Conf", "Berlin"),
    ("Kafka Summit", "London"),
    ("Jazz Night", "Paris"),
    ("Opera Gala", "Vienna"),
    ("Indie Rock Live", "Berlin"),
    ("Chamber Music", "Prague"),
    ("Comedy Club", "London"),
    ("Film Festival", "Cannes"),
    ("Tech Meetup", "Lisbon"),
    ("Symphony No. 9", "Vienna"),
    ("Electronic Beats", "Amsterdam"),
    ("Poetry Slam", "Dublin"),
    ("Ballet Classics", "Paris"),
    ("Blues Evening", "Madrid"),
    ("Data Days", "Lisbon"),
    ("Choir Concert", "Prague"),
    ("Stand-up Special", "Dublin"),
    ("Folk Festival", "Madrid"),
    ("Piano Recital", "Amsterdam"),
    ("WebAssembly Summit", "Berlin"),
];

/// What the booking API did (part of the target's `/stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BookingStats {
    pub users: u64,
    pub logins: u64,
    pub searches: u64,
    pub bookings: u64,
    pub seats_booked: u64,
    pub sold_out: u64,
}

#[derive(Debug)]
struct Event {
    name: &'static str,
    city: &'static str,
    seats_left: AtomicI64,
}

/// The shop's state.
#[derive(Debug)]
pub struct Booking {
    users: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashMap<String, String>>,
    events: Vec<Event>,
    logins: AtomicU64,
    searches: AtomicU64,
    bookings: AtomicU64,
    seats_booked: AtomicU64,
    sold_out: AtomicU64,
}

/// An answer: status and JSON body.
pub type Answer = (StatusCode, String);

fn error(status: StatusCode, message: &str) -> Answer {
    (status, json!({ "error": message }).to_string())
}

impl Booking {
    /// A shop whose events each have `seats` seats.
    pub fn new(seats: u64) -> Booking {
        Booking {
            users: Mutex::default(),
            tokens: Mutex::default(),
            events: EVENTS
                .iter()
                .map(|&(name, city)| Event {
                    name,
                    city,
                    seats_left: AtomicI64::new(seats.min(i64::MAX as u64) as i64),
                })
                .collect(),
            logins: AtomicU64::new(0),
            searches: AtomicU64::new(0),
            bookings: AtomicU64::new(0),
            seats_booked: AtomicU64::new(0),
            sold_out: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> BookingStats {
        BookingStats {
            users: self.users.lock().unwrap_or_else(|e| e.into_inner()).len() as u64,
            logins: self.logins.load(Ordering::Relaxed),
            searches: self.searches.load(Ordering::Relaxed),
            bookings: self.bookings.load(Ordering::Relaxed),
            seats_booked: self.seats_booked.load(Ordering::Relaxed),
            sold_out: self.sold_out.load(Ordering::Relaxed),
        }
    }

    /// Answers a booking route, or None when `path` is not one.
    pub fn handle(
        &self,
        method: &hyper::Method,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Option<Answer> {
        use hyper::Method;
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        Some(match (method, segments.as_slice()) {
            (&Method::POST, ["users"]) => self.register(body),
            (&Method::POST, ["login"]) => self.login(body),
            (&Method::GET, ["events"]) => self.search(query),
            (&Method::GET, ["events", id]) => match self.event(id) {
                Some((i, e)) => (StatusCode::OK, event_json(i, e).to_string()),
                None => error(StatusCode::NOT_FOUND, "no such event"),
            },
            (&Method::POST, ["events", id, "bookings"]) => self.book(id, authorization, body),
            _ => return None,
        })
    }

    fn credentials(body: &[u8]) -> Result<(String, String), Answer> {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| error(StatusCode::BAD_REQUEST, "the body is not JSON"))?;
        let field = |name: &str| {
            v.get(name)
                .and_then(|s| s.as_str())
                .filter(|s| !s.is_empty() && s.len() <= 256)
                .map(str::to_string)
                .ok_or_else(|| {
                    error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &format!("`{name}`: a non-empty string is required"),
                    )
                })
        };
        Ok((field("username")?, field("password")?))
    }

    fn register(&self, body: &[u8]) -> Answer {
        let (user, password) = match Self::credentials(body) {
            Ok(c) => c,
            Err(a) => return a,
        };
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if users.contains_key(&user) {
            return error(StatusCode::CONFLICT, "username taken");
        }
        users.insert(user, password);
        (
            StatusCode::CREATED,
            json!({ "id": users.len() }).to_string(),
        )
    }

    fn login(&self, body: &[u8]) -> Answer {
        let (user, password) = match Self::credentials(body) {
            Ok(c) => c,
            Err(a) => return a,
        };
        let known = self
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user)
            .is_some_and(|p| *p == password);
        if !known {
            return error(StatusCode::UNAUTHORIZED, "wrong username or password");
        }
        self.logins.fetch_add(1, Ordering::Relaxed);
        let token = format!("{:032x}", rand::random::<u128>());
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), user);
        (StatusCode::OK, json!({ "token": token }).to_string())
    }

    fn search(&self, query: Option<&str>) -> Answer {
        self.searches.fetch_add(1, Ordering::Relaxed);
        let q = query
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("q=")))
            .map(|q| q.replace('+', " ").replace("%20", " ").to_lowercase())
            .unwrap_or_default();
        let found: Vec<serde_json::Value> = self
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                q.is_empty()
                    || e.name.to_lowercase().contains(&q)
                    || e.city.to_lowercase().contains(&q)
            })
            .map(|(i, e)| event_json(i, e))
            .collect();
        (StatusCode::OK, serde_json::Value::from(found).to_string())
    }

    /// Event `id` (1-based, as the API shows it).
    fn event(&self, id: &str) -> Option<(usize, &Event)> {
        let i = id.parse::<usize>().ok()?.checked_sub(1)?;
        Some((i, self.events.get(i)?))
    }

    fn book(&self, id: &str, authorization: Option<&str>, body: &[u8]) -> Answer {
        let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
        let user_known = token.is_some_and(|t| {
            self.tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(t)
        });
        if !user_known {
            return error(
                StatusCode::UNAUTHORIZED,
                "log in first: Authorization: Bearer <token from POST /login>",
            );
        }
        let Some((_, event)) = self.event(id) else {
            return error(StatusCode::NOT_FOUND, "no such event");
        };
        let seats = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("seats").and_then(|s| s.as_i64()))
            .filter(|s| (1..=10).contains(s));
        let Some(seats) = seats else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`seats`: a whole number from 1 to 10",
            );
        };
        let taken = event
            .seats_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                (left >= seats).then_some(left - seats)
            });
        match taken {
            Ok(before) => {
                let booking = self.bookings.fetch_add(1, Ordering::Relaxed) + 1;
                self.seats_booked.fetch_add(seats as u64, Ordering::Relaxed);
                (
                    StatusCode::CREATED,
                    json!({ "booking_id": booking, "seats_left": before - seats }).to_string(),
                )
            }
            Err(_) => {
                self.sold_out.fetch_add(1, Ordering::Relaxed);
                error(StatusCode::CONFLICT, "sold out")
            }
        }
    }
}

fn event_json(index: usize, e: &Event) -> serde_json::Value {
    json!({
        "id": index + 1,
        "name": e.name,
        "city": e.city,
        "seats_left": e.seats_left.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn call(b: &Booking, m: Method, path: &str, auth: Option<&str>, body: &str) -> Answer {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        b.handle(&m, path, query, auth, body.as_bytes())
            .expect("a booking route")
    }

    #[test]
    fn register_login_search_and_book_until_sold_out() {
        let b = Booking::new(3);
        let alice = r#"{"username":"alice","password":"pw"}"#;
        assert_eq!(
            call(&b, Method::POST, "/users", None, alice).0,
            StatusCode::CREATED
        );
        assert_eq!(
            call(&b, Method::POST, "/users", None, alice).0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            call(&b, Method::POST, "/users", None, r#"{"username":"x"}"#).0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let bad = r#"{"username":"alice","password":"nope"}"#;
        assert_eq!(
            call(&b, Method::POST, "/login", None, bad).0,
            StatusCode::UNAUTHORIZED
        );
        let (status, body) = call(&b, Method::POST, "/login", None, alice);
        assert_eq!(status, StatusCode::OK);
        let token: serde_json::Value = serde_json::from_str(&body).unwrap();
        let auth = format!("Bearer {}", token["token"].as_str().unwrap());

        let (status, body) = call(&b, Method::GET, "/events?q=berlin", None, "");
        assert_eq!(status, StatusCode::OK);
        let found: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        assert_eq!(found.len(), 3, "{body}");
        let all: Vec<serde_json::Value> =
            serde_json::from_str(&call(&b, Method::GET, "/events", None, "").1).unwrap();
        assert_eq!(all.len(), 20);
        assert_eq!(
            call(&b, Method::GET, "/events/21", None, "").0,
            StatusCode::NOT_FOUND
        );

        let book = "/events/1/bookings";
        assert_eq!(
            call(&b, Method::POST, book, None, r#"{"seats":1}"#).0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(&b, Method::POST, book, Some(&auth), r#"{"seats":0}"#).0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (status, body) = call(&b, Method::POST, book, Some(&auth), r#"{"seats":2}"#);
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body.contains(r#""seats_left":1"#), "{body}");
        assert_eq!(
            call(&b, Method::POST, book, Some(&auth), r#"{"seats":2}"#).0,
            StatusCode::CONFLICT
        );
        assert_eq!(
            call(&b, Method::POST, book, Some(&auth), r#"{"seats":1}"#).0,
            StatusCode::CREATED
        );
        let st = b.stats();
        assert_eq!(
            (
                st.users,
                st.logins,
                st.bookings,
                st.seats_booked,
                st.sold_out
            ),
            (1, 1, 2, 3, 1)
        );
        assert!(
            b.handle(&Method::GET, "/messages", None, None, b"")
                .is_none()
        );
    }

    #[test]
    fn concurrent_bookings_never_oversell() {
        let b = std::sync::Arc::new(Booking::new(1000));
        b.handle(
            &Method::POST,
            "/users",
            None,
            None,
            br#"{"username":"u","password":"p"}"#,
        );
        let (_, body) = b
            .handle(
                &Method::POST,
                "/login",
                None,
                None,
                br#"{"username":"u","password":"p"}"#,
            )
            .unwrap();
        let token: serde_json::Value = serde_json::from_str(&body).unwrap();
        let auth = format!("Bearer {}", token["token"].as_str().unwrap());
        let created: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (b, auth) = (b.clone(), auth.clone());
                    s.spawn(move || {
                        (0..400)
                            .filter(|_| {
                                b.handle(
                                    &Method::POST,
                                    "/events/2/bookings",
                                    None,
                                    Some(&auth),
                                    br#"{"seats":1}"#,
                                )
                                .unwrap()
                                .0 == StatusCode::CREATED
                            })
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(created, 1000);
        assert_eq!(b.stats().sold_out, 600);
    }
}
