//! `/health/live`, `/health/ready` and `/metrics`.
//!
//! Liveness says only that the process answers. Readiness checks each dependency with a
//! short timeout: the database is critical (503 while it is down, so the replica leaves
//! the load balancer and comes back by itself once the database returns); the broker and
//! the cache are reported but do not fail readiness, because the outbox buffers events
//! and reads fall back to Postgres; pulling every replica for a cache blip would turn a
//! degradation into an outage.

use std::time::Duration;

use axum::{Router, extract::State, response::IntoResponse, routing::get};
use serde::Serialize;
use sqlx::PgPool;

use crate::{cache::Cache, messaging::Broker, metrics::Metrics};

/// The dependencies readiness checks.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    /// Critical.
    pub database: Option<PgPool>,
    /// Reported, not critical.
    pub broker: Option<Broker>,
    /// Reported, not critical.
    pub cache: Option<Cache>,
}

#[derive(Debug, Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    fn from(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                status: "UP",
                error: None,
            },
            Err(error) => Self {
                status: "DOWN",
                error: Some(error),
            },
        }
    }
    fn up(&self) -> bool {
        self.status == "UP"
    }
}

#[derive(Debug, Serialize)]
struct Report {
    status: &'static str,
    checks: std::collections::BTreeMap<&'static str, Check>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

async fn within(fut: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")))
}

impl Readiness {
    async fn report(&self) -> (bool, Report) {
        let mut checks = std::collections::BTreeMap::new();
        let mut ready = true;
        let mut degraded = false;
        if let Some(pool) = &self.database {
            let check = Check::from(
                within(async {
                    sqlx::query("SELECT 1")
                        .execute(pool)
                        .await
                        .map(drop)
                        .map_err(|err| err.to_string())
                })
                .await,
            );
            ready &= check.up();
            checks.insert("database", check);
        }
        if let Some(broker) = &self.broker {
            let check = Check::from(within(broker.check()).await);
            degraded |= !check.up();
            checks.insert("broker", check);
        }
        if let Some(cache) = &self.cache {
            let check = Check::from(within(cache.ping()).await);
            degraded |= !check.up();
            checks.insert("cache", check);
        }
        let status = match (ready, degraded) {
            (false, _) => "DOWN",
            (true, true) => "DEGRADED",
            (true, false) => "UP",
        };
        (ready, Report { status, checks })
    }
}

/// Routes `/health/live`, `/health/ready` and `/metrics`.
pub fn router(readiness: Readiness, metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({"status": "UP"})) }),
        )
        .route("/health/ready", get(ready).with_state(readiness))
        .route("/metrics", get(render).with_state(metrics))
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let (ready, report) = readiness.report().await;
    let status = if ready {
        http::StatusCode::OK
    } else {
        http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report))
}

async fn render(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}
