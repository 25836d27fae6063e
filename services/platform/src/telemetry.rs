//! Logs and traces.
//!
//! Logs are JSON lines via `tracing`. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans
//! are OpenTelemetry spans exported over OTLP/HTTP: incoming W3C `traceparent` headers
//! (HTTP and AMQP) become the parent of the request or message span, and outgoing calls
//! and published events carry the current span's context on.
//!
//! Without an endpoint nothing is recorded, but trace context still passes through, as
//! the OpenTelemetry API does without an SDK: outgoing calls and events carry the context
//! that came in, unchanged, so a trace that other services record is not broken here.
//! Building spans nobody collects cost a tenth of the CPU of a cached read (the perf
//! report's profile).

use std::{
    collections::HashMap,
    future::Future,
    sync::atomic::{AtomicBool, Ordering},
};

use futures::future::Either;
use opentelemetry::{
    Context,
    context::FutureExt as _,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::Instrument as _;
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
    let recording = config.otlp_endpoint.is_some();
    RECORDING.store(recording, Ordering::Relaxed);
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    // RUST_LOG filters only what is logged; when recording, spans always reach the
    // OpenTelemetry layer, whatever the log level.
    let otel = recording.then(|| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_filter(LevelFilter::INFO)
    });
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

/// Installs a subscriber for tests: human-readable, `RUST_LOG` or `warn`, the trace
/// propagator and (unexported) OpenTelemetry spans. Safe to call from every test.
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

/// Whether spans are OpenTelemetry spans ([`init`] with an endpoint; tests always).
static RECORDING: AtomicBool = AtomicBool::new(true);

fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Runs `future` in `span`, whose trace parent is `parent` (from [`context_from_headers`]
/// or [`context_from_map`]). Without recording, `parent` is what calls made inside pass on.
pub fn in_span<F: Future>(
    span: tracing::Span,
    parent: Context,
    future: F,
) -> impl Future<Output = F::Output> {
    in_span_as(recording(), span, parent, future)
}

fn in_span_as<F: Future>(
    recording: bool,
    span: tracing::Span,
    parent: Context,
    future: F,
) -> impl Future<Output = F::Output> {
    if recording {
        let _ = span.set_parent(parent);
        Either::Left(future.instrument(span))
    } else {
        Either::Right(future.with_context(parent).instrument(span))
    }
}

/// The context outgoing calls carry: the current span's when recording, else the one
/// that came in.
fn current_context(recording: bool) -> Context {
    if recording {
        tracing::Span::current().context()
    } else {
        Context::current()
    }
}

/// The trace context carried by incoming HTTP headers.
pub fn context_from_headers(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes the current trace context into outgoing HTTP headers (see [`in_span`]).
pub fn inject_into_headers(headers: &mut http::HeaderMap) {
    let cx = current_context(recording());
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The current trace context as a string map (for AMQP headers and the outbox).
pub fn current_context_map() -> HashMap<String, String> {
    let cx = current_context(recording());
    let mut map = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut map);
    map
}

/// The trace context carried by a string map (AMQP headers).
pub fn context_from_map(map: &HashMap<String, String>) -> Context {
    TraceContextPropagator::new().extract(map)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;

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

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn incoming() -> Context {
        let map = HashMap::from([("traceparent".to_owned(), INCOMING.to_owned())]);
        context_from_map(&map)
    }

    /// What a call made inside `in_span_as(recording, ..)` would send on.
    fn sent_on(recording: bool) -> String {
        let span = tracing::info_span!("request");
        let cx = futures::executor::block_on(in_span_as(recording, span, incoming(), async {
            current_context(recording)
        }));
        let mut out = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        out.remove("traceparent").unwrap_or_default()
    }

    #[test]
    fn without_recording_the_incoming_context_passes_through_unchanged() {
        // No subscriber at all: nothing records spans here.
        assert_eq!(sent_on(false), INCOMING);
        // Outside the request's future the incoming context is not current.
        assert!(!current_context(false).span().span_context().is_valid());
    }

    #[test]
    fn recording_continues_the_trace_in_a_span_of_its_own() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let sent = tracing::subscriber::with_default(subscriber, || sent_on(true));
        let parts: Vec<&str> = sent.split('-').collect();
        assert_eq!(parts.len(), 4, "{sent}");
        assert_eq!(
            parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
            "same trace: {sent}"
        );
        assert_ne!(parts[2], "00f067aa0ba902b7", "a span of its own: {sent}");
    }
}
