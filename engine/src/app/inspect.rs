//! `volley inspect`: what a component exports and carries.

use super::*;

pub(super) fn cmd_inspect(args: InspectArgs) -> Result<ExitCode, Error> {
    let runtime = Runtime::new(RuntimeConfig {
        max_vus: 1,
        pooling: false,
        ..Default::default()
    })?;
    let c = runtime.load(&args.component)?;
    let info = c.info();
    let bytes = std::fs::read(&args.component).unwrap_or_default();
    let meta = crate::build::read_metadata(&bytes);
    let package = crate::package::read_package(&bytes).ok().flatten();
    if args.json {
        let v = serde_json::json!({
            "path": args.component,
            "world": "volley:scenario/scenario@0.2.0",
            "metadata": meta,
            "package": package,
            "size": info.size,
            "imports": info.imports,
            "exports": info.exports,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("component: {}", args.component.display());
        println!("world:     volley:scenario/scenario@0.2.0");
        let show = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                println!("{label:<10} {v}");
            }
        };
        show("name:", &meta.name);
        show("version:", &meta.version);
        show("language:", &meta.language);
        show("sdk:", &meta.sdk);
        if !meta.processed_by.is_empty() {
            println!("built by:  {}", meta.processed_by.join(", "));
        }
        println!(
            "size:      {} bytes ({:.1} KiB)",
            info.size,
            info.size as f64 / 1024.0
        );
        if let Some(pkg) = &package {
            for line in crate::package::describe(pkg) {
                println!("{line}");
            }
        }
        println!("imports:");
        for i in &info.imports {
            println!("  {i}");
        }
        println!("exports:");
        for e in &info.exports {
            println!("  {e}");
        }
    }
    Ok(ExitCode::Ok)
}
