//! The access log and request metrics: one span and one log line per request.
//!
//! Modelled on the platform's `observe` middleware, which the gateway cannot use as is:
//! it labels by axum's matched route (the gateway's routes are prefixes matched by the
//! proxy) and has no place for the pool, the replica and the number of attempts. The span
//! is parented on the caller's trace context, and the proxy forwards the span's own
//! context upstream, so a trace runs client → gateway → service.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use platform::{
    http::{error::ErrorDetail, middleware::REQUEST_ID},
    metrics::{HttpLabels, Metrics, RouteLabels},
    telemetry,
};

use crate::proxy::Exchange;

/// Span, metrics and access log for one request.
pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "http.request",
        http.method = %method,
        http.path = %path,
        request.id = %request_id,
    );
    let parent = telemetry::context_from_headers(request.headers());

    let response = telemetry::in_span(span.clone(), parent, next.run(request)).await;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let exchange = response.extensions().get::<Exchange>();
    let route = match (&matched, exchange) {
        (Some(matched), _) => matched.as_str(),
        (None, Some(exchange)) => exchange.route,
        (None, None) => "unmatched",
    };
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method: method.as_str().to_owned(),
            route: route.to_owned(),
            status,
        })
        .inc();
    metrics
        .http_duration
        .get_or_create(&RouteLabels {
            method: method.as_str().to_owned(),
            route: route.to_owned(),
        })
        .observe(elapsed.as_secs_f64());

    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let pool = exchange.map(|e| e.pool.as_str()).unwrap_or_default();
    let replica = exchange
        .and_then(|e| e.replica.as_deref())
        .unwrap_or_default();
    let attempts = exchange.map_or(0, |e| e.attempts);
    let _entered = span.enter();
    if status >= 500 {
        let detail = response
            .extensions()
            .get::<ErrorDetail>()
            .map(|detail| detail.0.as_str())
            .unwrap_or_default();
        tracing::error!(
            http.status = status,
            duration_ms,
            pool,
            upstream.replica = replica,
            upstream.attempts = attempts,
            error.detail = detail,
            "request failed"
        );
    } else if matched.is_none() {
        // The gateway's own endpoints are polled constantly; only traffic is logged.
        tracing::info!(
            http.status = status,
            duration_ms,
            pool,
            upstream.replica = replica,
            upstream.attempts = attempts,
            "request served"
        );
    }
    response
}
