//! Signatures in cosign's key-based format, written from its specification
//! (cosign itself is not installable here): an ECDSA P-256 / SHA-256
//! signature over a "simple signing" JSON payload that names the manifest
//! digest, stored as a layer (`application/vnd.dev.cosign.simplesigning.v1+json`,
//! the base64 signature in the `dev.cosignproject.cosign/signature`
//! annotation) of an image at the tag `sha256-<hex>.sig`, since Debian's
//! registry has no referrers API. The public key is a PEM `PUBLIC KEY`
//! (PKIX), as `cosign.pub`; the private key a PEM PKCS#8 `PRIVATE KEY`,
//! unencrypted (`cosign import-key-pair` turns it into a cosign key).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

use super::oci::{Descriptor, MANIFEST_TYPE, Manifest, Registry, descriptor};
use super::reference::Reference;
use super::store::{Store, digest_of};
use crate::Error;

pub const PAYLOAD_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// SubjectPublicKeyInfo header of a P-256 key (id-ecPublicKey, prime256v1).
const SPKI_P256: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = b64().encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn unpem(text: &str, label: &str, path: &Path) -> Result<Vec<u8>, Error> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let bad = |why: &str| {
        Error::Config(format!(
            "{}: {why} (a PEM `{label}`; `volley generate-key-pair` writes one)",
            path.display()
        ))
    };
    let start = text
        .find(&begin)
        .ok_or_else(|| bad(&format!("no `{begin}` line")))?
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .ok_or_else(|| bad(&format!("no `{end}` line")))?;
    let body: String = text[start..start + stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    b64()
        .decode(body)
        .map_err(|_| bad("its body is not base64"))
}

/// Writes `<prefix>.key` and `<prefix>.pub`; refuses to overwrite a key.
pub fn generate_key_pair(prefix: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf), Error> {
    let key = prefix.with_extension("key");
    let public = prefix.with_extension("pub");
    if key.exists() {
        return Err(Error::Config(format!(
            "{} exists: keep it, or remove it to make a new key pair",
            key.display()
        )));
    }
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| Error::Other("generating a P-256 key failed".into()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|e| Error::Other(format!("reading the new key: {e}")))?;
    let mut spki = SPKI_P256.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    super::store::write_atomic(&key, pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600));
    }
    super::store::write_atomic(&public, pem("PUBLIC KEY", &spki).as_bytes())?;
    Ok((key, public))
}

fn load_private(path: &Path) -> Result<EcdsaKeyPair, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading the key {}", path.display()), e))?;
    if text.contains("ENCRYPTED") {
        return Err(Error::Config(format!(
            "{}: an encrypted cosign key; volley reads unencrypted PKCS#8 keys (`volley generate-key-pair`)",
            path.display()
        )));
    }
    let der = unpem(&text, "PRIVATE KEY", path)?;
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &der,
        &ring::rand::SystemRandom::new(),
    )
    .map_err(|e| {
        Error::Config(format!(
            "{}: not an ECDSA P-256 PKCS#8 key: {e}",
            path.display()
        ))
    })
}

/// The public key's point (uncompressed, 65 bytes) from a PEM `PUBLIC KEY`.
pub fn load_public(path: &Path) -> Result<Vec<u8>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading the public key {}", path.display()), e))?;
    let der = unpem(&text, "PUBLIC KEY", path)?;
    match der.strip_prefix(&SPKI_P256[..]) {
        Some(point) if point.len() == 65 => Ok(point.to_vec()),
        _ => Err(Error::Config(format!(
            "{}: not an ECDSA P-256 public key (cosign's default key type)",
            path.display()
        ))),
    }
}

/// cosign's simple signing payload for `digest` of `repo` (`host/ns/name`).
pub fn payload(repo: &str, digest: &str) -> Vec<u8> {
    let v = serde_json::json!({
        "critical": {
            "identity": { "docker-reference": repo },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The tag cosign stores the signatures of `digest` under.
pub fn signature_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1) + ".sig"
}

fn config_for(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let v = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "config": {},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Whether `signature` (base64 DER) over `payload` verifies with `point`
/// and the payload names `digest`.
pub fn verifies(point: &[u8], payload: &[u8], signature_b64: &str, digest: &str) -> bool {
    let Ok(sig) = b64().decode(signature_b64.trim()) else {
        return false;
    };
    if UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(payload, &sig)
        .is_err()
    {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(payload).is_ok_and(|v| {
        v["critical"]["image"]["docker-manifest-digest"].as_str() == Some(digest)
            && v["critical"]["type"].as_str() == Some("cosign container image signature")
    })
}

/// Signs `digest` of `r` with the key at `key` and pushes the signature,
/// keeping signatures already there. Returns the signature tag.
pub async fn sign(
    reg: &Registry,
    r: &Reference,
    digest: &str,
    key: &Path,
) -> Result<String, Error> {
    let pair = load_private(key)?;
    let body = payload(&r.repo_path(), digest);
    let sig = pair
        .sign(&ring::rand::SystemRandom::new(), &body)
        .map_err(|_| Error::Other("signing failed".into()))?;
    let mut layer = descriptor(PAYLOAD_TYPE, &body);
    layer.annotations = Some(BTreeMap::from([(
        SIGNATURE_ANNOTATION.to_string(),
        b64().encode(sig.as_ref()),
    )]));
    let tag = signature_tag(digest);
    let mut layers = match reg.manifest_at(r, Some(&tag)).await? {
        Some((bytes, _)) => serde_json::from_slice::<Manifest>(&bytes)
            .map(|m| m.layers)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    layers.retain(|l| l.digest != layer.digest);
    layers.push(layer);
    let config = config_for(&layers);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_TYPE.to_string()),
        artifact_type: None,
        config: descriptor(CONFIG_TYPE, &config),
        layers,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    reg.push(r, &tag, &[&config, &body], &bytes).await?;
    Ok(tag)
}

/// Checks that `digest` carries a signature made with the key at `public`:
/// from the registry (and remembered in the cache), or from the cache alone
/// when `reg` is none (offline).
pub async fn verify(
    reg: Option<&Registry>,
    store: &Store,
    r: &Reference,
    digest: &str,
    public: &Path,
) -> Result<(), Error> {
    let point = load_public(public)?;
    let tag = signature_tag(digest);
    let marker = store.root().join("signatures").join(&tag);
    let manifest: Vec<u8> = match reg {
        Some(reg) => {
            let Some((bytes, sig_digest)) = reg.manifest_at(r, Some(&tag)).await? else {
                return Err(Error::Config(format!(
                    "{r} ({digest}) is not signed: no signature at the tag `{tag}` (sign it with `volley sign {r} --key KEY`)"
                )));
            };
            store.put(&sig_digest, &bytes)?;
            bytes
        }
        None => {
            let cached = std::fs::read_to_string(&marker).ok();
            match cached.as_deref().map(|d| store.get(d.trim())).transpose()? {
                Some(Some(bytes)) => bytes,
                _ => {
                    return Err(Error::Config(format!(
                        "--offline: no cached signature of {r} ({digest}); verify it once online"
                    )));
                }
            }
        }
    };
    let m: Manifest = serde_json::from_slice(&manifest).map_err(|e| {
        Error::Config(format!(
            "the signature at `{tag}` of {r} is not a manifest: {e}"
        ))
    })?;
    for layer in m.layers.iter().filter(|l| l.media_type == PAYLOAD_TYPE) {
        let Some(sig) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            continue;
        };
        let body = match store.get(&layer.digest)? {
            Some(b) => b,
            None => match reg {
                Some(reg) => {
                    let b = reg.blob(r, &layer.digest).await?;
                    store.put(&layer.digest, &b)?;
                    b
                }
                None => continue,
            },
        };
        if verifies(&point, &body, sig, digest) {
            super::store::write_atomic(&marker, digest_of(&manifest).as_bytes())?;
            return Ok(());
        }
    }
    Err(Error::Config(format!(
        "no signature of {r} ({digest}) verifies with {}: the package was changed after signing, or signed with another key",
        public.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_payload_and_digest() {
        let dir = std::env::temp_dir().join(format!("volley-sign-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let (key, public) = generate_key_pair(&dir.join("a")).unwrap();
        assert!(
            generate_key_pair(&dir.join("a")).is_err(),
            "never overwrites a key"
        );
        let (_, other) = generate_key_pair(&dir.join("b")).unwrap();
        let pem_text = std::fs::read_to_string(&public).unwrap();
        assert!(pem_text.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let pair = load_private(&key).unwrap();
        let point = load_public(&public).unwrap();
        let digest = digest_of(b"manifest");
        let body = payload("127.0.0.1:5000/ns/a", &digest);
        let sig = b64().encode(
            pair.sign(&ring::rand::SystemRandom::new(), &body)
                .unwrap()
                .as_ref(),
        );
        assert!(verifies(&point, &body, &sig, &digest));
        assert!(!verifies(&point, &body, &sig, &digest_of(b"other")));
        assert!(!verifies(
            &load_public(&other).unwrap(),
            &body,
            &sig,
            &digest
        ));
        let mut tampered = body.clone();
        tampered[5] ^= 1;
        assert!(!verifies(&point, &tampered, &sig, &digest));
        assert_eq!(
            signature_tag("sha256:abc"),
            "sha256-abc.sig",
            "cosign's tag scheme"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
