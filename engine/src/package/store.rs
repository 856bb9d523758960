//! The package cache: blobs (manifests, components, signatures) keyed by
//! their sha256 digest under `<cache>/packages/`, checked against the digest
//! every time they are read. The precompiled-code cache sits beside it in
//! the same cache folder (`VOLLEY_CACHE_DIR`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn hex_of(digest: &str) -> Result<&str, Error> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| Error::Config(format!("`{digest}` is not a sha256 digest")))
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// `$VOLLEY_CACHE_DIR/packages`, else the user's cache folder.
    pub fn open() -> Store {
        let base =
            crate::wasm::cache::cache_dir().unwrap_or_else(|| std::env::temp_dir().join("volley"));
        Store {
            root: base.join("packages"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives (whether or not it is there).
    pub fn path(&self, digest: &str) -> Result<PathBuf, Error> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    /// The blob, checked against its digest; none when not cached. A blob
    /// that does not match is an error naming the file, never used.
    pub fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, Error> {
        let path = self.path(digest)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let got = digest_of(&bytes);
        if got != digest {
            return Err(Error::Config(format!(
                "the cached blob {} does not match its digest {digest} (it is {got}): it was changed on disk; delete it and pull again",
                path.display()
            )));
        }
        Ok(Some(bytes))
    }

    /// Stores `bytes` as `digest` after checking they match; returns the path.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
        let got = digest_of(bytes);
        if got != digest {
            return Err(Error::Config(format!(
                "the registry sent {got} where {digest} was asked for: refusing a tampered or corrupt blob"
            )));
        }
        let path = self.path(digest)?;
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}

/// Writes through a temporary file and a rename, so a reader never sees
/// half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_checked_on_the_way_in_and_out() {
        let dir = std::env::temp_dir().join(format!("volley-store-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let store = Store { root: dir.clone() };
        let d = digest_of(b"hello");
        assert_eq!(
            d,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(store.get(&d).unwrap().is_none());
        assert!(store.put(&d, b"hellO").is_err());
        let p = store.put(&d, b"hello").unwrap();
        assert_eq!(store.get(&d).unwrap().unwrap(), b"hello");
        std::fs::write(&p, b"jello").unwrap();
        let e = store.get(&d).unwrap_err().to_string();
        assert!(e.contains("does not match its digest"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
