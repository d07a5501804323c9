//! Sends at once under a declared rate (issue 9 §1, Rate): a race sends at most one second's
//! worth of `max_rate` together, bypassing the pacer for that burst only, or is SKIP.

use std::time::{Duration, Instant};

use xaa_conform::client::Pacer;
use xaa_conform::reference;

fn fixture(max_rate: Option<f64>) -> xaa_conform::fixture::Fixture {
    let issuers = xaa_conform::fixture::issuer_urls("http://127.0.0.1:9");
    let mut f = reference::embedded_fixture("http://127.0.0.1:8", &issuers, Duration::from_secs(5));
    f.max_rate = max_rate;
    f
}

#[test]
fn a_race_sends_one_seconds_worth_of_the_declared_rate_or_is_skip() {
    assert_eq!(fixture(None).burst_allowance(10), Ok(10));
    assert_eq!(fixture(Some(5.0)).burst_allowance(10), Ok(5));
    assert_eq!(fixture(Some(50.0)).burst_allowance(10), Ok(10));
    assert_eq!(fixture(Some(2.5)).burst_allowance(10), Ok(2));
    let skip = fixture(Some(1.0))
        .burst_allowance(10)
        .expect_err("no race at 1/s");
    assert!(
        skip.0.starts_with("not applicable to this target"),
        "{skip}"
    );
    assert!(skip.0.contains("max_rate 1/s"), "{skip}");
}

#[tokio::test]
async fn a_burst_takes_its_slots_of_the_pace_before_and_after() {
    // 20/s: one slot is 50 ms. A first request goes at once; a burst of 4 waits for 3 slots
    // after the next one (the bucket refills), and the request after it waits 4 slots more.
    let pacer = Pacer::new(20.0);
    let t0 = Instant::now();
    pacer.wait().await;
    assert!(t0.elapsed() < Duration::from_millis(30));
    pacer.wait_burst(4).await;
    let burst = t0.elapsed();
    assert!(burst >= Duration::from_millis(190), "{burst:?}");
    pacer.wait().await;
    let after = t0.elapsed();
    assert!(after >= burst + Duration::from_millis(190), "{after:?}");
}
