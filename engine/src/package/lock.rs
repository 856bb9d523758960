//! `volley.lock`: every package reference a folder runs, pinned to the
//! digest its tag resolved to on first use (the shape of wkg's lock file),
//! and the capabilities the runner accepted for that digest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

const HEADER: &str = "# volley.lock: package references pinned to digests, and the capabilities\n# accepted for them. Written by `volley run`, `volley pull` and `volley accept`.\n";

/// What the runner accepted for one digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// The network imports accepted (`http`, `kafka`, `ws`).
    #[serde(default)]
    pub imports: Vec<String>,
    /// The hosts of the package's own plans accepted.
    #[serde(default)]
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The package's name (from its metadata).
    pub name: String,
    /// The reference as written (`oci://host/ns/name:1.2.0`).
    pub reference: String,
    /// The manifest digest the reference resolved to.
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    #[serde(default, rename = "package")]
    pub packages: Vec<Entry>,
}

impl Lock {
    /// Reads `path`; an empty lock when it does not exist.
    pub fn load(path: &Path) -> Result<Lock, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lock {
                    version: 1,
                    packages: Vec::new(),
                });
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| Error::Plan {
            path: path.to_path_buf(),
            message: format!(
                "not a volley.lock ({}); delete it to start over",
                e.to_string().trim_end()
            ),
        })?;
        if lock.version != 1 {
            return Err(Error::Plan {
                path: path.to_path_buf(),
                message: format!(
                    "lock version {} is not one this volley reads (1)",
                    lock.version
                ),
            });
        }
        Ok(lock)
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let body = toml::to_string(self)
            .map_err(|e| Error::Other(format!("writing {}: {e}", path.display())))?;
        super::store::write_atomic(path, format!("{HEADER}\n{body}").as_bytes())
    }

    pub fn get(&self, reference: &str) -> Option<&Entry> {
        self.packages.iter().find(|e| e.reference == reference)
    }

    /// Sets the entry of `reference`; a new digest drops what was accepted
    /// for the old one (it is other code).
    pub fn set(&mut self, reference: &str, name: &str, digest: &str) {
        match self.packages.iter_mut().find(|e| e.reference == reference) {
            Some(e) => {
                if e.digest != digest {
                    e.accepted = None;
                }
                e.digest = digest.to_string();
                e.name = name.to_string();
            }
            None => {
                self.packages.push(Entry {
                    name: name.to_string(),
                    reference: reference.to_string(),
                    digest: digest.to_string(),
                    accepted: None,
                });
                self.packages.sort_by(|a, b| a.reference.cmp(&b.reference));
            }
        }
    }

    pub fn accept(&mut self, reference: &str, accepted: Accepted) {
        if let Some(e) = self.packages.iter_mut().find(|e| e.reference == reference) {
            e.accepted = Some(accepted);
        }
    }
}

/// `--lock FILE`, else `volley.lock` in the current folder.
pub fn path_of(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("volley.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_round_trips_and_a_new_digest_drops_acceptance() {
        let dir = std::env::temp_dir().join(format!("volley-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("volley.lock");
        std::fs::remove_file(&path).ok();
        let mut lock = Lock::load(&path).unwrap();
        assert!(lock.packages.is_empty());
        lock.set("oci://h/a:1", "a", "sha256:1");
        lock.accept(
            "oci://h/a:1",
            Accepted {
                imports: vec!["http".into()],
                hosts: vec![],
            },
        );
        lock.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# volley.lock"), "{text}");
        let mut back = Lock::load(&path).unwrap();
        assert_eq!(back, lock);
        back.set("oci://h/a:1", "a", "sha256:1");
        assert!(back.get("oci://h/a:1").unwrap().accepted.is_some());
        back.set("oci://h/a:1", "a", "sha256:2");
        assert!(back.get("oci://h/a:1").unwrap().accepted.is_none());
        std::fs::write(&path, "version = 7\n").unwrap();
        assert!(
            Lock::load(&path)
                .unwrap_err()
                .to_string()
                .contains("lock version 7")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
