//! Errors explained: a run whose every request fails says why, in the
//! summary's ERRORS table and in the summary export.

use crate::support::*;

#[test]
fn a_run_refused_by_the_allowlist_says_why() {
    let dir = scratch("errors", "allowlist");
    let export = dir.join("export.json");
    let fixture = fixture();
    let (code, out, err) = volley(&[
        "run",
        fixture.to_str().unwrap(),
        "--exec",
        "http",
        "-e",
        "url=http://10.1.2.3:80/",
        "--iterations",
        "6",
        "--vus",
        "2",
        "--summary-export",
        export.to_str().unwrap(),
        "--quiet",
    ]);
    // Nothing succeeded: never green.
    assert_ne!(code, 0, "{out}\n{err}");
    let said = "10.1.2.3:80 is not an allowed host: list it in the plan's [targets] or pass --allow-host 10.1.2.3:80";
    let table = out
        .split("  ERRORS")
        .nth(1)
        .unwrap_or_else(|| panic!("no ERRORS table:\n{out}"));
    let mut lines = table.lines().skip(2);
    let row = lines.next().unwrap();
    assert!(row.contains("http") && row.contains(" 6 "), "{out}");
    let first = lines.next().unwrap();
    assert_eq!(first.trim(), format!("first: {said}"), "{out}");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let rows = doc["errors"].as_array().expect("errors in the export");
    let http = rows
        .iter()
        .find(|r| r["what"] == "http")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(http["count"], 6.0);
    assert_eq!(http["first_error"], said);
    // Kept per series too, so `volley merge` keeps it.
    let failed = doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "http_req_failed")
        .unwrap();
    assert_eq!(failed["first_error"], said);
    let merged = dir.join("merged.json");
    let (code, _, err) = volley(&[
        "merge",
        export.to_str().unwrap(),
        export.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let http = m["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["what"] == "http")
        .unwrap()
        .clone();
    assert_eq!(
        (http["count"].clone(), http["first_error"].clone()),
        (12.0.into(), said.into())
    );
    std::fs::remove_dir_all(&dir).ok();
}
