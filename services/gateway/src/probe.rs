//! Active health checks: every interval, each replica of each pool is asked for its
//! health path (`/health/ready`); a 200 puts it in rotation, anything else takes it out.
//!
//! The services answer 503 there while their database is down (ARCHITECTURE "Readiness"),
//! so a replica that cannot serve leaves the rotation and comes back by itself. Checks
//! use fresh connections, so a replica that stopped listening fails at once.

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::{pool::Pool, upstream::UpstreamClient};

/// Checks every replica of `pools` now, concurrently.
pub async fn check_all(pools: &[Arc<Pool>], client: &UpstreamClient, timeout: Duration) {
    let checks = pools.iter().flat_map(|pool| {
        pool.replicas()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .map(move |replica| {
                let pool = pool.clone();
                async move {
                    let result = client
                        .check(&replica, &pool.config().health_path, timeout)
                        .await;
                    pool.record_check(&replica, result);
                }
            })
    });
    join_all(checks).await;
}

/// Checks every `interval` (the first round at once) until `shutdown`.
pub async fn run(
    pools: Vec<Arc<Pool>>,
    connect_timeout: Duration,
    interval: Duration,
    timeout: Duration,
    shutdown: CancellationToken,
) {
    // No idle connections: a check must prove that the replica still accepts new ones.
    let client = UpstreamClient::new(connect_timeout.min(timeout), 0);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = check_all(&pools, &client, timeout) => {}
        }
    }
}
