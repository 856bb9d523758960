//! `volley merge`: merge summary exports of several shards, or the
//! HdrHistogram interval logs they wrote (`--out hdr=`).

use super::*;

pub(super) fn cmd_merge(args: MergeArgs) -> Result<ExitCode, Error> {
    let mut files = Vec::new();
    for p in &args.inputs {
        let bytes =
            std::fs::read(p).map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        files.push((p.clone(), bytes));
    }
    let logs = files
        .iter()
        .filter(|(_, b)| crate::output::is_interval_log(b))
        .count();
    if logs > 0 {
        if let Some((p, _)) = files
            .iter()
            .find(|(_, b)| !crate::output::is_interval_log(b))
        {
            return Err(Error::Config(format!(
                "{}: not an HdrHistogram interval log; merge interval logs (`--out hdr=`) and summary exports separately",
                p.display()
            )));
        }
        let n = crate::output::merge_logs(&files, &args.output)?;
        println!(
            "merged {} interval logs into {} ({n} intervals)",
            files.len(),
            args.output.display()
        );
        return Ok(ExitCode::Ok);
    }
    let mut merged: Option<crate::output::Export> = None;
    for (p, bytes) in &files {
        let e: crate::output::Export = serde_json::from_slice(bytes).map_err(|e| {
            Error::Config(format!(
                "{}: not a volley summary export (write one with `volley run --summary-export`) nor an HdrHistogram interval log (`--out hdr=`): {e}",
                p.display()
            ))
        })?;
        merged = Some(match merged {
            None => e,
            Some(m) => crate::output::merge_exports(&m, &e)
                .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?,
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
