//! `vu` import: identity, parameters, time, randomness and shared data rows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngCore;

use super::VuState;
use crate::wasm::bindings::volley::scenario::vu::Host;

/// Data sets loaded once per run and shared by every VU. Each row is kept as
/// the JSON text the guest receives, so a lookup copies nothing but the row.
#[derive(Debug, Default)]
pub struct DataSets {
    sets: BTreeMap<String, Rows>,
    /// Sets VUs make at run time (k6 `SharedArray`), each made once.
    made: Mutex<BTreeMap<String, Made>>,
    /// Woken whenever a set in `made` is made or its claim released.
    made_changed: tokio::sync::Notify,
    claims: AtomicU64,
}

type Rows = Arc<[Box<str>]>;

#[derive(Debug)]
enum Made {
    /// A VU is making it (the claim's id).
    Making(u64),
    Ready(Rows),
}

/// A VU's claim to make a data set: released when dropped unless the set
/// was made, so a VU that traps while making it does not leave the others
/// waiting.
pub(crate) struct DataClaim {
    shared: Arc<super::Shared>,
    name: String,
    id: u64,
}

impl Drop for DataClaim {
    fn drop(&mut self) {
        self.shared.data.release(&self.name, self.id);
    }
}

impl DataSets {
    /// Loads each `(name, file)`: `.csv` (header row names the fields) or
    /// `.json` (an array of objects or values).
    pub fn load(files: &[(String, std::path::PathBuf)]) -> Result<Self, crate::Error> {
        let mut sets = BTreeMap::new();
        for (name, path) in files {
            let rows = load_rows(path).map_err(|message| crate::Error::Plan {
                path: path.clone(),
                message: format!("data set `{name}`: {message}"),
            })?;
            sets.insert(name.clone(), rows.into());
        }
        Ok(DataSets {
            sets,
            ..DataSets::default()
        })
    }

    /// The rows of set `name`: the plan's, else one a VU made.
    fn rows(&self, name: &str) -> Option<Rows> {
        if let Some(rows) = self.sets.get(name) {
            return Some(rows.clone());
        }
        match self
            .made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            Some(Made::Ready(rows)) => Some(rows.clone()),
            _ => None,
        }
    }

    pub fn len(&self, name: &str) -> u64 {
        self.rows(name).map_or(0, |r| r.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    pub fn row(&self, name: &str, index: u64) -> Option<String> {
        let rows = self.rows(name)?;
        rows.get(usize::try_from(index).ok()?)
            .map(|r| r.to_string())
    }

    /// None if set `name` exists (waiting while a VU makes it); else the
    /// id of the claim to make it, which is now the caller's.
    async fn claim(&self, name: &str) -> Option<u64> {
        loop {
            let changed = self.made_changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so a change in between still wakes us.
            changed.as_mut().enable();
            if self.sets.contains_key(name) {
                return None;
            }
            {
                let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
                match made.get(name) {
                    Some(Made::Ready(_)) => return None,
                    Some(Made::Making(_)) => {}
                    None => {
                        let id = self.claims.fetch_add(1, Ordering::Relaxed);
                        made.insert(name.to_string(), Made::Making(id));
                        return Some(id);
                    }
                }
            }
            changed.await;
        }
    }

    /// Makes set `name` (claimed as `id`) from `rows`, a JSON array.
    fn share(&self, name: &str, id: u64, rows: &str) -> Result<u64, String> {
        let parsed = match serde_json::from_str::<serde_json::Value>(rows) {
            Ok(serde_json::Value::Array(items)) => Ok(items
                .into_iter()
                .map(|v| v.to_string().into_boxed_str())
                .collect::<Rows>()),
            Ok(_) => Err(format!("data set `{name}`: the rows must be a JSON array")),
            Err(e) => Err(format!("data set `{name}`: not JSON: {e}")),
        };
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(made.get(name), Some(Made::Making(m)) if *m == id) {
            return Err(format!(
                "data set `{name}`: this VU did not claim it (data-claim returned true, or it was made)"
            ));
        }
        let result = match parsed {
            Ok(rows) => {
                let n = rows.len() as u64;
                made.insert(name.to_string(), Made::Ready(rows));
                Ok(n)
            }
            Err(e) => {
                made.remove(name);
                Err(e)
            }
        };
        drop(made);
        self.made_changed.notify_waiters();
        result
    }

    /// Gives up claim `id` on set `name` if the set was not made with it.
    fn release(&self, name: &str, id: u64) {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(made.get(name), Some(Made::Making(m)) if *m == id) {
            made.remove(name);
            drop(made);
            self.made_changed.notify_waiters();
        }
    }
}

fn load_rows(path: &Path) -> Result<Vec<Box<str>>, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "csv" => {
            let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
            let headers = reader.headers().map_err(|e| e.to_string())?.clone();
            let mut rows = Vec::new();
            for (i, record) in reader.records().enumerate() {
                let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
                let obj: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
                    .collect();
                rows.push(serde_json::Value::Object(obj).to_string().into_boxed_str());
            }
            Ok(rows)
        }
        "json" => {
            let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
            match value {
                serde_json::Value::Array(items) => Ok(items
                    .into_iter()
                    .map(|v| v.to_string().into_boxed_str())
                    .collect()),
                _ => Err("a JSON data set must be an array".into()),
            }
        }
        _ => Err("use a .csv or .json file".into()),
    }
}

impl Host for VuState {
    fn id(&mut self) -> wasmtime::Result<u32> {
        Ok(self.id)
    }

    fn iteration(&mut self) -> wasmtime::Result<u64> {
        Ok(self.iteration)
    }

    fn iteration_in_scenario(&mut self) -> wasmtime::Result<u64> {
        Ok(self.scenario_iteration)
    }

    fn scenario(&mut self) -> wasmtime::Result<String> {
        Ok(self.scenario.name.clone())
    }

    fn param(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.scenario.params.get(&name).cloned())
    }

    fn params(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .scenario
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn sleep_ms(&mut self, ms: u64) -> wasmtime::Result<()> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }

    fn now_us(&mut self) -> wasmtime::Result<u64> {
        Ok(self.shared.start.elapsed().as_micros() as u64)
    }

    fn random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.rng.next_u64())
    }

    fn data_len(&mut self, name: String) -> wasmtime::Result<u64> {
        Ok(self.shared.data.len(&name))
    }

    fn data_row(&mut self, name: String, index: u64) -> wasmtime::Result<Option<String>> {
        Ok(self.shared.data.row(&name, index))
    }

    async fn data_claim(&mut self, name: String) -> wasmtime::Result<bool> {
        let Some(id) = self.shared.data.claim(&name).await else {
            return Ok(true);
        };
        self.instance.data_claims.push(DataClaim {
            shared: self.shared.clone(),
            name,
            id,
        });
        Ok(false)
    }

    fn data_share(&mut self, name: String, rows: String) -> wasmtime::Result<Result<u64, String>> {
        let claims = &mut self.instance.data_claims;
        let Some(at) = claims.iter().position(|c| c.name == name) else {
            return Ok(Err(format!(
                "data set `{name}`: call data-claim first (it returned true: the set exists)"
            )));
        };
        let claim = claims.remove(at);
        Ok(self.shared.data.share(&name, claim.id, &rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_csv_and_json_rows() {
        let dir = std::env::temp_dir().join(format!("volley-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("u.csv"), "name,pw\nann,a1\nbob,b2\n").unwrap();
        std::fs::write(dir.join("j.json"), r#"[{"n":1},{"n":2},{"n":3}]"#).unwrap();
        std::fs::write(dir.join("bad.json"), r#"{"n":1}"#).unwrap();
        let d = DataSets::load(&[
            ("users".into(), dir.join("u.csv")),
            ("nums".into(), dir.join("j.json")),
        ])
        .unwrap();
        assert_eq!(d.len("users"), 2);
        assert_eq!(
            d.row("users", 1).as_deref(),
            Some(r#"{"name":"bob","pw":"b2"}"#)
        );
        assert_eq!(d.len("nums"), 3);
        assert_eq!(d.row("nums", 2).as_deref(), Some(r#"{"n":3}"#));
        assert_eq!(d.row("nums", 3), None);
        assert_eq!(d.len("none"), 0);
        let e = DataSets::load(&[("b".into(), dir.join("bad.json"))]).unwrap_err();
        assert!(e.to_string().contains("must be an array"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
