//! The language benchmark's scenario in Rust (see ../README.md).

use volley_sdk::prelude::*;

struct Bench;

impl Scenario for Bench {
    fn run(entry: &str) -> Result<(), String> {
        match entry {
            "empty" => Ok(()),
            _ => {
                let url = vu::param("url").ok_or("param `url` is missing")?;
                let r = http::get(&url).map_err(|e| e.to_string())?;
                check("status is 200", r.status() == 200);
                // bench/vu-memory.sh: many VUs, each mostly asleep.
                if entry == "sleepy" {
                    vu::sleep(std::time::Duration::from_secs(1));
                }
                Ok(())
            }
        }
    }
}

volley_sdk::export_scenario!(Bench);
