//! The payment use cases (reference §2.4 with SPEC §2–§4's fixes), over the
//! [`PaymentStore`] and [`CustomerDirectory`] ports and the caches.
//!
//! Caches (60 min, as the original's): `payment::<id>`, `paymentsOfCustomer::<customerId>`,
//! `cart::<customerId>`, and `user::<id>` (30 min) for P5's customer. Every change evicts
//! what it touches after its commit, including the other services' copies: account's
//! `paymentsOfCustomer.rest::<customerId>` and order's `payment.rest::<id>` (reference §6).

use std::time::Duration;

use platform::cache::{Cache, CacheStatus};

use crate::{
    domain::{Cart, CartError, CheckoutError, Payment, PaymentId, ProductId},
    ports::{CustomerDirectory, CustomerSummary, Page, PaymentStore, StoreError},
};

/// Cache of single payments.
pub const PAYMENT_CACHE: &str = "payment";
/// Cache of a customer's payments.
pub const PAYMENTS_OF_CUSTOMER_CACHE: &str = "paymentsOfCustomer";
/// Cache of carts by customer.
pub const CART_CACHE: &str = "cart";
/// Cache of identity-provider users.
pub const USER_CACHE: &str = "user";
/// Account's cache of our `ofCustomer` answers (evicted across services).
pub const ACCOUNT_PAYMENTS_CACHE: &str = "paymentsOfCustomer.rest";
/// Order's cache of our `/{id}` answers (evicted across services).
pub const ORDER_PAYMENT_CACHE: &str = "payment.rest";
/// TTL of payments and carts.
pub const TTL: Duration = Duration::from_secs(3600);
/// TTL of users.
pub const USER_TTL: Duration = Duration::from_secs(1800);

/// Why a payment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such payment.
    #[error("Payment not found!")]
    NotFound(PaymentId),
    /// A cart rule refused the change.
    #[error(transparent)]
    Cart(#[from] CartError),
    /// A checkout rule refused the payment.
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Our cache and the other services' caches we evict; cheap to clone.
#[derive(Debug, Clone)]
pub struct Caches {
    /// Payment's own cache.
    pub own: Cache,
    /// Account's cache (prefix `PAYMENT_ACCOUNT_CACHE_PREFIX`).
    pub account: Cache,
    /// Order's cache (prefix `PAYMENT_ORDER_CACHE_PREFIX`).
    pub order: Cache,
}

impl Caches {
    /// After a payment changed (created or a new status).
    pub async fn payment_changed(&self, payment_id: PaymentId, customer_id: &str) {
        let customer = [customer_id.to_owned()];
        let payment = [payment_id.to_string()];
        self.own.evict(PAYMENT_CACHE, &payment).await;
        self.own.evict(PAYMENTS_OF_CUSTOMER_CACHE, &customer).await;
        self.account.evict(ACCOUNT_PAYMENTS_CACHE, &customer).await;
        self.order.evict(ORDER_PAYMENT_CACHE, &payment).await;
    }

    /// After a cart changed.
    pub async fn cart_changed(&self, customer_id: &str) {
        self.own.evict(CART_CACHE, &[customer_id.to_owned()]).await;
    }
}

/// The use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Payments<S, D> {
    store: S,
    directory: D,
    caches: Caches,
}

impl<S: PaymentStore, D: CustomerDirectory> Payments<S, D> {
    /// Use cases over `store` and `directory`, caching through `caches`.
    pub fn new(store: S, directory: D, caches: Caches) -> Self {
        Self {
            store,
            directory,
            caches,
        }
    }

    /// P2: a page of payments.
    pub async fn list(&self, page: Page) -> Result<Vec<Payment>, PaymentError> {
        Ok(self.store.page(page).await?)
    }

    /// P3/P6: a customer's payments, cache-aside.
    pub async fn of_customer(
        &self,
        customer_id: &str,
    ) -> Result<(Vec<Payment>, CacheStatus), PaymentError> {
        Ok(self
            .caches
            .own
            .get_or_load(
                PAYMENTS_OF_CUSTOMER_CACHE,
                customer_id,
                TTL,
                self.store.of_customer(customer_id),
            )
            .await?)
    }

    /// P4: one payment, cache-aside.
    pub async fn get(&self, id: PaymentId) -> Result<(Payment, CacheStatus), PaymentError> {
        let key = id.to_string();
        if let Some(payment) = self.caches.own.get::<Payment>(PAYMENT_CACHE, &key).await {
            return Ok((payment, CacheStatus::Hit));
        }
        let payment = self
            .store
            .get(id)
            .await?
            .ok_or(PaymentError::NotFound(id))?;
        self.caches
            .own
            .put(PAYMENT_CACHE, &key, &payment, TTL)
            .await;
        Ok((payment, CacheStatus::Miss))
    }

    /// P5: the payment and its customer. When the identity provider cannot answer, the
    /// customer's names are null, and that fallback is not cached.
    pub async fn detail(&self, id: PaymentId) -> Result<(Payment, CustomerSummary), PaymentError> {
        let (payment, _) = self.get(id).await?;
        let customer = self.customer(&payment.customer_id).await;
        Ok((payment, customer))
    }

    async fn customer(&self, id: &str) -> CustomerSummary {
        if let Some(customer) = self.caches.own.get(USER_CACHE, id).await {
            return customer;
        }
        match self.directory.get(id).await {
            Ok(Some(customer)) => {
                self.caches
                    .own
                    .put(USER_CACHE, id, &customer, USER_TTL)
                    .await;
                customer
            }
            Ok(None) => {
                tracing::warn!(customer.id = %id, "the payment's customer is unknown to the identity provider");
                unknown_customer(id)
            }
            Err(err) => {
                tracing::warn!(customer.id = %id, error = %err, "customer names unavailable, answering without them");
                unknown_customer(id)
            }
        }
    }

    /// P7: checkout. Caches are evicted after the commit.
    pub async fn accept(&self, customer_id: &str) -> Result<Payment, PaymentError> {
        let payment = self.store.checkout(customer_id).await??;
        self.caches.cart_changed(customer_id).await;
        self.caches.payment_changed(payment.id, customer_id).await;
        tracing::info!(payment.id = payment.id, customer.id = %customer_id, total = %payment.total_price, "payment accepted");
        Ok(payment)
    }

    /// P8: the customer's cart (a synthetic empty one when none is stored), cache-aside.
    pub async fn cart(&self, customer_id: &str) -> Result<(Cart, CacheStatus), PaymentError> {
        let (cached, status) = self
            .caches
            .own
            .get_or_load(CART_CACHE, customer_id, TTL, async {
                self.store.cart(customer_id).await.map(CachedCart::from)
            })
            .await?;
        Ok((cached.into_cart(customer_id), status))
    }

    /// P9: removes one unit of `product_id`.
    pub async fn remove_from_cart(
        &self,
        customer_id: &str,
        product_id: ProductId,
    ) -> Result<(), PaymentError> {
        self.store
            .update_cart(customer_id, |cart| cart.remove_one(product_id))
            .await??;
        self.caches.cart_changed(customer_id).await;
        Ok(())
    }

    /// P10: empties the cart.
    pub async fn clear_cart(&self, customer_id: &str) -> Result<(), PaymentError> {
        self.store.update_cart(customer_id, Cart::clear).await??;
        self.caches.cart_changed(customer_id).await;
        Ok(())
    }
}

fn unknown_customer(id: &str) -> CustomerSummary {
    CustomerSummary {
        id: id.to_owned(),
        first_name: None,
        last_name: None,
    }
}

/// A cart as cached (the customer id is the key).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CachedCart {
    id: Option<i64>,
    products: Vec<crate::domain::Line>,
}

impl From<Cart> for CachedCart {
    fn from(cart: Cart) -> Self {
        Self {
            id: cart.id,
            products: cart.products,
        }
    }
}

impl CachedCart {
    fn into_cart(self, customer_id: &str) -> Cart {
        Cart {
            id: self.id,
            customer_id: customer_id.to_owned(),
            products: self.products,
        }
    }
}
