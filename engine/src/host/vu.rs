//! `vu` import: identity, parameters, time, randomness and shared data rows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;

use super::VuState;
use crate::wasm::bindings::volley::scenario::vu::Host;

/// Data sets loaded once per run and shared by every VU. Each row is kept as
/// the JSON text the guest receives, so a lookup copies nothing but the row.
#[derive(Debug, Default)]
pub struct DataSets {
    sets: BTreeMap<String, Arc<[Box<str>]>>,
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
        Ok(DataSets { sets })
    }

    pub fn len(&self, name: &str) -> u64 {
        self.sets.get(name).map_or(0, |r| r.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    pub fn row(&self, name: &str, index: u64) -> Option<&str> {
        self.sets
            .get(name)
            .and_then(|rows| rows.get(usize::try_from(index).ok()?))
            .map(|r| &**r)
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
        Ok(self.shared.data.row(&name, index).map(str::to_string))
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
        assert_eq!(d.row("users", 1), Some(r#"{"name":"bob","pw":"b2"}"#));
        assert_eq!(d.len("nums"), 3);
        assert_eq!(d.row("nums", 2), Some(r#"{"n":3}"#));
        assert_eq!(d.row("nums", 3), None);
        assert_eq!(d.len("none"), 0);
        let e = DataSets::load(&[("b".into(), dir.join("bad.json"))]).unwrap_err();
        assert!(e.to_string().contains("must be an array"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
