//! Forwarding one request: route, body size, token, rate limit, circuit, replica,
//! retry, timeout, answer.
//!
//! In order: the path picks the pool (404 otherwise); a declared `Content-Length` over
//! the limit is refused before anything is read (413); service routes need a valid
//! token (401; the services check it again); the client's budget is charged (429); an
//! open circuit or a pool without healthy replicas answers 503 at once. Then the body is
//! read, at most the limit (413 beyond, also for chunked bodies), and sent to the next
//! replica in rotation with the browser and hop-by-hop headers stripped.
//!
//! A request that could not connect was never sent, so it is retried once on another
//! replica whatever its method; an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE)
//! is also retried after the connection broke mid-exchange. A non-idempotent request is
//! never sent twice once bytes went out. The pool's timeout bounds the whole exchange up
//! to the answer's head, retry included (504); a connection failure on every try is 502.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Request, State},
    response::{IntoResponse, Response},
};
use http::{HeaderMap, Method, StatusCode, header, request::Parts};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use platform::auth::{AuthError, Authenticator, CurrentUser, bearer_token};
use tokio::time::Instant;

use crate::{
    config::PoolName,
    error::GatewayError,
    headers,
    metrics::{GatewayMetrics, PoolLabels, PoolStatusLabels},
    pool::{Pool, Replica},
    rate_limit::{ClientKey, RateLimiter},
    routing::{self, Route},
    upstream::UpstreamClient,
};

/// What the access log learns about a request routed to a pool.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The route's label (`/inventory/*`).
    pub route: &'static str,
    /// The pool.
    pub pool: PoolName,
    /// The replica that answered or failed last.
    pub replica: Option<String>,
    /// Requests sent upstream (2 after a retry).
    pub attempts: u32,
}

/// The gateway's shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    pools: Vec<Arc<Pool>>,
    client: UpstreamClient,
    auth: Authenticator,
    limiter: RateLimiter,
    body_limit: usize,
    trust_forwarded_for: bool,
    metrics: GatewayMetrics,
}

/// The gateway's settings that the forwarding path needs.
#[derive(Debug)]
pub struct GatewayParts {
    /// The pools.
    pub pools: Vec<Arc<Pool>>,
    /// The client to the replicas.
    pub client: UpstreamClient,
    /// Edge token validation.
    pub auth: Authenticator,
    /// Per-client rate limits.
    pub limiter: RateLimiter,
    /// Largest request body.
    pub body_limit: usize,
    /// Whether `x-forwarded-for` from the client side is trusted.
    pub trust_forwarded_for: bool,
    /// Gateway metrics.
    pub metrics: GatewayMetrics,
}

impl Gateway {
    /// Assembles the state.
    pub fn new(parts: GatewayParts) -> Self {
        Self {
            shared: Arc::new(Shared {
                pools: parts.pools,
                client: parts.client,
                auth: parts.auth,
                limiter: parts.limiter,
                body_limit: parts.body_limit,
                trust_forwarded_for: parts.trust_forwarded_for,
                metrics: parts.metrics,
            }),
        }
    }

    /// Every pool.
    pub fn pools(&self) -> &[Arc<Pool>] {
        &self.shared.pools
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.shared.limiter
    }

    /// Gateway metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.shared.metrics
    }

    fn pool(&self, name: PoolName) -> Option<&Arc<Pool>> {
        self.shared.pools.iter().find(|pool| pool.name() == name)
    }

    async fn forward(
        &self,
        route: Route,
        request: Request,
        exchange: &mut Exchange,
    ) -> Result<Response, GatewayError> {
        let shared = &self.shared;
        let pool = self.pool(route.pool).ok_or(GatewayError::NoRoute)?;
        let (mut parts, body) = request.into_parts();
        if declared_length(&parts.headers).is_some_and(|length| length > shared.body_limit as u64) {
            return Err(GatewayError::TooLarge {
                limit: shared.body_limit,
            });
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let user = if route.authenticated {
            Some(self.authenticate(&parts.headers).await)
        } else {
            None
        };
        // Rate limiting comes before the verdict on the token, so a flood of bad tokens
        // is limited too (by address).
        let key = match &user {
            Some(Ok(user)) => ClientKey::Subject(user.id.clone()),
            _ => ClientKey::Address(headers::client_ip(
                &parts.headers,
                peer,
                shared.trust_forwarded_for,
            )),
        };
        if let Err(retry_after) = shared.limiter.check(&key) {
            shared.metrics.rate_limited.inc();
            return Err(GatewayError::RateLimited { retry_after });
        }
        if let Some(Err(err)) = user {
            return Err(GatewayError::Auth(err));
        }
        if !pool.circuit_permits() {
            return Err(GatewayError::CircuitOpen { pool: route.pool });
        }
        let first = pool
            .pick()
            .ok_or(GatewayError::NoHealthyReplica { pool: route.pool })?;
        let body = read_body(body, shared.body_limit).await?;
        let mut upstream_headers = headers::upstream_request(
            std::mem::take(&mut parts.headers),
            peer,
            shared.trust_forwarded_for,
        );
        // The upstream's span becomes a child of this request's span.
        platform::telemetry::inject_into_headers(&mut upstream_headers);

        let started = Instant::now();
        let outcome = self
            .exchange(pool, first, &parts, &upstream_headers, body, exchange)
            .await;
        shared
            .metrics
            .upstream_duration
            .get_or_create(&PoolLabels {
                pool: route.pool.as_str().to_owned(),
            })
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    /// Sends the request, retrying once where that is safe, within the pool's deadline.
    async fn exchange(
        &self,
        pool: &Pool,
        first: Arc<Replica>,
        parts: &Parts,
        headers: &HeaderMap,
        body: Bytes,
        exchange: &mut Exchange,
    ) -> Result<Response, GatewayError> {
        let timeout = pool.config().timeout;
        let deadline = Instant::now() + timeout;
        let mut replica = first;
        loop {
            exchange.attempts += 1;
            exchange.replica = Some(replica.authority().to_string());
            // In flight until its answer's head arrives (or the attempt fails).
            let in_flight = replica.start();
            let attempt = self.shared.client.send(
                &replica,
                &parts.method,
                parts.uri.path_and_query(),
                headers,
                body.clone(),
            );
            let outcome = tokio::time::timeout_at(deadline, attempt).await;
            drop(in_flight);
            match outcome {
                Err(_) => {
                    pool.record_failure(&replica);
                    pool.circuit_failure();
                    return Err(GatewayError::Timeout {
                        pool: pool.name(),
                        timeout_ms: timeout.as_millis(),
                    });
                }
                Ok(Ok(response)) => {
                    if is_failure(response.status()) {
                        pool.record_failure(&replica);
                        pool.circuit_failure();
                    } else {
                        pool.record_success(&replica);
                        pool.circuit_success();
                    }
                    let (mut head, body) = response.into_parts();
                    headers::downstream_response(&mut head.headers);
                    return Ok(Response::from_parts(head, Body::new(body)));
                }
                Ok(Err(err)) => {
                    pool.record_failure(&replica);
                    let retry =
                        exchange.attempts == 1 && (err.connect || is_idempotent(&parts.method));
                    if !retry {
                        pool.circuit_failure();
                        return Err(GatewayError::Unreachable {
                            pool: pool.name(),
                            detail: format!("{}: {}", replica.authority(), err.detail),
                        });
                    }
                    tracing::info!(
                        pool = %pool.name(),
                        replica = %replica.authority(),
                        error = %err.detail,
                        "upstream failed; retrying on another replica"
                    );
                    self.shared
                        .metrics
                        .retries
                        .get_or_create(&PoolLabels {
                            pool: pool.name().as_str().to_owned(),
                        })
                        .inc();
                    // With no other healthy replica, the same one gets the second try.
                    replica = pool.pick_other(&replica).unwrap_or(replica);
                }
            }
        }
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<CurrentUser, AuthError> {
        let token = bearer_token(headers)?;
        self.shared.auth.authenticate(token).await
    }
}

/// The fallback handler: everything that is not the gateway's own endpoint.
pub async fn handle(State(gateway): State<Gateway>, request: Request) -> Response {
    let Some(route) = routing::route(request.uri().path()) else {
        return GatewayError::NoRoute.into_response();
    };
    let mut exchange = Exchange {
        route: route.label(),
        pool: route.pool,
        replica: None,
        attempts: 0,
    };
    let mut response = match gateway.forward(route, request, &mut exchange).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    gateway
        .shared
        .metrics
        .requests
        .get_or_create(&PoolStatusLabels {
            pool: route.pool.as_str().to_owned(),
            status: response.status().as_u16(),
        })
        .inc();
    response.extensions_mut().insert(exchange);
    response
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(GatewayError::TooLarge { limit })
        }
        Err(err) => Err(GatewayError::BodyUnreadable(err.to_string())),
    }
}

/// Methods whose repetition has the effect of one request (RFC 9110 §9.2.2).
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Upstream answers that count against a replica and the circuit: the replica or what
/// it depends on is down. A 500 is a bug in one handler, not an unhealthy replica.
fn is_failure(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_idempotent_methods_are_retried_after_bytes_went_out() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(is_idempotent(&method), "{method}");
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(!is_idempotent(&method), "{method}");
        }
    }

    #[test]
    fn only_unavailability_counts_as_an_upstream_failure() {
        assert!(is_failure(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_failure(StatusCode::BAD_GATEWAY));
        assert!(is_failure(StatusCode::GATEWAY_TIMEOUT));
        assert!(!is_failure(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!is_failure(StatusCode::NOT_FOUND));
    }

    #[test]
    fn a_declared_length_is_read_from_content_length() {
        assert_eq!(
            declared_length(&with(header::CONTENT_LENGTH, "2048")),
            Some(2048)
        );
        assert_eq!(declared_length(&HeaderMap::new()), None);
    }
}
