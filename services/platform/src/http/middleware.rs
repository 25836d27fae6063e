//! The middleware stack every service router gets from [`apply`].
//!
//! Outermost first: catch panics (500 body), request id (`x-request-id`, generated when
//! absent, echoed back), `x-instance`, then [`observe`]: a span parented on the caller's
//! trace context, a deadline (503 when exceeded), request metrics by route template, and
//! one access-log line per request (errors with their private detail).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderName, HeaderValue};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
};

use super::error::{ErrorCode, ErrorDetail, ErrorResponse};
use crate::{metrics::Metrics, telemetry};

/// `x-request-id`.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `x-instance`: which replica answered.
pub const INSTANCE: HeaderName = HeaderName::from_static("x-instance");

/// What the middleware needs to know about the running service.
#[derive(Debug, Clone)]
pub struct HttpContext {
    /// Request metrics land here.
    pub metrics: Metrics,
    /// This replica's id.
    pub instance_id: String,
    /// Deadline for one request.
    pub request_timeout: Duration,
    /// Largest accepted body.
    pub body_limit_bytes: usize,
}

/// Wraps `router` in the shared stack, plus JSON 404/405 fallbacks and the body limit.
pub fn apply(router: Router, ctx: HttpContext) -> Router {
    let instance = HeaderValue::from_str(&ctx.instance_id)
        .unwrap_or_else(|_| HeaderValue::from_static("invalid-instance-id"));
    let body_limit_bytes = ctx.body_limit_bytes;
    router
        .fallback(|| async { ErrorResponse::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ErrorResponse::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        })
        // One `layer` call: each wraps every route in another boxed service, cloned for
        // every request.
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(
                    |_panic: Box<dyn std::any::Any + Send>| {
                        ErrorResponse::internal("handler panicked").into_response()
                    },
                ))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(SetResponseHeaderLayer::overriding(INSTANCE, instance))
                // Shared, not cloned per request: the context holds a dozen reference counts.
                .layer(axum::middleware::from_fn_with_state(Arc::new(ctx), observe))
                .layer(axum::extract::DefaultBodyLimit::max(body_limit_bytes)),
        )
}

/// Span, deadline, metrics and access log for one request.
pub async fn observe(
    State(ctx): State<Arc<HttpContext>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "http.request",
        http.method = %method,
        http.route = %route,
        request.id = %request_id,
    );
    let parent = telemetry::context_from_headers(request.headers());

    let response = match telemetry::in_span(
        span.clone(),
        parent,
        tokio::time::timeout(ctx.request_timeout, next.run(request)),
    )
    .await
    {
        Ok(response) => response,
        Err(_) => ErrorResponse {
            code: ErrorCode::Unavailable,
            message: "the request timed out".to_owned(),
            detail: Some(format!("exceeded {:?}", ctx.request_timeout)),
            retry_after: Some(1),
        }
        .into_response(),
    };

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    ctx.metrics
        .http_requests
        .get_or_create(&crate::metrics::HttpLabels {
            method: method.as_str().to_owned(),
            route: route.clone(),
            status,
        })
        .inc();
    ctx.metrics
        .http_duration
        .get_or_create(&crate::metrics::RouteLabels {
            method: method.as_str().to_owned(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());

    let duration_ms = elapsed.as_secs_f64() * 1000.0;
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
            error.detail = detail,
            "request failed"
        );
    } else if route != "/health/live" && route != "/health/ready" && route != "/metrics" {
        tracing::info!(http.status = status, duration_ms, "request served");
    }
    response
}
