//! The order use cases (reference §2.3 with SPEC §2's fixes), over the [`OrderStore`],
//! [`CustomerDirectory`] and [`PaymentService`] ports, with the order caches.
//!
//! Caches (reference §6): `order` (one order, 15 min) and `ordersOfCustomer` (a
//! customer's orders, 60 min). Both are evicted after every committed change of an
//! order (the original never evicted `order`, §13.5), and so is account's copy of the
//! customer's orders (`ordersOfCustomer.rest` under account's prefix), which only order
//! knows to be stale.
//!
//! The order detail asks the identity provider for the customer's name and the payment
//! service for the payment, concurrently. **Fallbacks**: a name the provider cannot give
//! is null; a payment the payment service cannot give (down, slower than the timeout,
//! circuit open, error status, unknown) is null. Payment reads are **not cached**: the
//! payment changes state (approved, refunded) in another service, which would have to
//! evict order's keys to keep them fresh; a per-request read within a 1 s timeout is
//! cheaper than that coupling, and a fallback is never stored.

use std::time::Duration;

use platform::cache::{Cache, CacheStatus};

use crate::{
    domain::{Cancellation, Order, OrderId, TransitionError, ValidationError},
    events::OrderCancelled,
    ports::{
        CustomerDirectory, CustomerName, OrderStore, OrderTx, Page, PaymentService, PaymentSummary,
        StoreError,
    },
};

/// Cache of single orders (the original's `order`).
pub const ORDER_CACHE: &str = "order";
/// Its TTL (the original's 15 minutes).
pub const ORDER_TTL: Duration = Duration::from_secs(15 * 60);
/// Cache of a customer's orders (the original's `ordersOfCustomer`).
pub const ORDERS_OF_CUSTOMER_CACHE: &str = "ordersOfCustomer";
/// Its TTL (the original's 60 minutes).
pub const ORDERS_OF_CUSTOMER_TTL: Duration = Duration::from_secs(60 * 60);
/// Account's cache of a customer's orders as order listed them, evicted from here.
pub const ACCOUNT_ORDERS_CACHE: &str = "ordersOfCustomer.rest";

/// Why an order operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No such order, or not the caller's.
    #[error("Order not found!")]
    NotFound(OrderId),
    /// Invalid input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The order's status forbids the operation.
    #[error(transparent)]
    Conflict(#[from] TransitionError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The order caches: order's own and account's copy of a customer's orders.
#[derive(Debug, Clone)]
pub struct OrderCaches {
    /// Order's cache (`order`, `ordersOfCustomer`).
    pub own: Cache,
    /// Account's cache, for evicting `ordersOfCustomer.rest`.
    pub account: Cache,
}

impl OrderCaches {
    /// Evicts everything a change of the order `id` of `customer_id` makes stale
    /// (`id` is `None` for a new order, which no one can have cached yet).
    pub async fn evict(&self, id: Option<OrderId>, customer_id: &str) {
        let customer = [customer_id.to_owned()];
        let own_orders = async {
            if let Some(id) = id {
                self.own.evict(ORDER_CACHE, &[id.to_string()]).await;
            }
        };
        futures::join!(
            own_orders,
            self.own.evict(ORDERS_OF_CUSTOMER_CACHE, &customer),
            self.account.evict(ACCOUNT_ORDERS_CACHE, &customer),
        );
    }
}

/// An order with its customer and payment (`OrderDetailResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetail {
    /// The order.
    pub order: Order,
    /// Its customer; names are null when the identity provider could not answer.
    pub customer: CustomerName,
    /// Its payment; null when the payment service could not answer.
    pub payment: Option<PaymentSummary>,
}

/// The use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Orders<S, D, P> {
    store: S,
    directory: D,
    payments: P,
    caches: OrderCaches,
}

impl<S, D, P> Orders<S, D, P>
where
    S: OrderStore,
    D: CustomerDirectory,
    P: PaymentService,
{
    /// Use cases over the store, the directory and the payment service.
    pub fn new(store: S, directory: D, payments: P, caches: OrderCaches) -> Self {
        Self {
            store,
            directory,
            payments,
            caches,
        }
    }

    /// O2: a page of all orders.
    pub async fn list(&self, page: Page) -> Result<Vec<Order>, OrderError> {
        Ok(self.store.page(page).await?)
    }

    /// O4: one order, cache-aside.
    pub async fn get(&self, id: OrderId) -> Result<(Order, CacheStatus), OrderError> {
        self.caches
            .own
            .get_or_load(ORDER_CACHE, &id.to_string(), ORDER_TTL, async {
                self.store.get(id).await?.ok_or(OrderError::NotFound(id))
            })
            .await
    }

    /// O3/O6: a customer's orders, cache-aside.
    pub async fn of_customer(
        &self,
        customer_id: &str,
    ) -> Result<(Vec<Order>, CacheStatus), OrderError> {
        Ok(self
            .caches
            .own
            .get_or_load(
                ORDERS_OF_CUSTOMER_CACHE,
                customer_id,
                ORDERS_OF_CUSTOMER_TTL,
                self.store.of_customer(customer_id),
            )
            .await?)
    }

    /// O5: the order with its customer's name and its payment, both asked concurrently
    /// and each falling back to null.
    pub async fn detail(&self, id: OrderId, bearer: &str) -> Result<OrderDetail, OrderError> {
        let (order, _) = self.get(id).await?;
        let customer = async {
            let unknown = || CustomerName {
                id: order.customer_id.clone(),
                first_name: None,
                last_name: None,
            };
            match self.directory.get(&order.customer_id).await {
                Ok(Some(customer)) => customer,
                Ok(None) => {
                    tracing::warn!(customer.id = %order.customer_id, "the identity provider does not know the order's customer");
                    unknown()
                }
                Err(err) => {
                    tracing::warn!(customer.id = %order.customer_id, error = %err, "no customer name from the identity provider, answering nulls");
                    unknown()
                }
            }
        };
        let payment = async {
            match self.payments.get(order.payment_id, bearer).await {
                Ok(payment) => payment,
                Err(err) => {
                    tracing::warn!(payment.id = order.payment_id, error = %err, "no payment from the payment service, answering null");
                    None
                }
            }
        };
        let (customer, payment) = futures::join!(customer, payment);
        Ok(OrderDetail {
            order,
            customer,
            payment,
        })
    }

    /// O7: the customer cancels their own order; `order.cancelled` is written in the
    /// same transaction, so payment refunds and inventory restocks exactly when the
    /// cancellation committed.
    pub async fn cancel(
        &self,
        id: OrderId,
        customer_id: &str,
        cancellation: Cancellation,
    ) -> Result<Order, OrderError> {
        self.transition(id, Some(customer_id), |order| {
            order.cancel(cancellation.clone())?;
            Ok(Some(OrderCancelled {
                order_id: order.id,
                payment_id: order.payment_id,
                customer_id: order.customer_id.clone(),
                cancellation_reason: cancellation.cancellation_reason,
                explanation: cancellation.explanation.clone(),
            }))
        })
        .await
    }

    /// Ship (new, SPEC §2): a manager sends a preparing order on its way.
    pub async fn ship(&self, id: OrderId) -> Result<Order, OrderError> {
        self.transition(id, None, |order| order.ship().map(|()| None))
            .await
    }

    /// O8: a manager records the delivery of an order on its way.
    pub async fn deliver(&self, id: OrderId, recipient: &str) -> Result<Order, OrderError> {
        let recipient = crate::domain::order::recipient(recipient)?;
        self.transition(id, None, |order| order.deliver(recipient).map(|()| None))
            .await
    }

    /// O9: the customer changes the delivery address of their own preparing order.
    pub async fn change_address(
        &self,
        id: OrderId,
        customer_id: &str,
        address: &str,
    ) -> Result<Order, OrderError> {
        let address = crate::domain::order::delivery_address(address)?;
        self.transition(id, Some(customer_id), |order| {
            order.change_address(address).map(|()| None)
        })
        .await
    }

    /// Locks the order (only `owner`'s, when given: someone else's is "not found"),
    /// applies `change`, saves it with the event it announces, commits, then evicts the
    /// caches. A refused transition rolls back and changes nothing.
    async fn transition(
        &self,
        id: OrderId,
        owner: Option<&str>,
        change: impl FnOnce(&mut Order) -> Result<Option<OrderCancelled>, TransitionError>,
    ) -> Result<Order, OrderError> {
        let mut tx = self.store.begin().await?;
        let mut order = tx
            .lock(id)
            .await?
            .filter(|order| owner.is_none_or(|owner| order.belongs_to(owner)))
            .ok_or(OrderError::NotFound(id))?;
        let event = change(&mut order)?;
        tx.save(&order).await?;
        if let Some(event) = event {
            tx.publish(event).await?;
        }
        tx.commit().await?;
        tracing::info!(order.id = order.id, status = %order.status, "order changed");
        self.caches.evict(Some(order.id), &order.customer_id).await;
        Ok(order)
    }
}
