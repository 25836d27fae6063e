//! The gateway's own Prometheus families, next to the platform's HTTP ones.
//!
//! The platform [`Metrics`] counts requests by route and times them; this module adds
//! what only a gateway knows: answers per pool and status, upstream latency, retries,
//! rate-limit rejections, replica health and circuit state. `/metrics` renders both
//! registries as one OpenMetrics document.

use std::sync::Arc;

use platform::metrics::Metrics;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Labels of per-pool answers.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolStatusLabels {
    /// Pool name.
    pub pool: String,
    /// Status sent to the client (the upstream's, or the gateway's 502/503/504).
    pub status: u16,
}

/// Labels of per-pool families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// Pool name.
    pub pool: String,
}

/// Labels of per-replica families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    /// Pool name.
    pub pool: String,
    /// `host:port`.
    pub replica: String,
}

/// The gateway-specific families.
#[derive(Debug, Clone)]
pub struct GatewayMetrics {
    registry: Arc<Registry>,
    /// `gateway_requests_total{pool,status}`: every request routed to a pool, answered
    /// by the upstream or by the gateway (401, 413, 429, 502, 503, 504).
    pub requests: Family<PoolStatusLabels, Counter>,
    /// `gateway_upstream_duration_seconds{pool}`: until the upstream's answer started.
    pub upstream_duration: Family<PoolLabels, Histogram, fn() -> Histogram>,
    /// `gateway_upstream_retries_total{pool}`.
    pub retries: Family<PoolLabels, Counter>,
    /// `gateway_rate_limited_total`.
    pub rate_limited: Counter,
    /// `gateway_replica_healthy{pool,replica}`: 1 while in rotation.
    pub replica_healthy: Family<ReplicaLabels, Gauge>,
    /// `gateway_circuit_open{pool}`: 1 while the pool's circuit is open.
    pub circuit_open: Family<PoolLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s, as the platform's.
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 16.0,
    ])
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayMetrics {
    /// A fresh registry with every family registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gateway");
        let requests = Family::<PoolStatusLabels, Counter>::default();
        let upstream_duration =
            Family::<PoolLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let retries = Family::<PoolLabels, Counter>::default();
        let rate_limited = Counter::default();
        let replica_healthy = Family::<ReplicaLabels, Gauge>::default();
        let circuit_open = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "requests",
            "Requests routed to a pool, by pool and the status sent to the client",
            requests.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time until the upstream's answer started, retries included, by pool",
            upstream_duration.clone(),
        );
        registry.register(
            "upstream_retries",
            "Requests sent a second time to another replica, by pool",
            retries.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests answered 429 by the rate limiter",
            rate_limited.clone(),
        );
        registry.register(
            "replica_healthy",
            "1 while a replica is in rotation, 0 while it is ejected or failing its health check",
            replica_healthy.clone(),
        );
        registry.register(
            "circuit_open",
            "1 while a pool's circuit breaker is open",
            circuit_open.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            upstream_duration,
            retries,
            rate_limited,
            replica_healthy,
            circuit_open,
        }
    }

    /// Sets a replica's health gauge.
    pub fn set_replica_health(&self, pool: &str, replica: &str, healthy: bool) {
        self.replica_healthy
            .get_or_create(&ReplicaLabels {
                pool: pool.to_owned(),
                replica: replica.to_owned(),
            })
            .set(i64::from(healthy));
    }

    /// Forgets a replica that left its pool (DNS no longer lists it).
    pub fn forget_replica(&self, pool: &str, replica: &str) {
        self.replica_healthy.remove(&ReplicaLabels {
            pool: pool.to_owned(),
            replica: replica.to_owned(),
        });
    }

    /// The platform's families and the gateway's in one OpenMetrics document.
    pub fn render(&self, platform: &Metrics) -> String {
        // Each registry renders a complete document ending in `# EOF`; the combined one
        // must have exactly one, at the end.
        let mut out = platform.render();
        if let Some(stripped) = out.strip_suffix("# EOF\n") {
            out.truncate(stripped.len());
        }
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_combined_document_has_both_registries_and_one_eof() {
        let platform = Metrics::new();
        let gateway = GatewayMetrics::new();
        gateway
            .requests
            .get_or_create(&PoolStatusLabels {
                pool: "inventory".to_owned(),
                status: 200,
            })
            .inc();
        gateway.set_replica_health("inventory", "127.0.0.1:8082", true);
        let text = gateway.render(&platform);
        assert!(
            text.contains("outbox_pending"),
            "the platform registry: {text}"
        );
        assert!(
            text.contains(r#"gateway_requests_total{pool="inventory",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"gateway_replica_healthy{pool="inventory",replica="127.0.0.1:8082"} 1"#
            ),
            "{text}"
        );
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
