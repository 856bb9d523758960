//! `volley report`: draw a summary export as an HTML report, or one trend's
//! latency histogram as PNG or SVG.

use super::*;

pub(super) fn cmd_report(args: ReportArgs) -> Result<ExitCode, Error> {
    if args.html.is_none() && args.png.is_none() && args.svg.is_none() {
        return Err(Error::Config(
            "volley report: say what to write: --html FILE, --png FILE or --svg FILE".into(),
        ));
    }
    let path = &args.export;
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let export: crate::output::Export = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Config(format!(
            "{}: not a volley summary export (write one with `volley run --summary-export`): {e}",
            path.display()
        ))
    })?;
    let bad = |e: crate::output::ExportError| Error::Config(format!("{}: {e}", path.display()));
    let write = |to: &std::path::Path, data: &[u8]| {
        std::fs::write(to, data).map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
        println!("wrote {} ({} bytes)", to.display(), data.len());
        Ok::<(), Error>(())
    };
    if let Some(to) = &args.html {
        write(
            to,
            crate::output::report_html(&export).map_err(bad)?.as_bytes(),
        )?;
    }
    if args.png.is_some() || args.svg.is_some() {
        let size = parse_size(&args.size)?;
        let svg = crate::output::histogram_svg(&export, &args.metric, args.bins as usize, size)
            .map_err(bad)?;
        if let Some(to) = &args.svg {
            write(to, svg.as_bytes())?;
        }
        if let Some(to) = &args.png {
            let png = crate::output::svg_to_png(&svg).map_err(|e| Error::Other(e.to_string()))?;
            write(to, &png)?;
        }
    }
    Ok(ExitCode::Ok)
}

/// `WIDTHxHEIGHT`, each 100 to 8,000 pixels.
fn parse_size(s: &str) -> Result<(u32, u32), Error> {
    let bad = || {
        Error::Config(format!(
            "--size {s}: write WIDTHxHEIGHT in pixels, each 100 to 8000 (e.g. 960x540)"
        ))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (
        w.trim().parse().map_err(|_| bad())?,
        h.trim().parse().map_err(|_| bad())?,
    );
    if !(100..=8000).contains(&w) || !(100..=8000).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}
