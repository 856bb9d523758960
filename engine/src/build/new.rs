//! `volley new`: a scenario folder that builds and runs out of the box
//! against the embedded targets. Templates live in `engine/templates/`.

use std::path::{Path, PathBuf};

use crate::Error;

const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs.tmpl"),
    ),
    (
        "plans/default.toml",
        include_str!("../../templates/rust/plans/default.toml.tmpl"),
    ),
];

/// The SDK this engine was built with (a path dependency until it is published).
fn sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/rust")
}

/// Writes a new scenario folder at `dir` in `lang` (only `rust` for now).
pub fn scaffold(dir: &Path, lang: &str) -> Result<Vec<PathBuf>, Error> {
    let files = match lang {
        "rust" => RUST,
        other => {
            return Err(Error::Config(format!(
                "--lang {other}: only `rust` is available in this version"
            )));
        }
    };
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Config(format!(
            "{}: exists and is not empty; pick a new folder",
            dir.display()
        )));
    }
    let name: String = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("scenario")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name
    } else {
        format!("scenario-{name}")
    };
    let sdk = std::fs::canonicalize(sdk_path()).unwrap_or_else(|_| sdk_path());
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        let text = text
            .replace("{{name}}", &name)
            .replace("{{sdk}}", &sdk.display().to_string());
        std::fs::write(&path, text)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_rust_scenario_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir()
            .join(format!("volley-new-{}", std::process::id()))
            .join("My Test");
        let files = scaffold(&dir, "rust").unwrap();
        assert_eq!(files.len(), 3);
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"my-test\""), "{cargo}");
        assert!(!cargo.contains("{{"), "{cargo}");
        let e = scaffold(&dir, "rust").unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        let e = scaffold(&dir.with_file_name("other"), "cobol")
            .unwrap_err()
            .to_string();
        assert!(e.contains("only `rust`"), "{e}");
        std::fs::remove_dir_all(dir.parent().unwrap()).ok();
    }
}
