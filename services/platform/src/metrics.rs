//! Prometheus metrics shared by every service.
//!
//! One [`Metrics`] per running app (not a process-global recorder), so tests that run
//! several apps in one process each see their own numbers. `/metrics` renders it in the
//! OpenMetrics text format.

use std::sync::{Arc, atomic::AtomicU64};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Labels of an HTTP request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// HTTP method.
    pub method: String,
    /// Route template (`/inventory/product/{id}`), never the raw path, to bound cardinality.
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of the request latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
}

/// Labels of cache lookups.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// Cache name (`product`).
    pub cache: String,
    /// `hit`, `miss` or `error`.
    pub result: String,
}

/// Labels of consumed messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    /// Queue name.
    pub queue: String,
    /// `processed`, `duplicate`, `retried`, `dead_lettered`, `requeued`.
    pub outcome: String,
}

/// Every metric a service exposes.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// `http_requests_total{method,route,status}`.
    pub http_requests: Family<HttpLabels, Counter>,
    /// `http_request_duration_seconds{method,route}`.
    pub http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// `cache_requests_total{cache,result}`.
    pub cache_requests: Family<CacheLabels, Counter>,
    /// `outbox_pending`: events written but not yet confirmed by the broker.
    pub outbox_pending: Gauge,
    /// `outbox_lag_seconds`: age of the oldest unpublished event.
    pub outbox_lag_seconds: Gauge<f64, AtomicU64>,
    /// `outbox_published_total`.
    pub outbox_published: Counter,
    /// `consumer_messages_total{queue,outcome}`.
    pub consumer_messages: Family<ConsumerLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s.
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 16.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let cache_requests = Family::<CacheLabels, Counter>::default();
        let outbox_pending = Gauge::default();
        let outbox_lag_seconds = Gauge::<f64, AtomicU64>::default();
        let outbox_published = Counter::default();
        let consumer_messages = Family::<ConsumerLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            http_duration.clone(),
        );
        registry.register(
            "cache_requests",
            "Cache lookups by cache and result (hit: from Redis, local_hit: from the process's local tier, miss, error)",
            cache_requests.clone(),
        );
        registry.register(
            "outbox_pending",
            "Events in the outbox not yet confirmed by the broker",
            outbox_pending.clone(),
        );
        registry.register(
            "outbox_lag_seconds",
            "Age of the oldest unpublished outbox event",
            outbox_lag_seconds.clone(),
        );
        registry.register(
            "outbox_published",
            "Events relayed from the outbox and confirmed by the broker",
            outbox_published.clone(),
        );
        registry.register(
            "consumer_messages",
            "Consumed messages by queue and outcome (processed, duplicate, retried, dead_lettered, requeued)",
            consumer_messages.clone(),
        );
        Self {
            registry: Arc::new(registry),
            http_requests,
            http_duration,
            cache_requests,
            outbox_pending,
            outbox_lag_seconds,
            outbox_published,
            consumer_messages,
        }
    }

    /// Counts one consumed message.
    pub fn consumed(&self, queue: &str, outcome: &str) {
        self.consumer_messages
            .get_or_create(&ConsumerLabels {
                queue: queue.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts one cache lookup.
    pub fn cache(&self, cache: &str, result: &str) {
        self.cache_requests
            .get_or_create(&CacheLabels {
                cache: cache.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// The registry in OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_metrics_carry_labels_and_counts() {
        let metrics = Metrics::new();
        metrics.cache("product", "hit");
        metrics.cache("product", "hit");
        metrics.consumed("inventory.payment.saved", "processed");
        let text = metrics.render();
        assert!(
            text.contains(r#"cache_requests_total{cache="product",result="hit"} 2"#),
            "{text}"
        );
        assert!(text.contains("consumer_messages_total"), "{text}");
        assert!(text.contains("outbox_lag_seconds"), "{text}");
    }
}
