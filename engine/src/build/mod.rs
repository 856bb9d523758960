//! PLACEHOLDER until the builder lands.
use std::path::{Path, PathBuf};
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub force: bool,
    pub quiet: bool,
}
#[derive(Debug, Clone)]
pub struct Built {
    pub component: PathBuf,
}
pub fn build(dir: &Path, _opts: &BuildOptions) -> Result<Built, crate::Error> {
    Err(crate::Error::Build(format!("{}: not yet", dir.display())))
}
