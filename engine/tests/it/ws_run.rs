//! WebSocket scenarios (scripts/auction) against the auction target on its
//! own runtime: fan-out reaches every viewer, counts match what the service
//! saw, lost receivers show in the delivery rate, failures are classified.

use crate::support::*;

/// `viewers` viewers on item 1 for 6 s; the publisher bids once a second
/// for 3 s from 1 s on, expecting `expected` viewers.
fn fan_out_plan(url: &str, viewers: u32, expected: u32) -> String {
    format!(
        r#"
        [targets]
        api = "{url}"
        [scenarios.viewers]
        executor = "constant-vus"
        exec = "viewer"
        vus = {viewers}
        duration = "6s"
        [scenarios.viewers.params]
        window_ms = "500"
        [scenarios.publisher]
        executor = "constant-arrival-rate"
        exec = "fanout"
        rate = 1
        timeUnit = "1s"
        duration = "3s"
        startTime = "1s"
        preAllocatedVUs = 1
        [scenarios.publisher.params]
        expected_viewers = "{expected}"
        "#
    )
}

#[test]
fn fan_out_reaches_every_viewer_and_matches_the_target() {
    let (rt, server) = standalone_auction();
    let out = run_plan(plan(&fan_out_plan(&server.url(), 50, 50), &auction()));
    let stats = server.stats();
    let events = stats.bids_accepted;
    assert!((3..=4).contains(&events), "{stats:?}");
    assert_eq!(counter(&out, "ws_sessions"), 50.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    assert_eq!(stats.viewer_sessions, 50);
    // Every viewer got every event, and the engine saw each arrival.
    assert_eq!(
        rate_counts(&out, "ws_fanout_delivered"),
        (events * 50, events * 50)
    );
    assert_eq!(trend_count(&out, "ws_fanout_latency"), events * 50);
    assert_eq!(trend_count(&out, "ws_fanout_complete"), events);
    assert_eq!(
        counter(&out, "ws_msgs_received"),
        stats.broadcasts_sent as f64
    );
    assert_eq!(counter(&out, "ws_fanout_incomplete"), 0.0);
    assert_eq!(trend_count(&out, "ws_session_duration"), 50);
    assert_eq!(trend_count(&out, "ws_connecting"), 50);
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    rt.block_on(server.shutdown());
}

#[test]
fn missing_viewers_show_in_the_delivery_rate() {
    let (rt, server) = standalone_auction();
    // The publisher expects 8 viewers; only 5 exist.
    let out = run_plan(plan(&fan_out_plan(&server.url(), 5, 8), &auction()));
    let events = server.stats().bids_accepted;
    assert!(events >= 3, "{events}");
    assert_eq!(
        rate_counts(&out, "ws_fanout_delivered"),
        (events * 5, events * 8)
    );
    assert_eq!(counter(&out, "ws_fanout_incomplete"), events as f64);
    assert_eq!(trend_count(&out, "ws_fanout_complete"), 0);
    rt.block_on(server.shutdown());
}

#[test]
fn contended_bids_match_the_target_and_rejections_are_not_errors() {
    let (rt, server) = standalone_auction();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{}"
            [scenarios.bidders]
            executor = "shared-iterations"
            exec = "contended-bidder"
            vus = 30
            iterations = 600
            [thresholds]
            http_req_failed = ["rate==0"]
            checks = ["rate==1"]
            "#,
            server.url()
        ),
        &auction(),
    );
    let out = run_plan(p);
    let stats = server.stats();
    assert_eq!(stats.bids_accepted + stats.bids_rejected, 600);
    assert_eq!(counter(&out, "iterations"), 600.0);
    assert_eq!(counter(&out, "iterations_failed"), 0.0);
    assert!(stats.bids_rejected > 0, "30 VUs on one item never collided");
    assert_eq!(
        rate_counts(&out, "bid_accepted"),
        (stats.bids_accepted, 600)
    );
    assert_eq!(rate_counts(&out, "http_req_failed"), (0, 600));
    assert_eq!(
        rate_where(&out, "http_req_failed", "status", "409"),
        (0, stats.bids_rejected)
    );
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    rt.block_on(server.shutdown());
}

#[test]
fn a_dead_target_counts_ws_errors_by_class() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "http://127.0.0.1:{port}"
            [scenarios.viewers]
            executor = "per-vu-iterations"
            exec = "viewer"
            vus = 2
            iterations = 3
            [scenarios.viewers.params]
            reconnect_ms = "50"
            "#
        ),
        &auction(),
    );
    let out = run_plan(p);
    assert_eq!(counter_where(&out, "ws_errors", "class", "refused"), 6.0);
    assert_eq!(counter(&out, "ws_sessions"), 0.0);
    assert_eq!(counter(&out, "iterations_failed"), 6.0);
}

#[test]
fn mixed_deals_vus_out_to_bidders_and_viewers_by_weight() {
    let (rt, server) = standalone_auction();
    let p = plan(
        &format!(
            r#"
            [targets]
            api = "{}"
            [scenarios.mixed]
            executor = "constant-vus"
            exec = "mixed"
            vus = 10
            duration = "2s"
            [scenarios.mixed.params]
            bidder_weight = "1"
            viewer_weight = "4"
            think_ms = "100"
            window_ms = "300"
            "#,
            server.url()
        ),
        &auction(),
    );
    let out = run_plan(p);
    let stats = server.stats();
    // VU ids 1..=10: id % 5 == 0 bids (ids 5 and 10), the other 8 watch.
    assert_eq!(counter(&out, "ws_sessions"), 8.0);
    assert_eq!(stats.viewer_sessions, 8);
    let bids = counter_where(&out, "http_reqs", "name", "bid");
    assert!(bids > 0.0);
    assert_eq!(bids as u64, stats.bids_accepted + stats.bids_rejected);
    // Viewers took bids the service broadcast (some may land after a
    // viewer's last iteration, so not necessarily all).
    let received = counter(&out, "ws_msgs_received");
    assert!(received > 0.0 && received <= stats.broadcasts_sent as f64);
    assert_eq!(out.exit, volley::ExitCode::Ok, "{:?}", out.problem);
    rt.block_on(server.shutdown());
}
