//! The order and payment services over HTTP (reference §4): the lists account shows in
//! the customer detail, asked with the caller's bearer token.
//!
//! `GET {order_url}/order/ofCustomer/{id}` and `GET {payment_url}/payment/ofCustomer/{id}`,
//! each behind its own circuit breaker (`order`, `payment`) with the configured timeout.
//! These adapters report failures; the fallback (an empty list, never cached) is the use
//! case's decision.

use platform::resilience::{Breaker, CallError};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::{
    domain::{OrderSummary, PaymentSummary},
    outbound::{self, OutboundError},
    ports::{DownstreamError, OrderService, PaymentService},
};

/// One service reached over HTTP.
#[derive(Debug, Clone)]
struct Downstream {
    http: reqwest::Client,
    /// Base URL without a trailing slash.
    base: String,
    breaker: Breaker,
}

impl Downstream {
    fn new(http: reqwest::Client, base: &str, breaker: Breaker) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            breaker,
        }
    }

    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        bearer: &str,
    ) -> Result<Vec<T>, DownstreamError> {
        let url = format!("{}{path}", self.base);
        let answer = outbound::send(&self.breaker, || self.http.get(&url).bearer_auth(bearer))
            .await
            .map_err(|err: CallError<OutboundError>| {
                DownstreamError::Unavailable(format!("{}: {err}", self.breaker.name()))
            })?;
        if answer.status != StatusCode::OK {
            return Err(DownstreamError::Unexpected(format!(
                "GET {url} answered {}",
                answer.status
            )));
        }
        serde_json::from_str(&answer.body).map_err(|err| {
            DownstreamError::Unexpected(format!("GET {url}: unreadable body: {err}"))
        })
    }
}

/// The order service.
#[derive(Debug, Clone)]
pub struct HttpOrderService {
    downstream: Downstream,
}

impl HttpOrderService {
    /// The service at `base` (e.g. `http://order:8080`), guarded by `breaker`.
    pub fn new(http: reqwest::Client, base: &str, breaker: Breaker) -> Self {
        Self {
            downstream: Downstream::new(http, base, breaker),
        }
    }

    /// Its breaker (tests observe it).
    pub fn breaker(&self) -> &Breaker {
        &self.downstream.breaker
    }
}

impl OrderService for HttpOrderService {
    async fn orders_of(
        &self,
        customer_id: &str,
        bearer: &str,
    ) -> Result<Vec<OrderSummary>, DownstreamError> {
        self.downstream
            .list(&format!("/order/ofCustomer/{customer_id}"), bearer)
            .await
    }
}

/// The payment service.
#[derive(Debug, Clone)]
pub struct HttpPaymentService {
    downstream: Downstream,
}

impl HttpPaymentService {
    /// The service at `base` (e.g. `http://payment:8080`), guarded by `breaker`.
    pub fn new(http: reqwest::Client, base: &str, breaker: Breaker) -> Self {
        Self {
            downstream: Downstream::new(http, base, breaker),
        }
    }

    /// Its breaker (tests observe it).
    pub fn breaker(&self) -> &Breaker {
        &self.downstream.breaker
    }
}

impl PaymentService for HttpPaymentService {
    async fn payments_of(
        &self,
        customer_id: &str,
        bearer: &str,
    ) -> Result<Vec<PaymentSummary>, DownstreamError> {
        self.downstream
            .list(&format!("/payment/ofCustomer/{customer_id}"), bearer)
            .await
    }
}
