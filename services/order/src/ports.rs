//! What the use cases need from the outside world: order storage with transactions
//! (Postgres), the user directory (the identity provider's admin API), and the payment
//! service.

use std::future::Future;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    domain::{Order, OrderId},
    events::OrderCancelled,
};

/// A storage failure, already translated from the driver's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; the client may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug).
    #[error("database error: {0}")]
    Other(String),
}

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 0-based page number.
    pub number: i64,
    /// Items per page, 1..=100.
    pub size: i64,
}

/// Orders in storage.
pub trait OrderStore: Clone + Send + Sync + 'static {
    /// A unit of work on one order.
    type Tx: OrderTx;

    /// A page of all orders ordered by id.
    fn page(&self, page: Page) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;
    /// One order.
    fn get(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
    /// Every order of a customer, ordered by id.
    fn of_customer(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;
    /// Starts a transaction.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;
}

/// A transaction; dropped without [`commit`](Self::commit), it rolls back.
pub trait OrderTx: Send {
    /// Reads an order and locks it until the transaction ends, so concurrent transitions
    /// of one order serialize.
    fn lock(
        &mut self,
        id: OrderId,
    ) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
    /// Writes the order's status, address, cancellation and recipient.
    fn save(&mut self, order: &Order) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `order.cancelled` to the outbox, in this transaction.
    fn publish(
        &mut self,
        event: OrderCancelled,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Commits.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A failure of the user directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The identity provider cannot be used right now (down, slow, circuit open, or it
    /// refused our service credentials).
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// It answered something we do not understand.
    #[error("identity provider error: {0}")]
    Other(String),
}

/// A customer's name as the identity provider knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerName {
    /// The identity provider's user id.
    pub id: String,
    /// Given name; null when unknown or the provider could not answer.
    pub first_name: Option<String>,
    /// Family name; null when unknown or the provider could not answer.
    pub last_name: Option<String>,
}

/// The identity provider's users (Keycloak's admin REST API).
pub trait CustomerDirectory: Clone + Send + Sync + 'static {
    /// One user's name; `None` when there is no such user.
    fn get(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<CustomerName>, DirectoryError>> + Send;
}

/// Why the payment service gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    /// Down, slow, or its circuit breaker is open.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// It answered with an error status or a body we do not understand.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// A payment as the order detail shows it (`{id, totalPrice}` of `GET /payment/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSummary {
    /// Payment id.
    pub id: i64,
    /// Total, exact.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub total_price: Decimal,
}

/// The payment service.
pub trait PaymentService: Clone + Send + Sync + 'static {
    /// One payment, asked with the caller's bearer token; `None` when it does not exist.
    fn get(
        &self,
        id: i64,
        bearer: &str,
    ) -> impl Future<Output = Result<Option<PaymentSummary>, DownstreamError>> + Send;
}
