//! Outbound HTTP through a [`Breaker`]: what the identity-provider and order/payment
//! adapters share.
//!
//! A request is sent and its body read within the breaker's timeout. Transport failures,
//! timeouts and 5xx answers count against the dependency; any other status is an answer
//! for the adapter to interpret (a 404 is not an outage). Every request we send is a
//! read or an idempotent write, so refused connections and 502/503/504 are retried with
//! the breaker's jittered backoff. The current trace context rides along.

use platform::resilience::{Breaker, CallError};
use reqwest::{RequestBuilder, StatusCode};

/// A dependency's answer: any status below 500, and the body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
}

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutboundError {
    /// The request could not be sent or the body not read.
    #[error("{message}")]
    Transport { message: String, connect: bool },
    /// A 5xx answer.
    #[error("answered {0}")]
    Status(StatusCode),
}

impl OutboundError {
    fn counts_as_failure(&self) -> bool {
        // Every variant is the dependency's fault; 4xx answers never become an error.
        true
    }

    fn retryable(&self) -> bool {
        match self {
            Self::Transport { connect, .. } => *connect,
            Self::Status(status) => matches!(
                *status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
        }
    }
}

/// Sends the request `build` makes (again on a retry) through `breaker`.
pub(crate) async fn send(
    breaker: &Breaker,
    build: impl Fn() -> RequestBuilder,
) -> Result<Answer, CallError<OutboundError>> {
    breaker
        .call_idempotent(
            OutboundError::counts_as_failure,
            OutboundError::retryable,
            || {
                let mut headers = reqwest::header::HeaderMap::new();
                platform::telemetry::inject_into_headers(&mut headers);
                let request = build().headers(headers);
                async move {
                    let transport = |err: reqwest::Error| OutboundError::Transport {
                        connect: err.is_connect(),
                        message: err.to_string(),
                    };
                    let response = request.send().await.map_err(transport)?;
                    let status = response.status();
                    if status.is_server_error() {
                        return Err(OutboundError::Status(status));
                    }
                    let body = response.text().await.map_err(transport)?;
                    Ok(Answer { status, body })
                }
            },
        )
        .await
}
