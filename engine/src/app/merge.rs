//! `volley merge`: merge summary exports of several shards.

use super::*;

pub(super) fn cmd_merge(args: MergeArgs) -> Result<ExitCode, Error> {
    let mut merged: Option<crate::output::Export> = None;
    for p in &args.inputs {
        let bytes =
            std::fs::read(p).map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        let e: crate::output::Export = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Config(format!(
                "{}: not a volley summary export (write one with `volley run --summary-export`): {e}",
                p.display()
            ))
        })?;
        merged = Some(match merged {
            None => e,
            Some(m) => crate::output::merge_exports(&m, &e)
                .map_err(|m| Error::Config(format!("{}: {m}", p.display())))?,
        });
    }
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    std::fs::write(&args.output, text)
        .map_err(|e| Error::io(format!("writing {}", args.output.display()), e))?;
    println!(
        "merged {} exports into {}",
        args.inputs.len(),
        args.output.display()
    );
    Ok(ExitCode::Ok)
}
