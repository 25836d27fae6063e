//! Logs and traces.
//!
//! Logs are JSON lines via `tracing`. Spans carry OpenTelemetry context: incoming W3C
//! `traceparent` headers (HTTP and AMQP) become the parent of the request or message
//! span, and outgoing calls and published events carry the current context on. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported over OTLP/HTTP.

use std::collections::HashMap;

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::config::{ConfigError, Env};

/// Telemetry settings; these use the standard unprefixed names.
///
/// | variable | default |
/// |---|---|
/// | `RUST_LOG` | `info` |
/// | `LOG_FORMAT` | `json` (`pretty` for humans) |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | unset: no export |
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `tracing` filter directives.
    pub filter: String,
    /// JSON lines, or human-readable.
    pub json: bool,
    /// OTLP/HTTP collector, e.g. `http://otel-collector:4318`.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Reads `RUST_LOG`, `LOG_FORMAT` and `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let plain = Env::with_lookup("", |name| std::env::var(name.trim_start_matches('_')).ok());
        let format = plain.string("LOG_FORMAT", "json");
        if format != "json" && format != "pretty" {
            return Err(ConfigError {
                var: "LOG_FORMAT".to_owned(),
                message: format!("expected json or pretty, got {format:?}"),
            });
        }
        Ok(Self {
            filter: plain.string("RUST_LOG", "info"),
            json: format == "json",
            otlp_endpoint: plain.raw("OTEL_EXPORTER_OTLP_ENDPOINT"),
        })
    }
}

/// Flushes exported spans when dropped; keep it alive for the life of `main`.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber and propagator. Call once, first thing in `main`.
pub fn init(service: &'static str, config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .build(),
    );
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    // Without an exporter the provider still gives spans real ids, so trace context
    // is propagated across services even when nothing is collected locally.
    let provider = builder.build();
    // RUST_LOG filters only what is logged; spans always reach the OpenTelemetry layer,
    // so trace context propagates whatever the log level.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_filter(LevelFilter::INFO);
    let filter = EnvFilter::try_new(&config.filter)?;
    let registry = tracing_subscriber::registry().with(otel);
    if config.json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init()?;
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_filter(filter))
            .try_init()?;
    }
    Ok(TelemetryGuard { provider })
}

/// Installs a subscriber for tests: human-readable, `RUST_LOG` or `warn`, and the trace
/// propagator. Safe to call from every test.
pub fn init_for_tests() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let provider = SdkTracerProvider::builder().build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("test"))
        .with_filter(LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(otel)
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter),
        )
        .try_init();
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The trace context carried by incoming HTTP headers.
pub fn context_from_headers(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes the current span's trace context into outgoing HTTP headers.
pub fn inject_into_headers(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The current span's trace context as a string map (for AMQP headers and the outbox).
pub fn current_context_map() -> HashMap<String, String> {
    let cx = tracing::Span::current().context();
    let mut map = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut map);
    map
}

/// The trace context carried by a string map (AMQP headers).
pub fn context_from_map(map: &HashMap<String, String>) -> Context {
    TraceContextPropagator::new().extract(map)
}

/// Makes `cx` the parent of `span`.
pub fn set_parent(span: &tracing::Span, cx: Context) {
    let _ = span.set_parent(cx);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_context_round_trips_through_http_headers() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        let cx = context_from_headers(&headers);
        let mut out = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        assert_eq!(
            out.get("traceparent").map(String::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
    }
}
