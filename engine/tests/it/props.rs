//! Property tests over what users and packages hand volley: durations, sizes,
//! threshold expressions, plan files and component bytes. Whatever the input,
//! the answer is a value or an error that names the input, never a panic.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use volley::metrics::Selector;
use volley::plan::{self, Overrides, format_duration, parse_duration, parse_size};

/// A number of a unit, as plans write durations.
fn duration_text() -> impl Strategy<Value = (String, Duration)> {
    let unit = prop_oneof![
        Just(("h", 3_600_000_000u64)),
        Just(("m", 60_000_000)),
        Just(("s", 1_000_000)),
        Just(("ms", 1_000)),
        Just(("us", 1)),
    ];
    prop::collection::vec((0u64..10_000, unit), 1..4).prop_map(|parts| {
        let text: String = parts.iter().map(|(n, (u, _))| format!("{n}{u}")).collect();
        let micros: u64 = parts.iter().map(|(n, (_, us))| n * us).sum();
        (text, Duration::from_micros(micros))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_is_a_duration_or_an_error(text in ".{0,24}") {
        // Never a panic; an error names what was written.
        if let Err(e) = parse_duration(&text) {
            prop_assert!(!e.0.is_empty());
        }
    }

    #[test]
    fn huge_numbers_are_an_error_not_a_panic(digits in "[1-9][0-9]{15,40}", unit in "(h|m|s|ms|us)") {
        let text = format!("{digits}{unit}");
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(d.as_secs() < u64::MAX);
        }
        let size = format!("{digits}GiB");
        if let Ok(n) = parse_size(&size) {
            // No silent wrap-around: the value is at least the digits.
            prop_assert!(n >= digits.parse::<u64>().unwrap_or(u64::MAX));
        }
    }

    #[test]
    fn written_durations_parse_to_their_value((text, want) in duration_text()) {
        let got = parse_duration(&text).map_err(|e| TestCaseError::fail(e.0))?;
        let diff = got.abs_diff(want);
        prop_assert!(diff <= Duration::from_micros(1), "{text}: {got:?} != {want:?}");
    }

    /// What volley prints (rounded for reading) parses back to within the
    /// precision it shows: a duration from a message can be pasted into a plan.
    #[test]
    fn formatted_durations_parse_back(ms in 0u64..10_000_000) {
        let d = Duration::from_millis(ms);
        let back = parse_duration(&format_duration(d)).map_err(|e| TestCaseError::fail(e.0))?;
        prop_assert!(back.abs_diff(d) < Duration::from_secs(1), "{d:?} -> {back:?}");
    }

    #[test]
    fn any_selector_or_threshold_is_parsed_or_refused(
        sel in "[a-z_{}:,' ]{0,30}",
        expr in "[a-z0-9()<>=!. %]{0,24}",
    ) {
        if let Ok(s) = Selector::parse(&sel) {
            let _ = volley::metrics::Threshold::parse(s, &expr);
        }
    }
}

/// A value TOML accepts for some plan field, right type or not.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..5_000).prop_map(|n| n.to_string()),
        Just("-1".to_string()),
        Just("18446744073709551615".to_string()),
        Just("1e308".to_string()),
        Just("0.5".to_string()),
        "[a-z0-9:./]{0,12}".prop_map(|s| format!("{s:?}")),
        duration_text().prop_map(|(t, _)| format!("{t:?}")),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("[{ duration = \"1s\", target = 3 }]".to_string()),
    ]
}

fn scenario_key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "executor",
        "exec",
        "startTime",
        "gracefulStop",
        "vus",
        "iterations",
        "duration",
        "maxDuration",
        "startVUs",
        "stages",
        "gracefulRampDown",
        "rate",
        "startRate",
        "timeUnit",
        "preAllocatedVUs",
        "maxVUs",
        "spawnRate",
        "nope",
    ])
}

fn executor() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "shared-iterations",
        "per-vu-iterations",
        "constant-vus",
        "ramping-vus",
        "constant-arrival-rate",
        "ramping-arrival-rate",
        "externally-controlled",
        "",
    ])
}

/// A plan file: one to three scenarios with random fields, maybe a
/// threshold and a target.
fn plan_text() -> impl Strategy<Value = String> {
    let scenario = (
        executor(),
        prop::collection::vec((scenario_key(), toml_value()), 0..6),
    );
    (
        prop::collection::vec(scenario, 1..4),
        prop::option::of(("[a-z_{}:]{1,20}", "[a-z0-9()<>=. ]{0,16}")),
        prop::option::of("[a-z0-9:./]{0,20}"),
    )
        .prop_map(|(scenarios, threshold, target)| {
            let mut t = String::new();
            if let Some(url) = target {
                t += &format!("[targets]\napi = {url:?}\n\n");
            }
            if let Some((metric, expr)) = threshold {
                t += &format!("[thresholds]\n{metric:?} = [{expr:?}]\n\n");
            }
            for (i, (executor, fields)) in scenarios.iter().enumerate() {
                t += &format!("[scenarios.s{i}]\nexecutor = {executor:?}\n");
                let mut seen = vec!["executor"];
                for (k, v) in fields {
                    if !seen.contains(k) {
                        seen.push(k);
                        t += &format!("{k} = {v}\n");
                    }
                }
                t += "\n";
            }
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_plan_file_is_a_plan_or_an_error(text in plan_text()) {
        let Ok(raw) = toml::from_str::<plan::RawPlan>(&text) else {
            return Ok(());
        };
        let ov = Overrides {
            component: Some(Path::new("scenario.wasm").to_path_buf()),
            ..Overrides::default()
        };
        match plan::validate(raw, Path::new("fuzz.toml"), Path::new("."), &ov) {
            Ok(p) => {
                // What validates is runnable: bounded and non-empty.
                prop_assert!(!p.scenarios.is_empty());
                prop_assert!(p.max_end() < Duration::from_secs(u64::MAX / 4));
            }
            Err(e) => prop_assert!(e.to_string().contains("fuzz.toml"), "{e}"),
        }
    }
}

/// One VU, no pooling, no compile cache: every input is compiled afresh.
fn bare_runtime() -> volley::wasm::Runtime {
    volley::wasm::Runtime::new(volley::wasm::RuntimeConfig {
        max_vus: 1,
        pooling: false,
        cache: false,
        ..Default::default()
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A package someone corrupted (or wrote to hurt): a real component with
    /// bytes overwritten is loaded or refused with a message, never a panic.
    #[test]
    fn a_corrupted_component_is_refused_not_a_crash(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = std::fs::read(crate::support::fixture()).unwrap();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let rt = bare_runtime();
        if let Err(e) = rt.load_bytes(Path::new("corrupt.wasm"), &bytes) {
            prop_assert!(e.to_string().contains("corrupt.wasm"), "{e}");
        }
    }

    #[test]
    fn random_bytes_are_refused_as_not_a_component(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        magic in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if magic {
            // Past the magic number, so the parser itself is exercised.
            let mut b = b"\0asm\x0d\0\x01\0".to_vec();
            b.extend(bytes);
            bytes = b;
        }
        let rt = bare_runtime();
        let e = rt.load_bytes(Path::new("random.wasm"), &bytes);
        prop_assert!(e.is_err());
        prop_assert!(e.err().unwrap().to_string().contains("random.wasm"));
    }
}
