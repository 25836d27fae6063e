//! The payment service over HTTP (reference §4): the payment the order detail shows,
//! asked with the caller's bearer token.
//!
//! `GET {payment_url}/payment/{id}` behind the `payment` circuit breaker with the
//! configured timeout. This adapter reports failures; the fallback (a null payment,
//! never cached) is the use case's decision.

use platform::resilience::{Breaker, CallError};
use reqwest::StatusCode;

use crate::{
    outbound::{self, OutboundError},
    ports::{DownstreamError, PaymentService, PaymentSummary},
};

/// The payment service.
#[derive(Debug, Clone)]
pub struct HttpPaymentService {
    http: reqwest::Client,
    /// Base URL without a trailing slash.
    base: String,
    breaker: Breaker,
}

impl HttpPaymentService {
    /// The service at `base` (e.g. `http://payment:8080`), guarded by `breaker`.
    pub fn new(http: reqwest::Client, base: &str, breaker: Breaker) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            breaker,
        }
    }

    /// Its breaker (tests observe it).
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl PaymentService for HttpPaymentService {
    async fn get(&self, id: i64, bearer: &str) -> Result<Option<PaymentSummary>, DownstreamError> {
        let url = format!("{}/payment/{id}", self.base);
        let answer = outbound::send(&self.breaker, || self.http.get(&url).bearer_auth(bearer))
            .await
            .map_err(|err: CallError<OutboundError>| {
                DownstreamError::Unavailable(format!("{}: {err}", self.breaker.name()))
            })?;
        match answer.status {
            StatusCode::OK => serde_json::from_str(&answer.body).map(Some).map_err(|err| {
                DownstreamError::Unexpected(format!("GET {url}: unreadable body: {err}"))
            }),
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(DownstreamError::Unexpected(format!(
                "GET {url} answered {status}"
            ))),
        }
    }
}
