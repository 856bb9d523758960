//! `volley pack <folder>`: build the scenario, then embed its metadata
//! (`wasm-metadata`: name, version, description, authors, license, source,
//! homepage), parameters, plans and capability manifest in the component.
//!
//! Metadata comes from the folder's optional `package.toml`, else from its
//! `Cargo.toml` `[package]` or `package.json`, else from the build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::caps::Capabilities;
use super::manifest::{self, FORMAT, Package, Param};
use crate::Error;
use crate::plan::RawPlan;

/// `package.toml`: what a package says about itself beyond its sources.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageToml {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    license: Option<String>,
    source: Option<String>,
    homepage: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, ParamToml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamToml {
    description: Option<String>,
    default: Option<String>,
}

/// Packs `folder`; returns the package file and what it carries.
pub fn pack(folder: &Path, out: Option<&Path>, quiet: bool) -> Result<(PathBuf, Package), Error> {
    if !folder.is_dir() {
        return Err(Error::Config(format!(
            "{}: not a scenario folder (volley pack takes the folder that `volley build` builds)",
            folder.display()
        )));
    }
    let built = crate::build::build(
        folder,
        &crate::build::BuildOptions {
            force: false,
            quiet,
        },
    )?;
    let bytes = std::fs::read(&built.component)
        .map_err(|e| Error::io(format!("reading {}", built.component.display()), e))?;
    let meta = crate::build::read_metadata(&bytes);
    let toml_path = folder.join("package.toml");
    let declared: PackageToml = match std::fs::read_to_string(&toml_path) {
        Ok(text) => toml::from_str(&text).map_err(|e| Error::Plan {
            path: toml_path.clone(),
            message: e.to_string(),
        })?,
        Err(_) => PackageToml::default(),
    };
    let fallback = from_manifests(folder);
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    let plans = read_plans(&folder.join("plans"))?;
    let parsed: Vec<RawPlan> = plans
        .iter()
        .map(|(_, _, raw)| raw.clone())
        .collect::<Vec<_>>();
    let mut params: Vec<Param> = declared
        .params
        .iter()
        .map(|(name, p)| Param {
            name: name.clone(),
            description: p.description.clone(),
            default: p.default.clone(),
        })
        .collect();
    // Parameters the plans set but package.toml does not describe: their
    // default is what the default plan (or the first plan) gives them.
    for (_, _, raw) in plans.iter() {
        let mut set: Vec<(&String, &String)> = raw.options.params.iter().collect();
        for s in raw.scenarios.values() {
            set.extend(s.params.iter());
        }
        for (k, v) in set {
            if !params.iter().any(|p| &p.name == k) {
                params.push(Param {
                    name: k.clone(),
                    description: None,
                    default: Some(v.clone()),
                });
            }
        }
    }
    params.sort_by(|a, b| a.name.cmp(&b.name));
    let imports = manifest::scenario_imports(&bytes).map_err(|m| Error::Component {
        path: built.component.clone(),
        message: m,
    })?;
    let declared_names: Vec<String> = declared.params.keys().cloned().collect();
    let pkg = Package {
        format: FORMAT,
        name: declared
            .name
            .clone()
            .or(meta.name.clone())
            .unwrap_or_else(|| "scenario".into()),
        version: declared
            .version
            .clone()
            .or(fallback.version.clone())
            .or(meta.version.clone())
            .unwrap_or_else(|| "0.0.0".into()),
        description: pick(&declared.description, &fallback.description),
        authors: if declared.authors.is_empty() {
            fallback.authors.clone()
        } else {
            declared.authors.clone()
        },
        license: pick(&declared.license, &fallback.license),
        source: pick(&declared.source, &fallback.source),
        homepage: pick(&declared.homepage, &fallback.homepage),
        params,
        plans: plans
            .iter()
            .map(|(name, text, _)| (name.clone(), text.clone()))
            .collect(),
        capabilities: Capabilities::of(imports, &parsed, &declared_names),
    };
    let with_meta = add_metadata(&bytes, &pkg, &toml_path)?;
    let packed = manifest::append(&with_meta, &pkg);
    let out = match out {
        Some(p) => p.to_path_buf(),
        None => built
            .component
            .with_file_name(format!("{}-{}.pkg.wasm", pkg.name, pkg.version)),
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(&out, packed).map_err(|e| Error::io(format!("writing {}", out.display()), e))?;
    Ok((out, pkg))
}

/// The plans of `dir` (`NAME.toml`), each parsed to catch mistakes now.
fn read_plans(dir: &Path) -> Result<Vec<(String, String, RawPlan)>, Error> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        let raw = crate::plan::load_plan_file(&p)?;
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, text, raw));
    }
    Ok(out)
}

/// Description, authors, license, source, homepage found in a folder's
/// `Cargo.toml` or `package.json`.
#[derive(Debug, Default)]
struct Found {
    version: Option<String>,
    description: Option<String>,
    authors: Vec<String>,
    license: Option<String>,
    source: Option<String>,
    homepage: Option<String>,
}

fn from_manifests(folder: &Path) -> Found {
    let mut f = Found::default();
    if let Ok(text) = std::fs::read_to_string(folder.join("Cargo.toml"))
        && let Ok(v) = toml::from_str::<toml::Value>(&text)
        && let Some(p) = v.get("package")
    {
        let s = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        f.version = s("version");
        f.description = s("description");
        f.license = s("license");
        f.source = s("repository");
        f.homepage = s("homepage");
        f.authors = p
            .get("authors")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
    } else if let Ok(text) = std::fs::read_to_string(folder.join("package.json"))
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
    {
        let s = |k: &str| v.get(k).and_then(|v| v.as_str()).map(str::to_string);
        f.version = s("version");
        f.description = s("description");
        f.license = s("license");
        f.homepage = s("homepage");
        f.source = s("repository").or_else(|| {
            v.get("repository")
                .and_then(|r| r.get("url"))
                .and_then(|u| u.as_str())
                .map(str::to_string)
        });
        f.authors = s("author").into_iter().collect();
    }
    f
}

fn add_metadata(bytes: &[u8], pkg: &Package, toml_path: &Path) -> Result<Vec<u8>, Error> {
    use wasm_metadata::{AddMetadata, AddMetadataField as F};
    let bad = |field: &str, value: &str, e: anyhow::Error| Error::Plan {
        path: toml_path.to_path_buf(),
        message: format!("{field} `{value}`: {e}"),
    };
    let mut m = AddMetadata::default();
    m.name = F::Set(pkg.name.clone());
    m.version = F::Set(wasm_metadata::Version::new(pkg.version.clone()));
    if let Some(d) = &pkg.description {
        m.description = F::Set(wasm_metadata::Description::new(d.clone()));
    }
    if !pkg.authors.is_empty() {
        m.authors = F::Set(wasm_metadata::Authors::new(pkg.authors.join(", ")));
    }
    if let Some(l) = &pkg.license {
        m.licenses = F::Set(
            wasm_metadata::Licenses::new(l)
                .map_err(|e| bad("license (an SPDX expression)", l, e))?,
        );
    }
    if let Some(s) = &pkg.source {
        m.source = F::Set(wasm_metadata::Source::new(s).map_err(|e| bad("source (a URL)", s, e))?);
    }
    if let Some(h) = &pkg.homepage {
        m.homepage =
            F::Set(wasm_metadata::Homepage::new(h).map_err(|e| bad("homepage (a URL)", h, e))?);
    }
    m.to_wasm(bytes)
        .map_err(|e| Error::Build(format!("embedding the package metadata: {e:#}")))
}
