//! The `volley-package` custom section: what `volley pack` adds to a
//! component besides its `wasm-metadata` (parameters, plans, capabilities),
//! and reading it back together with the metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::caps::Capabilities;

/// The custom section's name.
pub const SECTION: &str = "volley-package";
/// The section's format; a newer one is refused with a message.
pub const FORMAT: u32 = 1;

/// A parameter a package takes (`-e NAME=VALUE`, a plan's `params`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Everything a package says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub format: u32,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(default)]
    pub params: Vec<Param>,
    /// Plan name -> its TOML text, as in the folder's `plans/`.
    #[serde(default)]
    pub plans: BTreeMap<String, String>,
    pub capabilities: Capabilities,
}

/// Appends the section to `component` (a component without one).
pub fn append(component: &[u8], pkg: &Package) -> Vec<u8> {
    let body = serde_json::to_vec(pkg).unwrap_or_default();
    let mut content = Vec::new();
    leb(&mut content, SECTION.len() as u64);
    content.extend_from_slice(SECTION.as_bytes());
    content.extend_from_slice(&body);
    let mut out = component.to_vec();
    out.push(0); // custom section
    leb(&mut out, content.len() as u64);
    out.extend_from_slice(&content);
    out
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The top-level custom sections and import names of a component.
struct Top<'a> {
    sections: Vec<(&'a str, &'a [u8])>,
    imports: Vec<String>,
}

fn top(bytes: &[u8]) -> Result<Top<'_>, String> {
    let mut out = Top {
        sections: Vec::new(),
        imports: Vec::new(),
    };
    if !wasmparser::Parser::is_component(bytes) {
        return Err("not a WebAssembly component".into());
    }
    // Nested modules and components are walked too: count how deep we are.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid component: {e}"))?;
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::CustomSection(r) if depth == 0 => {
                out.sections.push((r.name(), r.data()));
            }
            wasmparser::Payload::ComponentImportSection(r) if depth == 0 => {
                for import in r {
                    let import = import.map_err(|e| format!("reading its imports: {e}"))?;
                    out.imports.push(import.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The `volley:scenario` interfaces a component imports (`http`, `kafka`,
/// `ws`, `metrics`, ...), sorted.
pub(super) fn scenario_imports(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = top(bytes)?
        .imports
        .iter()
        .filter_map(|name| {
            let rest = name.strip_prefix("volley:scenario/")?;
            Some(rest.split('@').next().unwrap_or(rest).to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Why a component's package section cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not a component at all, or cut short.
    #[error("{0}")]
    Unreadable(String),
    #[error("its `{SECTION}` section is damaged: {0}")]
    Damaged(serde_json::Error),
    #[error("its package format {0} is newer than this volley reads ({FORMAT}); update volley")]
    Newer(u32),
}

/// The package a component carries; none for a plain component, an error
/// for a damaged or newer section.
pub fn read_package(bytes: &[u8]) -> Result<Option<Package>, ManifestError> {
    let t = top(bytes).map_err(ManifestError::Unreadable)?;
    let Some((_, data)) = t.sections.iter().rev().find(|(n, _)| *n == SECTION) else {
        return Ok(None);
    };
    let pkg: Package = serde_json::from_slice(data).map_err(ManifestError::Damaged)?;
    if pkg.format > FORMAT {
        return Err(ManifestError::Newer(pkg.format));
    }
    Ok(Some(pkg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_encodes_like_the_spec() {
        let mut v = Vec::new();
        leb(&mut v, 624485);
        assert_eq!(v, [0xe5, 0x8e, 0x26]);
        let mut v = Vec::new();
        leb(&mut v, 5);
        assert_eq!(v, [5]);
    }

    #[test]
    fn a_core_module_is_not_a_package() {
        let core = [0, b'a', b's', b'm', 1, 0, 0, 0];
        assert!(
            read_package(&core)
                .unwrap_err()
                .to_string()
                .contains("not a WebAssembly component")
        );
    }
}
