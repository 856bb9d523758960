//! `volley new`: a scenario folder that builds and runs out of the box
//! against the embedded targets. Templates live in `engine/templates/`.

use std::path::{Path, PathBuf};

use super::Lang;
use crate::Error;

const PLAN: (&str, &str) = (
    "plans/default.toml",
    include_str!("../../templates/default-plan.toml.tmpl"),
);

const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs.tmpl"),
    ),
    PLAN,
];

const PYTHON: &[(&str, &str)] = &[
    (
        "scenario.py",
        include_str!("../../templates/python/scenario.py.tmpl"),
    ),
    PLAN,
];

const JS: &[(&str, &str)] = &[
    (
        "scenario.js",
        include_str!("../../templates/js/scenario.js.tmpl"),
    ),
    PLAN,
];

const C: &[(&str, &str)] = &[
    (
        "scenario.c",
        include_str!("../../templates/c/scenario.c.tmpl"),
    ),
    PLAN,
];

/// Writes a new scenario folder at `dir` in `lang` (rust, python, js or c).
pub fn scaffold(dir: &Path, lang: &str) -> Result<Vec<PathBuf>, Error> {
    let files = match Lang::parse(lang) {
        Some(Lang::Rust) => RUST,
        Some(Lang::Python) => PYTHON,
        Some(Lang::Js) => JS,
        Some(Lang::C) => C,
        None => {
            return Err(Error::Config(format!(
                "--lang {lang}: pick one of rust, python, js, c"
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
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        let text = text.replace("{{name}}", &name);
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
        // Nothing of this checkout: the folder builds wherever it is.
        assert!(
            cargo.contains("volley-sdk = \"0.1\"") && !cargo.contains("path"),
            "{cargo}"
        );
        let e = scaffold(&dir, "rust").unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        let e = scaffold(&dir.with_file_name("other"), "cobol")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rust, python, js, c"), "{e}");
        std::fs::remove_dir_all(dir.parent().unwrap()).ok();
    }
}
