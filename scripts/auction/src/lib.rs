//! auction: contended writes and broadcast fan-out against an auction
//! service (the embedded `embedded:auction` target by default, as `api`).
//!
//! Entries (the plan scenario's `exec`):
//! - `contended-bidder`: bids a little above the highest bid it knows on
//!   item `item`; 201 (accepted) and 409 (outbid) are both valid answers.
//! - `viewer`: keeps a WebSocket on `/ws/items/{item}` and reports every bid
//!   it receives as an arrival of that bid's fan-out event. Each iteration
//!   listens for `window_ms` (1000); a failed connection waits `reconnect_ms`
//!   (1000) before the iteration fails. With `sockets` = K, each VU holds K
//!   viewer sockets and waits on all of them at once (`ws::poll`).
//! - `fanout`: the publisher: marks a bid's fan-out event for the expected
//!   viewers (`expected_viewers`, else the service's viewer count), then
//!   places the bid over HTTP. The engine records `ws_fanout_latency` (every
//!   viewer), `ws_fanout_complete` (last viewer) and `ws_fanout_delivered`.
//! - `mixed`: bidders and viewers in one scenario, by `bidder_weight` and
//!   `viewer_weight` (VU ids are dealt out in that ratio).
//!
//! Run: `volley run scripts/auction` (plans: default, contended, fanout,
//! fanout-10k, mixed).

use std::cell::{Cell, RefCell};
use std::time::Duration;

use volley_sdk::prelude::*;

thread_local! {
    /// This VU's viewer sockets, kept across iterations.
    static SOCKETS: RefCell<Vec<ws::Socket>> = const { RefCell::new(Vec::new()) };
    /// The highest bid this VU has seen on its item.
    static HIGHEST: Cell<u64> = const { Cell::new(0) };
}

fn param_u64(name: &str, default: u64) -> Result<u64, String> {
    match vu::param(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("param `{name}` = `{v}`: not a whole number")),
    }
}

fn api() -> Result<String, String> {
    vu::param("api").ok_or_else(|| "param `api` is missing: add it to [targets]".to_string())
}

fn item() -> Result<u64, String> {
    param_u64("item", 1)
}

/// The fan-out event key of a bid: viewers and the publisher agree on it.
fn bid_key(item: u64, amount: u64) -> String {
    format!("bid:{item}:{amount}")
}

struct Auction;

impl Scenario for Auction {
    fn init_vu(_setup: &[u8]) -> Result<(), String> {
        // Being outbid is a valid answer, not a failed request.
        http::expect_statuses(&[200, 201, 409]);
        Ok(())
    }

    fn run(entry: &str) -> Result<(), String> {
        match entry {
            "contended-bidder" | "default" => bid(),
            "viewer" => view(),
            "fanout" => publish(),
            "mixed" => {
                let bidders = param_u64("bidder_weight", 1)?;
                let viewers = param_u64("viewer_weight", 4)?;
                if bidders + viewers == 0 {
                    return Err("bidder_weight + viewer_weight must be above 0".into());
                }
                if u64::from(vu::id()) % (bidders + viewers) < bidders {
                    bid()
                } else {
                    view()
                }
            }
            other => Err(format!(
                "unknown entry `{other}`: use contended-bidder, viewer, fanout or mixed"
            )),
        }
    }
}

fn bid() -> Result<(), String> {
    let (api, item) = (api()?, item()?);
    let amount = HIGHEST.get() + vu::random_range(1..=5);
    let res = http::Request::post(format!("{api}/items/{item}/bids"))
        .json(&serde_json::json!({ "amount": amount, "bidder": format!("vu-{}", vu::id()) }))
        .name("bid")
        .send()
        .map_err(|e| format!("POST /items/{item}/bids: {e}"))?;
    let answered = check("bid answered 201 or 409", matches!(res.status(), 201 | 409));
    let accepted = res.status() == 201;
    Rate::new("bid_accepted").add(accepted);
    if accepted {
        HIGHEST.set(amount);
    } else if let Ok(body) = res.json::<serde_json::Value>() {
        // Outbid: start from the current bid next time.
        HIGHEST.set(body["current"].as_u64().unwrap_or(amount));
    }
    let think = param_u64("think_ms", 0)?;
    if think > 0 {
        vu::sleep(Duration::from_millis(think));
    }
    if answered {
        Ok(())
    } else {
        Err(format!("bid answered {}", res.status()))
    }
}

fn view() -> Result<(), String> {
    let (api, item) = (api()?, item()?);
    let window = Duration::from_millis(param_u64("window_ms", 1000)?);
    let wanted = param_u64("sockets", 1)?.max(1) as usize;
    SOCKETS.with_borrow_mut(|sockets| {
        while sockets.len() < wanted {
            let url = format!("{}/ws/items/{item}", api.replacen("http", "ws", 1));
            match ws::Connect::new(url).tag("role", "viewer").open() {
                Ok(s) => sockets.push(s),
                Err(e) => {
                    // Don't hammer a target that refuses: wait, then fail.
                    vu::sleep(Duration::from_millis(param_u64("reconnect_ms", 1000)?));
                    return Err(format!("viewer connect: {e}"));
                }
            }
        }
        let end = vu::now() + window;
        let mut failed = None;
        while failed.is_none() {
            let left = end.saturating_sub(vu::now());
            if left.is_zero() {
                break;
            }
            let refs: Vec<&ws::Socket> = sockets.iter().collect();
            let mut gone = Vec::new();
            for i in ws::poll(&refs, left) {
                match take(refs[i], item) {
                    Ok(true) => {}
                    Ok(false) => gone.push(i),
                    Err(e) => {
                        gone.push(i);
                        failed = Some(e);
                    }
                }
            }
            // Closed sockets are reopened next iteration.
            for i in gone.into_iter().rev() {
                sockets.remove(i);
            }
        }
        match failed {
            Some(e) => {
                vu::sleep(Duration::from_millis(param_u64("reconnect_ms", 1000)?));
                Err(format!("viewer socket: {e}"))
            }
            None => Ok(()),
        }
    })
}

/// A whole-number field of a flat JSON object, without building a document:
/// viewers read every broadcast, so this is the hot path of a fan-out test.
fn field_u64(json: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let rest = json[json.find(&key)? + key.len()..].trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Takes the next message of a ready socket (more waiting make the next
/// poll return at once); false once the server closed it.
fn take(socket: &ws::Socket, item: u64) -> Result<bool, ws::Error> {
    if let Some(m) = socket.recv(Duration::ZERO)? {
        match m {
            ws::Message::Text(text) => {
                let amount = field_u64(&text, "amount");
                if check("bid message has an amount", amount.is_some()) {
                    arrive(&bid_key(item, amount.unwrap_or_default()));
                }
            }
            ws::Message::Close(_) => return Ok(false),
            ws::Message::Binary(_) => {}
        }
    }
    Ok(true)
}

fn publish() -> Result<(), String> {
    let (api, item) = (api()?, item()?);
    let state: serde_json::Value = http::Request::get(format!("{api}/items/{item}"))
        .name("item")
        .send()
        .map_err(|e| format!("GET /items/{item}: {e}"))?
        .json()?;
    let current = state["current"].as_u64().unwrap_or(0);
    let expected = match vu::param("expected_viewers") {
        Some(_) => param_u64("expected_viewers", 0)?,
        None => state["viewers"].as_u64().unwrap_or(0),
    };
    let amount = current + 1;
    // Mark before sending: the broadcast may reach viewers before our
    // response reaches us.
    mark(
        "ws_fanout_latency",
        &bid_key(item, amount),
        expected.min(u32::MAX as u64) as u32,
    );
    let res = http::Request::post(format!("{api}/items/{item}/bids"))
        .json(&serde_json::json!({ "amount": amount, "bidder": "publisher" }))
        .name("publish bid")
        .send()
        .map_err(|e| format!("POST /items/{item}/bids: {e}"))?;
    check("published bid accepted", res.status() == 201);
    Ok(())
}

volley_sdk::export_scenario!(Auction);
