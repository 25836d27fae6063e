//! Why the gateway answered a request itself, and the status and body each reason gets.
//!
//! Bodies are the platform's error body (SPEC §2). The platform has no codes for 502 and
//! 504, so those answers carry `UNAVAILABLE` with the status overridden: to a client all
//! three mean "the service is not answering, retry later", and the message says which.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use platform::{
    auth::AuthError,
    http::{ErrorCode, ErrorResponse},
};

use crate::config::PoolName;

/// A request the gateway could not or would not forward.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No route for the path (404).
    #[error("no such route")]
    NoRoute,
    /// The body exceeds the limit (413).
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The client stopped sending its body halfway (400).
    #[error("the request body could not be read")]
    BodyUnreadable(String),
    /// No valid token (401), or the identity provider's keys are unavailable (503).
    #[error(transparent)]
    Auth(AuthError),
    /// The client is over its rate (429).
    #[error("too many requests, retry in {retry_after} s")]
    RateLimited {
        /// Seconds until a request would be accepted.
        retry_after: u64,
    },
    /// The pool's circuit is open (503).
    #[error("service {pool} is unavailable")]
    CircuitOpen {
        /// Which pool.
        pool: PoolName,
    },
    /// Every replica is out of rotation (503).
    #[error("service {pool} is unavailable: no healthy replica")]
    NoHealthyReplica {
        /// Which pool.
        pool: PoolName,
    },
    /// Connecting or talking to the replicas failed on every try (502).
    #[error("service {pool} could not be reached")]
    Unreachable {
        /// Which pool.
        pool: PoolName,
        /// What failed, logged only.
        detail: String,
    },
    /// The upstream did not start answering in time (504).
    #[error("service {pool} did not answer within {timeout_ms} ms")]
    Timeout {
        /// Which pool.
        pool: PoolName,
        /// The pool's deadline.
        timeout_ms: u128,
    },
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (error, status) = match self {
            Self::Auth(err) => return err.into_response(),
            Self::NoRoute => (ErrorResponse::not_found(message), None),
            Self::TooLarge { .. } => (
                ErrorResponse::new(ErrorCode::PayloadTooLarge, message),
                None,
            ),
            Self::BodyUnreadable(detail) => (
                ErrorResponse {
                    detail: Some(detail),
                    ..ErrorResponse::validation(message)
                },
                None,
            ),
            Self::RateLimited { retry_after } => (
                ErrorResponse {
                    retry_after: Some(retry_after),
                    ..ErrorResponse::new(ErrorCode::RateLimited, message)
                },
                None,
            ),
            Self::CircuitOpen { .. } | Self::NoHealthyReplica { .. } => (
                ErrorResponse {
                    retry_after: Some(1),
                    detail: Some(message.clone()),
                    ..ErrorResponse::new(ErrorCode::Unavailable, message)
                },
                None,
            ),
            Self::Unreachable { detail, .. } => (
                ErrorResponse {
                    detail: Some(detail),
                    ..ErrorResponse::new(ErrorCode::Unavailable, message)
                },
                Some(StatusCode::BAD_GATEWAY),
            ),
            Self::Timeout { .. } => (
                ErrorResponse {
                    detail: Some(message.clone()),
                    ..ErrorResponse::new(ErrorCode::Unavailable, message)
                },
                Some(StatusCode::GATEWAY_TIMEOUT),
            ),
        };
        let mut response = error.into_response();
        if let Some(status) = status {
            *response.status_mut() = status;
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn answer(error: GatewayError) -> (StatusCode, serde_json::Value, http::HeaderMap) {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap(), headers)
    }

    #[tokio::test]
    async fn each_reason_gets_its_status_and_a_message_naming_the_service() {
        let pool = PoolName::Inventory;
        for (error, status, code, message) in [
            (GatewayError::NoRoute, 404, "NOT_FOUND", "no such route"),
            (
                GatewayError::TooLarge { limit: 10 },
                413,
                "PAYLOAD_TOO_LARGE",
                "request body is larger than the limit of 10 bytes",
            ),
            (
                GatewayError::CircuitOpen { pool },
                503,
                "UNAVAILABLE",
                "service inventory is unavailable",
            ),
            (
                GatewayError::NoHealthyReplica { pool },
                503,
                "UNAVAILABLE",
                "service inventory is unavailable: no healthy replica",
            ),
            (
                GatewayError::Unreachable {
                    pool,
                    detail: "connection refused".to_owned(),
                },
                502,
                "UNAVAILABLE",
                "service inventory could not be reached",
            ),
            (
                GatewayError::Timeout {
                    pool,
                    timeout_ms: 300,
                },
                504,
                "UNAVAILABLE",
                "service inventory did not answer within 300 ms",
            ),
        ] {
            let (got_status, body, _) = answer(error).await;
            assert_eq!(got_status.as_u16(), status, "{message}");
            assert_eq!(
                body,
                serde_json::json!({"message": message, "resultType": "ERROR", "code": code})
            );
        }
    }

    #[tokio::test]
    async fn a_rate_limited_answer_says_when_to_retry() {
        let (status, body, headers) = answer(GatewayError::RateLimited { retry_after: 2 }).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["code"], "RATE_LIMITED");
        assert_eq!(headers[http::header::RETRY_AFTER], "2");
    }

    #[tokio::test]
    async fn a_502_keeps_the_connection_error_out_of_the_body() {
        let response = GatewayError::Unreachable {
            pool: PoolName::Order,
            detail: "tcp connect error: Connection refused (os error 111)".to_owned(),
        }
        .into_response();
        let detail = response
            .extensions()
            .get::<platform::http::error::ErrorDetail>()
            .unwrap();
        assert!(detail.0.contains("Connection refused"));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("refused"));
    }
}
