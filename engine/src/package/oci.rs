//! Talking to OCI registries with `oci-client`: a package is the CNCF wasm
//! artifact (an `application/vnd.wasm.config.v0+json` config, one
//! `application/wasm` layer, `org.opencontainers.image.*` annotations). The
//! manifest bytes are written here, so the digest a push reports is the one
//! a pull checks. Loopback registries are reached over plain HTTP (as Docker
//! does for localhost); credentials come from the Docker config file.

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use serde::{Deserialize, Serialize};

use super::manifest::Package;
use super::reference::Reference;
use super::store::digest_of;
use crate::Error;

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const WASM_CONFIG_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER_TYPE: &str = "application/wasm";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OCI image manifest, as much of it as volley reads and writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// The wasm layer of a package manifest, or why this is not one.
    pub fn wasm_layer(&self, what: &str) -> Result<&Descriptor, Error> {
        if self.config.media_type != WASM_CONFIG_TYPE {
            return Err(Error::Config(format!(
                "{what} is not a wasm component package (its config is `{}`, not `{WASM_CONFIG_TYPE}`)",
                self.config.media_type
            )));
        }
        match self.layers.as_slice() {
            [one] if one.media_type == WASM_LAYER_TYPE => Ok(one),
            _ => Err(Error::Config(format!(
                "{what} is not a volley package: it needs exactly one `{WASM_LAYER_TYPE}` layer"
            ))),
        }
    }
}

pub fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest_of(bytes),
        size: bytes.len() as u64,
        annotations: None,
    }
}

/// The manifest and config of a package (the wasm OCI artifact layout).
pub fn package_manifest(component: &[u8], pkg: Option<&Package>) -> (Vec<u8>, Vec<u8>) {
    let layer = descriptor(WASM_LAYER_TYPE, component);
    let imports = super::manifest::scenario_imports(component)
        .unwrap_or_default()
        .into_iter()
        .map(|i| format!("volley:scenario/{i}"))
        .collect::<Vec<_>>();
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer.digest],
        "component": {
            "target": "volley:scenario/scenario@0.1.0",
            "imports": imports,
            "exports": ["setup", "init-vu", "run", "teardown"],
        },
    });
    let config = serde_json::to_vec(&config).unwrap_or_default();
    let mut annotations = BTreeMap::new();
    if let Some(p) = pkg {
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                annotations.insert(format!("org.opencontainers.image.{k}"), v.clone());
            }
        };
        put("title", Some(&p.name));
        put("version", Some(&p.version));
        put("description", p.description.as_ref());
        put("licenses", p.license.as_ref());
        put("source", p.source.as_ref());
        put("url", p.homepage.as_ref());
        let authors = p.authors.join(", ");
        put("authors", Some(&authors).filter(|a| !a.is_empty()));
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_TYPE.to_string()),
        artifact_type: Some(WASM_LAYER_TYPE.to_string()),
        config: descriptor(WASM_CONFIG_TYPE, &config),
        layers: vec![layer],
        annotations: Some(annotations).filter(|a| !a.is_empty()),
    };
    (serde_json::to_vec(&manifest).unwrap_or_default(), config)
}

/// A connection to one registry.
pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
}

fn failed(what: &str, r: &Reference, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{what} {r}: {e}"))
}

impl Registry {
    pub async fn connect(r: &Reference) -> Registry {
        // reqwest is built without a rustls provider of its own: use ring,
        // the one the rest of volley uses. Failing means one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let protocol = if r.is_loopback() {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let client = oci_client::Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            ..Default::default()
        });
        let auth = docker_auth(&r.registry);
        client.store_auth_if_needed(&r.registry, &auth).await;
        Registry { client, auth }
    }

    fn oci_ref(r: &Reference, tag: Option<&str>) -> oci_client::Reference {
        match (tag, &r.digest) {
            (Some(t), _) => {
                oci_client::Reference::with_tag(r.registry.clone(), r.repository.clone(), t.into())
            }
            (None, Some(d)) => oci_client::Reference::with_digest(
                r.registry.clone(),
                r.repository.clone(),
                d.clone(),
            ),
            (None, None) => oci_client::Reference::with_tag(
                r.registry.clone(),
                r.repository.clone(),
                r.tag.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }

    /// Pushes blobs and then `manifest` under `tag`; returns the manifest digest.
    pub async fn push(
        &self,
        r: &Reference,
        tag: &str,
        blobs: &[&[u8]],
        manifest: &[u8],
    ) -> Result<String, Error> {
        let target = Self::oci_ref(r, Some(tag));
        let _ = &self.auth;
        for blob in blobs {
            let digest = digest_of(blob);
            let exists = self
                .client
                .blob_exists(&target, &digest)
                .await
                .unwrap_or(false);
            if !exists {
                self.client
                    .push_blob(&target, blob.to_vec(), &digest)
                    .await
                    .map_err(|e| failed("pushing a blob of", r, e))?;
            }
        }
        self.client
            .push_manifest_raw(
                &target,
                manifest.to_vec(),
                http::HeaderValue::from_static(MANIFEST_TYPE),
            )
            .await
            .map_err(|e| failed("pushing the manifest of", r, e))?;
        Ok(digest_of(manifest))
    }

    /// The manifest `r` names (by its digest when pinned, else its tag):
    /// its bytes and digest, checked.
    pub async fn manifest(&self, r: &Reference) -> Result<Option<(Vec<u8>, String)>, Error> {
        self.manifest_at(r, None).await
    }

    /// The manifest at `tag` (or at `r` itself); none when the registry has
    /// no such tag or digest.
    pub async fn manifest_at(
        &self,
        r: &Reference,
        tag: Option<&str>,
    ) -> Result<Option<(Vec<u8>, String)>, Error> {
        let target = Self::oci_ref(r, tag);
        match self
            .client
            .pull_manifest_raw(&target, &self.auth, &[MANIFEST_TYPE])
            .await
        {
            Ok((body, _)) => {
                let digest = digest_of(&body);
                if tag.is_none()
                    && let Some(want) = &r.digest
                    && &digest != want
                {
                    return Err(Error::Config(format!(
                        "the registry sent a manifest {digest} for {r}: refusing a tampered manifest"
                    )));
                }
                Ok(Some((body.to_vec(), digest)))
            }
            Err(oci_client::errors::OciDistributionError::ImageManifestNotFoundError(_)) => {
                Ok(None)
            }
            Err(oci_client::errors::OciDistributionError::RegistryError { envelope, .. })
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::ManifestUnknown
                            | oci_client::errors::OciErrorCode::NameUnknown
                    )
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed("fetching the manifest of", r, e)),
        }
    }

    /// The blob `digest` of `r`'s repository. The bytes are checked by the
    /// caller (the store refuses a mismatch).
    pub async fn blob(&self, r: &Reference, digest: &str) -> Result<Vec<u8>, Error> {
        let target = Self::oci_ref(r, None);
        let mut out: Vec<u8> = Vec::new();
        self.client
            .pull_blob(&target, digest, &mut out)
            .await
            .map_err(|e| failed(&format!("fetching blob {digest} of"), r, e))?;
        Ok(out)
    }
}

/// Credentials for `registry` from `$DOCKER_CONFIG/config.json` (else
/// `~/.docker/config.json`): its `auths` entry's `auth` (base64
/// `user:password`). Credential helpers are not run. Anonymous otherwise.
fn docker_auth(registry: &str) -> RegistryAuth {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => std::path::PathBuf::from(d).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(h) => std::path::PathBuf::from(h).join(".docker/config.json"),
            None => return RegistryAuth::Anonymous,
        },
    };
    match std::fs::read_to_string(path) {
        Ok(text) => auth_from(&text, registry),
        Err(_) => RegistryAuth::Anonymous,
    }
}

/// The `auths` entry for `registry` in a Docker config file's text.
fn auth_from(text: &str, registry: &str) -> RegistryAuth {
    use base64::Engine;
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return RegistryAuth::Anonymous;
    };
    let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
        return RegistryAuth::Anonymous;
    };
    let entry = auths.iter().find(|(k, _)| {
        let k = k
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        k.split('/').next() == Some(registry)
    });
    let Some((_, e)) = entry else {
        return RegistryAuth::Anonymous;
    };
    let decoded = e
        .get("auth")
        .and_then(|a| a.as_str())
        .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((u, p)) => RegistryAuth::Basic(u.to_string(), p.to_string()),
        None => RegistryAuth::Anonymous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_the_cncf_wasm_layout() {
        let component = b"\0asm\x0d\0\x01\0";
        let (m, config) = package_manifest(component, None);
        let m: Manifest = serde_json::from_slice(&m).unwrap();
        assert_eq!(m.config.media_type, WASM_CONFIG_TYPE);
        assert_eq!(m.config.digest, digest_of(&config));
        let layer = m.wasm_layer("x").unwrap();
        assert_eq!(layer.digest, digest_of(component));
        assert_eq!(layer.size, component.len() as u64);
        let c: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(c["architecture"], "wasm");
        assert_eq!(c["layerDigests"][0], layer.digest);
    }

    #[test]
    fn docker_credentials_are_read_from_the_config_file() {
        // "user:secret"
        let text = r#"{"auths":{"https://reg.example:5000":{"auth":"dXNlcjpzZWNyZXQ="}}}"#;
        match auth_from(text, "reg.example:5000") {
            RegistryAuth::Basic(u, p) => assert_eq!((u.as_str(), p.as_str()), ("user", "secret")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            auth_from(text, "other:5000"),
            RegistryAuth::Anonymous
        ));
        assert!(matches!(
            auth_from("not json", "x"),
            RegistryAuth::Anonymous
        ));
    }
}
