//! `oci://host[:port]/namespace/name[:tag][@sha256:hex]`: a package in a
//! registry.

use crate::Invalid;

use std::fmt;

/// A parsed package reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// `namespace/name`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

/// Whether `s` names a package in a registry.
pub fn is_oci(s: &str) -> bool {
    s.starts_with("oci://")
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, Invalid> {
        let bad = |why: &str| {
            Invalid(format!(
                "`{s}`: {why} (write oci://HOST[:PORT]/NAMESPACE/NAME:TAG or ...@sha256:DIGEST)"
            ))
        };
        let rest = s
            .strip_prefix("oci://")
            .ok_or_else(|| bad("not an oci:// reference"))?;
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("the digest must be sha256:<64 hex digits>"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad("the digest must be sha256:<64 hex digits>"));
                }
                (r, Some(format!("sha256:{}", hex.to_ascii_lowercase())))
            }
            None => (rest, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no repository after the registry host"))?;
        if registry.is_empty() {
            return Err(bad("no registry host"));
        }
        // A tag follows the last `:` of the last path segment.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
            _ => (path, None),
        };
        if repository.is_empty()
            || !repository.split('/').all(|seg| {
                !seg.is_empty()
                    && seg.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            })
        {
            return Err(bad(
                "the repository is lowercase letters, digits, `.`, `_`, `-` and `/`",
            ));
        }
        if let Some(t) = &tag
            && (t.is_empty()
                || t.len() > 128
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        {
            return Err(bad("a tag is letters, digits, `.`, `_`, `-`"));
        }
        if tag.is_none() && digest.is_none() {
            return Err(bad("give a tag (`:1.2.0`) or a digest (`@sha256:...`)"));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The same package pinned to `digest` (the tag kept for display).
    pub fn pinned(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// `host/ns/name`, as cosign names an image in its signature payload.
    pub fn repo_path(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The registry's host without its port.
    pub fn host(&self) -> &str {
        match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => self.registry.split(':').next().unwrap_or(&self.registry),
        }
    }

    /// Whether the registry is on this machine: reached over plain HTTP,
    /// as Docker does for localhost.
    pub fn is_loopback(&self) -> bool {
        let h = self.host();
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_tags_digests_and_ports() {
        let r = Reference::parse("oci://127.0.0.1:5000/volley/http-ingest:1.2.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "volley/http-ingest");
        assert_eq!(r.tag.as_deref(), Some("1.2.0"));
        assert!(r.is_loopback());
        assert_eq!(
            r.to_string(),
            "oci://127.0.0.1:5000/volley/http-ingest:1.2.0"
        );
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("oci://ghcr.io/a/b@{d}")).unwrap();
        assert_eq!((r.tag, r.digest.as_deref()), (None, Some(d.as_str())));
        assert!(
            !Reference::parse("oci://ghcr.io/a/b:1")
                .unwrap()
                .is_loopback()
        );
        assert!(
            Reference::parse("oci://localhost:5000/a:1")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn bad_references_say_how_to_write_one() {
        for bad in [
            "http://x/a:1",
            "oci://host",
            "oci://host/a",
            "oci://host/A:1",
            "oci://host/a@sha256:12",
            "oci://host/a:t@g",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert!(e.0.contains("oci://HOST"), "{bad}: {e}");
        }
    }
}
