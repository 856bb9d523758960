//! Which component a VU runs: components are known by their digest, and a
//! running scenario moves to another component at iteration boundaries.

use crate::support::*;

#[test]
fn one_component_under_two_paths_is_set_up_and_torn_down_once() {
    let dir = scratch("swap", "two-paths");
    let copy = dir.join("copy.wasm");
    std::fs::copy(fixture(), &copy).unwrap();
    let p = plan(
        &format!(
            r#"
            [scenarios.a]
            executor = "per-vu-iterations"
            exec = "empty"
            vus = 1
            iterations = 2
            [scenarios.b]
            executor = "per-vu-iterations"
            exec = "empty"
            vus = 1
            iterations = 3
            component = "{}"
            "#,
            copy.display()
        ),
        &fixture(),
    );
    assert_ne!(p.scenarios[0].component, p.scenarios[1].component);
    let out = run_plan(p);
    assert_eq!(counter(&out, "iterations"), 5.0);
    assert_eq!(counter(&out, "fixture_teardowns"), 1.0);
    std::fs::remove_dir_all(&dir).ok();
}
