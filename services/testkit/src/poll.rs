//! Waiting for asynchronous work without sleeping for a fixed time.

use std::{future::Future, time::Duration};

/// Polls `check` every 25 ms until it returns `Some`, or panics after `deadline` with
/// `what` in the message.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = tokio::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `{base_url}/health/ready` until the service is ready (200) and, if it uses a
/// broker, connected to it; returns the report. Other degraded checks (a cache a test
/// made unreachable on purpose) do not hold it back.
///
/// A service connects to the broker in the background and declares the topology on
/// connecting, so a test that needs the queues must wait for this.
pub async fn until_ready(
    client: &reqwest::Client,
    base_url: &str,
    deadline: Duration,
) -> serde_json::Value {
    let url = format!("{base_url}/health/ready");
    let mut last = serde_json::Value::Null;
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(response) = client.get(&url).send().await {
            let ok = response.status().is_success();
            let report = response
                .json::<serde_json::Value>()
                .await
                .unwrap_or_default();
            let broker = &report["checks"]["broker"];
            if ok && (broker.is_null() || broker["status"] == "UP") {
                return report;
            }
            last = report;
        }
        assert!(
            started.elapsed() < deadline,
            "{base_url} not ready after {deadline:?}; last report: {last}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
