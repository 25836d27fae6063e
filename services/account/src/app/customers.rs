//! A2–A6: customer administration for managers, over the identity provider's admin API
//! (the [`CustomerDirectory`] port), plus the customer detail that gathers orders and
//! payments from their services.
//!
//! Caches: `user` (one customer, 30 min) and `users` (a slice of the list, 5 min), both
//! dropped when a manager enables or disables a user; `ordersOfCustomer.rest` and
//! `paymentsOfCustomer.rest` (60 min) hold the other services' answers. Those two are
//! evicted by nobody here: the order and payment services change that data, and evicting
//! these keys on their writes comes with those services (until then the TTL bounds the
//! staleness, as it did in the original, reference §6).
//!
//! **Fallback** (reference §4): when the order or the payment service cannot answer (down,
//! slower than the timeout, circuit open, or an error status) the detail shows an empty
//! list for it instead of failing. A fallback is logged and never cached (reference §13.6
//! cached it for an hour).

use std::time::Duration;

use platform::cache::{Cache, CacheStatus};

use super::{generation, invalidate};
use crate::{
    domain::{
        Customer, CustomerDetail, UserRange, ValidationError,
        customer::{customer_id, is_service_account},
    },
    ports::{CustomerDirectory, DirectoryError, DirectoryUser, OrderService, PaymentService},
};

/// Cache of single customers (the original's `user`).
pub const USER_CACHE: &str = "user";
/// Its TTL (the original's 30 minutes).
pub const USER_TTL: Duration = Duration::from_secs(30 * 60);
/// Cache of slices of the customer list (the original's `users`).
pub const USERS_CACHE: &str = "users";
/// Its TTL (the original's 5 minutes).
pub const USERS_TTL: Duration = Duration::from_secs(5 * 60);
/// Cache of a customer's orders, as the order service listed them.
pub const ORDERS_CACHE: &str = "ordersOfCustomer.rest";
/// Cache of a customer's payments, as the payment service listed them.
pub const PAYMENTS_CACHE: &str = "paymentsOfCustomer.rest";
/// TTL of both (the original's 60 minutes).
pub const DOWNSTREAM_TTL: Duration = Duration::from_secs(60 * 60);

/// The generation scope of the one user list.
const ALL_USERS: &str = "all";

/// Why a customer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// Invalid input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// No such customer (reference §13.16 answered 500).
    #[error("Customer not found!")]
    NotFound(String),
    /// The identity provider failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// The customer use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct CustomerAdmin<D, O, P> {
    directory: D,
    orders: O,
    payments: P,
    cache: Cache,
}

fn customer(user: DirectoryUser) -> Option<Customer> {
    (!is_service_account(&user.username)).then_some(user.customer)
}

impl<D, O, P> CustomerAdmin<D, O, P>
where
    D: CustomerDirectory,
    O: OrderService,
    P: PaymentService,
{
    /// Use cases over the directory and the two services, caching through `cache`.
    pub fn new(directory: D, orders: O, payments: P, cache: Cache) -> Self {
        Self {
            directory,
            orders,
            payments,
            cache,
        }
    }

    /// A2: a slice of the customers, service accounts left out (so a slice may hold
    /// fewer than `max`), cache-aside.
    pub async fn list(
        &self,
        range: UserRange,
    ) -> Result<(Vec<Customer>, CacheStatus), CustomerError> {
        let generation = generation(&self.cache, USERS_CACHE, ALL_USERS, USERS_TTL).await;
        let key = format!("{generation}:{}:{}", range.first, range.max);
        let load = async {
            let users = self.directory.list(range).await?;
            Ok::<_, DirectoryError>(users.into_iter().filter_map(customer).collect::<Vec<_>>())
        };
        Ok(self
            .cache
            .get_or_load(USERS_CACHE, &key, USERS_TTL, load)
            .await?)
    }

    /// A3: one customer, cache-aside; 404 for an unknown id or a service account.
    pub async fn get(&self, id: &str) -> Result<(Customer, CacheStatus), CustomerError> {
        let id = customer_id(id)?;
        self.cache
            .get_or_load(USER_CACHE, id, USER_TTL, async {
                self.directory
                    .get(id)
                    .await?
                    .and_then(customer)
                    .ok_or_else(|| CustomerError::NotFound(id.to_owned()))
            })
            .await
    }

    /// A4: the customer with their orders and payments, asked concurrently of the order
    /// and payment services with the caller's token; each falls back to an empty list.
    pub async fn detail(&self, id: &str, bearer: &str) -> Result<CustomerDetail, CustomerError> {
        let (customer, _) = self.get(id).await?;
        let id = customer.id.as_str();
        let orders = async {
            match self
                .cache
                .get_or_load(
                    ORDERS_CACHE,
                    id,
                    DOWNSTREAM_TTL,
                    self.orders.orders_of(id, bearer),
                )
                .await
            {
                Ok((orders, _)) => orders,
                Err(err) => {
                    tracing::warn!(customer.id = %id, error = %err, "no orders from the order service, answering an empty list");
                    Vec::new()
                }
            }
        };
        let payments = async {
            match self
                .cache
                .get_or_load(
                    PAYMENTS_CACHE,
                    id,
                    DOWNSTREAM_TTL,
                    self.payments.payments_of(id, bearer),
                )
                .await
            {
                Ok((payments, _)) => payments,
                Err(err) => {
                    tracing::warn!(customer.id = %id, error = %err, "no payments from the payment service, answering an empty list");
                    Vec::new()
                }
            }
        };
        let (orders, payments) = futures::join!(orders, payments);
        Ok(CustomerDetail {
            customer,
            orders,
            payments,
        })
    }

    /// A5/A6: enables or disables a customer, then drops them from the caches. Service
    /// accounts are not customers and cannot be switched off through here.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), CustomerError> {
        let id = customer_id(id)?;
        let not_found = || CustomerError::NotFound(id.to_owned());
        self.directory
            .get(id)
            .await?
            .and_then(customer)
            .ok_or_else(not_found)?;
        if !self.directory.set_enabled(id, enabled).await? {
            return Err(not_found());
        }
        self.cache.evict(USER_CACHE, &[id.to_owned()]).await;
        invalidate(&self.cache, USERS_CACHE, ALL_USERS).await;
        Ok(())
    }
}
