//! Replicas from DNS: a pool configured with `GATEWAY_<POOL>_DNS=name:port` has one
//! replica per address the name resolves to, resolved again every refresh interval.
//!
//! This is how the gateway sees the pods behind a Kubernetes headless service: scaling
//! the deployment changes the addresses, and the pool follows within one interval. A
//! failed lookup keeps the replicas the pool had, so a DNS blip does not empty it.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use http::uri::Authority;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::pool::Pool;

/// The addresses `host` resolves to, as sorted, distinct `ip:port` authorities.
pub async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<Authority>> {
    let addresses: BTreeSet<std::net::SocketAddr> =
        tokio::net::lookup_host((host, port)).await?.collect();
    addresses
        .into_iter()
        // `SocketAddr` prints IPv6 in brackets, as an authority needs.
        .map(|addr| {
            Authority::try_from(addr.to_string())
                .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
        })
        .collect()
}

/// Resolves `host` every `every` until `shutdown` and updates `pool`.
pub async fn run(
    pool: Arc<Pool>,
    host: String,
    port: u16,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is immediate; start-up resolved already.
    ticker.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match resolve(&host, port).await {
            Ok(replicas) if !replicas.is_empty() => pool.set_replicas(replicas),
            Ok(_) => {
                tracing::warn!(pool = %pool.name(), dns.name = %host, "DNS name has no addresses; keeping the last known replicas")
            }
            Err(error) => {
                tracing::warn!(pool = %pool.name(), dns.name = %host, %error, "DNS lookup failed; keeping the last known replicas")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_resolved_address_becomes_a_replica() {
        let replicas = resolve("127.0.0.1", 8082).await.unwrap();
        assert_eq!(replicas, vec![Authority::from_static("127.0.0.1:8082")]);
        let replicas = resolve("::1", 8082).await.unwrap();
        assert_eq!(replicas, vec![Authority::from_static("[::1]:8082")]);
    }

    #[tokio::test]
    async fn an_unknown_name_is_an_error() {
        assert!(resolve("no-such-host.invalid", 80).await.is_err());
    }
}
