//! `volley build` and `volley new`.

use super::*;

pub(super) fn cmd_build(args: BuildArgs) -> Result<ExitCode, Error> {
    let built = crate::build::build(
        &args.dir,
        &crate::build::BuildOptions {
            force: args.force,
            quiet: false,
        },
    )?;
    eprintln!(
        "{} ({}, {}{})",
        built.component.display(),
        built.lang.as_str(),
        built.toolchain,
        if built.rebuilt { "" } else { ", up to date" }
    );
    println!("{}", built.component.display());
    Ok(ExitCode::Ok)
}

pub(super) fn cmd_new(args: NewArgs) -> Result<ExitCode, Error> {
    let files = crate::build::scaffold(&args.dir, &args.lang)?;
    for f in &files {
        println!("created {}", f.display());
    }
    println!("run it: volley run {}", args.dir.display());
    Ok(ExitCode::Ok)
}
