//! What the use cases need from the outside world: address storage with transactions
//! (Postgres), the user directory (the identity provider's admin API), and the order and
//! payment services.

use std::future::Future;

use crate::{
    domain::{Address, AddressId, Customer, NewAddress, OrderSummary, PaymentSummary, UserRange},
    events::PrimaryAddressSaved,
};

/// A storage failure, already translated from the driver's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The customer already has an address with this name (a unique violation).
    #[error("duplicate address name")]
    Duplicate,
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

/// Addresses in storage.
pub trait AddressStore: Clone + Send + Sync + 'static {
    /// A unit of work on one customer's addresses.
    type Tx: AddressTx;

    /// A page of the customer's addresses ordered by id.
    fn page(
        &self,
        customer_id: &str,
        page: Page,
    ) -> impl Future<Output = Result<Vec<Address>, StoreError>> + Send;

    /// Starts a transaction on the customer's addresses. Writes of one customer are
    /// serialized (the transaction holds the customer's lock until it ends), so the
    /// "first address is primary" and "one primary" rules hold under concurrency.
    fn begin(&self, customer_id: &str)
    -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;
}

/// A transaction on one customer's addresses; dropped without [`commit`](Self::commit),
/// it rolls back. Every method sees only that customer's addresses.
pub trait AddressTx: Send {
    /// How many addresses the customer has.
    fn count(&mut self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// One of the customer's addresses.
    fn get(
        &mut self,
        id: AddressId,
    ) -> impl Future<Output = Result<Option<Address>, StoreError>> + Send;
    /// The customer's primary address.
    fn primary(&mut self) -> impl Future<Output = Result<Option<Address>, StoreError>> + Send;
    /// The customer's oldest address.
    fn oldest(&mut self) -> impl Future<Output = Result<Option<Address>, StoreError>> + Send;
    /// Stores a new address; [`StoreError::Duplicate`] when the name is taken.
    fn insert(
        &mut self,
        address: &NewAddress,
        primary: bool,
    ) -> impl Future<Output = Result<Address, StoreError>> + Send;
    /// Replaces name, country, city and zip code (never the primary flag);
    /// [`StoreError::Duplicate`] when the new name is another address's.
    fn update(
        &mut self,
        id: AddressId,
        address: &NewAddress,
    ) -> impl Future<Output = Result<Option<Address>, StoreError>> + Send;
    /// Deletes an address; returns it.
    fn delete(
        &mut self,
        id: AddressId,
    ) -> impl Future<Output = Result<Option<Address>, StoreError>> + Send;
    /// Sets or clears the primary flag; returns the updated address.
    fn set_primary(
        &mut self,
        id: AddressId,
        primary: bool,
    ) -> impl Future<Output = Result<Option<Address>, StoreError>> + Send;
    /// Writes the event to the outbox, in this transaction.
    fn publish(
        &mut self,
        event: PrimaryAddressSaved,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Commits.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A failure of the user directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The identity provider cannot be used right now (down, slow, circuit open, or it
    /// refused our service credentials); the client may retry.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// It answered something we do not understand (a bug or an incompatibility).
    #[error("identity provider error: {0}")]
    Other(String),
}

/// A user of the identity provider, with the username that tells customers from
/// service accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// Login name.
    pub username: String,
    /// The user as a customer.
    pub customer: Customer,
}

/// The identity provider's users (Keycloak's admin REST API).
pub trait CustomerDirectory: Clone + Send + Sync + 'static {
    /// A slice of the user list, in the provider's order.
    fn list(
        &self,
        range: UserRange,
    ) -> impl Future<Output = Result<Vec<DirectoryUser>, DirectoryError>> + Send;
    /// One user.
    fn get(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<DirectoryUser>, DirectoryError>> + Send;
    /// Enables or disables a user; `false` when there is no such user.
    fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, DirectoryError>> + Send;
}

/// Why another service gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    /// Down, slow, or its circuit breaker is open.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// It answered with an error status or a body we do not understand.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// The order service.
pub trait OrderService: Clone + Send + Sync + 'static {
    /// The customer's orders, asked with the caller's bearer token.
    fn orders_of(
        &self,
        customer_id: &str,
        bearer: &str,
    ) -> impl Future<Output = Result<Vec<OrderSummary>, DownstreamError>> + Send;
}

/// The payment service.
pub trait PaymentService: Clone + Send + Sync + 'static {
    /// The customer's payments, asked with the caller's bearer token.
    fn payments_of(
        &self,
        customer_id: &str,
        bearer: &str,
    ) -> impl Future<Output = Result<Vec<PaymentSummary>, DownstreamError>> + Send;
}
