//! http-ingest: each iteration posts one chat message to `POST /messages`
//! of the target named `api` and checks it was accepted (201).
//!
//! Run it against the embedded target: `volley run scripts/http-ingest`
//! (plans: default, quick, stress, extreme).

use volley_sdk::prelude::*;

struct Ingest;

impl Scenario for Ingest {
    fn run(_entry: &str) -> Result<(), String> {
        let api = vu::param("api").ok_or("param `api` is missing: add it to [targets]")?;
        let body = serde_json::json!({
            "user_id": vu::random_range(1..=10_000),
            "channel_id": vu::random_range(1..=100),
            // Unique per VU and iteration.
            "content": format!("hello from vu {} iteration {}", vu::id(), vu::iteration()),
        });
        let res = http::Request::post(format!("{api}/messages"))
            .json(&body)
            .name("post message")
            .send();
        let accepted = matches!(&res, Ok(r) if r.status() == 201);
        check("status is 201", accepted);
        if let Err(e) = res {
            return Err(format!("POST /messages failed: {e}"));
        }
        Ok(())
    }
}

volley_sdk::export_scenario!(Ingest);
