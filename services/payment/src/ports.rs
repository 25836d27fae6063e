//! What the use cases need from the outside world: storage of carts and payments, and
//! the identity provider's view of a customer.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::domain::{Cart, CartError, CheckoutError, Payment, PaymentId};

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

/// Carts and payments in storage.
pub trait PaymentStore: Clone + Send + Sync + 'static {
    /// A page of payments ordered by id.
    fn page(&self, page: Page) -> impl Future<Output = Result<Vec<Payment>, StoreError>> + Send;
    /// Every payment of a customer, ordered by id.
    fn of_customer(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<Payment>, StoreError>> + Send;
    /// One payment.
    fn get(
        &self,
        id: PaymentId,
    ) -> impl Future<Output = Result<Option<Payment>, StoreError>> + Send;
    /// The customer's cart, or the synthetic empty one (id `None`) when none is stored.
    fn cart(&self, customer_id: &str) -> impl Future<Output = Result<Cart, StoreError>> + Send;
    /// Applies `op` to the customer's cart under a row lock and stores the result when
    /// `op` succeeds.
    fn update_cart<T, F>(
        &self,
        customer_id: &str,
        op: F,
    ) -> impl Future<Output = Result<Result<T, CartError>, StoreError>> + Send
    where
        T: Send,
        F: FnOnce(&mut Cart) -> Result<T, CartError> + Send;
    /// In one transaction: turns the customer's cart into a PENDING payment, empties the
    /// cart and writes `payment.saved` to the outbox. A refusal writes nothing.
    fn checkout(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Result<Payment, CheckoutError>, StoreError>> + Send;
}

/// A customer as the identity provider knows them (P5's `customer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSummary {
    /// The user id.
    pub id: String,
    /// First name; null when unknown or the provider could not be asked.
    pub first_name: Option<String>,
    /// Last name; null when unknown or the provider could not be asked.
    pub last_name: Option<String>,
}

/// Why the identity provider gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Down, slow, or its breaker is open.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// An answer we cannot use.
    #[error("identity provider error: {0}")]
    Other(String),
}

/// The identity provider's users.
pub trait CustomerDirectory: Clone + Send + Sync + 'static {
    /// The user `id`, or `None` when there is no such user.
    fn get(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<CustomerSummary>, DirectoryError>> + Send;
}
