//! The gateway's router: its own `/health/live`, `/health/ready` and `/metrics`, and the
//! proxy for everything else, wrapped in the request-id, `x-instance` and access-log
//! middleware.
//!
//! Readiness says only that the gateway is up (200): pulling the gateway out of the load
//! balancer because one service is down would take every other service down with it.
//! The body reports each pool's replicas and circuit, `DEGRADED` when a pool has no
//! healthy replica.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::get,
};
use http::HeaderValue;
use platform::{
    http::{
        ErrorCode, ErrorResponse,
        middleware::{INSTANCE, REQUEST_ID},
    },
    metrics::Metrics,
};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
};

use crate::{access, pool::PoolReport, proxy};

/// What the handlers share.
#[derive(Debug, Clone, axum::extract::FromRef)]
pub struct AppState {
    /// The forwarding state.
    pub gateway: proxy::Gateway,
    /// The platform's HTTP metrics (shared: the state is cloned for every request).
    pub metrics: Arc<Metrics>,
}

/// The gateway's router.
pub fn router(state: AppState, instance_id: &str) -> Router {
    let instance = HeaderValue::from_str(instance_id)
        .unwrap_or_else(|_| HeaderValue::from_static("invalid-instance-id"));
    let metrics = Arc::clone(&state.metrics);
    Router::new()
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({"status": "UP"})) }),
        )
        .route("/health/ready", get(ready))
        .route("/metrics", get(render))
        .method_not_allowed_fallback(|| async {
            ErrorResponse::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        })
        .fallback(proxy_fallback)
        .with_state(state)
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
                // Proxied answers carry the replica's `x-instance`; only the gateway's
                // own answers get the gateway's.
                .layer(SetResponseHeaderLayer::if_not_present(INSTANCE, instance))
                .layer(axum::middleware::from_fn_with_state(
                    metrics,
                    access::observe,
                )),
        )
}

async fn proxy_fallback(
    State(gateway): State<proxy::Gateway>,
    request: axum::extract::Request,
) -> Response {
    proxy::handle(State(gateway), request).await
}

#[derive(Debug, Serialize)]
struct Report {
    status: &'static str,
    pools: BTreeMap<&'static str, PoolReport>,
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let pools: BTreeMap<&'static str, PoolReport> = state
        .gateway
        .pools()
        .iter()
        .map(|pool| (pool.name().as_str(), pool.report()))
        .collect();
    let status = if pools.values().all(|pool| pool.status == "UP") {
        "UP"
    } else {
        "DEGRADED"
    };
    axum::Json(Report { status, pools })
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.gateway.metrics().render(&state.metrics),
    )
}
