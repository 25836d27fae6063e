//! The RabbitMQ adapter: the four consumers of the payment side of the saga.
//!
//! - `product.available` merges the product into the customer's cart.
//! - `address.primary-saved` upserts the customer projection (a later-saved address is
//!   never overwritten by an older event applied late).
//! - `product.checked` approves a PENDING payment (`payment.approved` with the address)
//!   or cancels it with the reason (`payment.cancelled`). With no address known at that
//!   point (checkout refuses that up front, so only defensively) it is cancelled with
//!   "No delivery address." and `payment.refunded` gives inventory its stock back: a
//!   payment never stays PENDING.
//! - `order.cancelled` refunds an APPROVED payment (`payment.refunded` with the quantities).
//!
//! Each runs in one transaction with its inbox row (opened by the platform consumer), so
//! a redelivery never applies twice, and events go out through the outbox in that same
//! transaction. A payment in any other status is left alone: late or repeated events are
//! no-ops. Caches are evicted before the commit and again after it (a double delete,
//! narrowing the window in which a concurrent reader could cache the old state).

use platform::messaging::{Handler, HandlerError, Message, outbox};
use sqlx::PgConnection;

use crate::{
    app::Caches,
    domain::{Line, PaymentId, PaymentStatus, cart::quantities, payment::NO_ADDRESS_REASON},
    events::{
        OrderCancelled, PaymentApproved, PaymentCancelled, PaymentRefunded, PrimaryAddressSaved,
        ProductAvailable, ProductsChecked,
    },
    postgres,
};

/// Longest customer id (the columns are `VARCHAR(36)`).
const MAX_CUSTOMER_ID_CHARS: usize = 36;
/// Longest address (the column is `VARCHAR(300)`).
const MAX_ADDRESS_CHARS: usize = 300;

fn customer_id(raw: &str) -> Result<&str, HandlerError> {
    let id = raw.trim();
    if id.is_empty() || id.chars().count() > MAX_CUSTOMER_ID_CHARS {
        return Err(HandlerError::Permanent(format!(
            "customerId: must be 1 to {MAX_CUSTOMER_ID_CHARS} characters, got {raw:?}"
        )));
    }
    Ok(id)
}

fn expect_type(message: &Message, expected: &str, queue: &str) -> Result<(), HandlerError> {
    if message.envelope.event_type == expected {
        Ok(())
    } else {
        Err(HandlerError::Permanent(format!(
            "unexpected event type {:?} on the {queue} queue",
            message.envelope.event_type
        )))
    }
}

/// Handles `product.available`.
#[derive(Debug, Clone)]
pub struct ProductAvailableHandler {
    /// Evicted after cart changes.
    pub caches: Caches,
}

impl Handler for ProductAvailableHandler {
    type Done = String;

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        expect_type(message, "ProductAvailable", "product.available")?;
        let event: ProductAvailable = message.payload()?;
        let customer = customer_id(&event.customer_id)?.to_owned();
        let line = Line::new(
            event.id,
            &event.name,
            event.price,
            &event.product_category,
            event.desired_quantity,
        )
        .map_err(|err| HandlerError::Permanent(err.to_string()))?;
        postgres::merge_into_cart(tx, &customer, &line).await?;
        tracing::info!(customer.id = %customer, product.id = line.id, quantity = line.quantity, "added to the cart");
        self.caches.cart_changed(&customer).await;
        Ok(customer)
    }

    async fn committed(&self, customer: Self::Done) {
        self.caches.cart_changed(&customer).await;
    }
}

/// Handles `address.primary-saved`.
#[derive(Debug, Clone)]
pub struct PrimaryAddressSavedHandler;

impl Handler for PrimaryAddressSavedHandler {
    type Done = ();

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        let event: PrimaryAddressSaved = message.payload()?;
        let customer = customer_id(&event.customer_id)?;
        let address = event.address.trim();
        if address.is_empty() || address.chars().count() > MAX_ADDRESS_CHARS {
            return Err(HandlerError::Permanent(format!(
                "address: must be 1 to {MAX_ADDRESS_CHARS} characters"
            )));
        }
        postgres::upsert_customer(tx, customer, address, message.envelope.timestamp).await?;
        tracing::info!(customer.id = %customer, "primary address stored");
        Ok(())
    }

    async fn committed(&self, (): Self::Done) {}
}

/// A changed payment: what to evict.
#[derive(Debug)]
pub struct Changed {
    payment_id: PaymentId,
    customer_id: String,
}

impl Changed {
    async fn evict(&self, caches: &Caches) {
        caches
            .payment_changed(self.payment_id, &self.customer_id)
            .await;
    }
}

/// Handles `product.checked`.
#[derive(Debug, Clone)]
pub struct ProductsCheckedHandler {
    /// Evicted after status changes.
    pub caches: Caches,
}

impl Handler for ProductsCheckedHandler {
    type Done = Option<Changed>;

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        let event: ProductsChecked = message.payload()?;
        let Some(mut payment) = postgres::lock_payment(tx, event.payment_id).await? else {
            tracing::warn!(
                payment.id = event.payment_id,
                "stock verdict for an unknown payment ignored"
            );
            return Ok(None);
        };
        if payment.status != PaymentStatus::Pending {
            tracing::info!(payment.id = payment.id, status = %payment.status, "stock verdict for a payment that is no longer pending ignored");
            return Ok(None);
        }
        let transition = |err: crate::domain::Transition| HandlerError::Permanent(err.to_string());
        if event.are_products_available {
            match postgres::customer_address(tx, &payment.customer_id).await? {
                Some(address) => {
                    payment.approve().map_err(transition)?;
                    postgres::save_status(tx, &payment).await?;
                    outbox::enqueue(
                        tx,
                        PaymentApproved {
                            payment_id: payment.id,
                            customer_id: payment.customer_id.clone(),
                            address,
                        },
                    )
                    .await?;
                    tracing::info!(payment.id = payment.id, "payment approved");
                }
                None => {
                    // Checkout refuses a customer without an address, so this is only a
                    // safety net: the stock was taken, so give it back.
                    payment
                        .cancel(Some(NO_ADDRESS_REASON))
                        .map_err(transition)?;
                    postgres::save_status(tx, &payment).await?;
                    outbox::enqueue(
                        tx,
                        PaymentCancelled {
                            payment_id: payment.id,
                            customer_id: payment.customer_id.clone(),
                            reason: NO_ADDRESS_REASON.to_owned(),
                        },
                    )
                    .await?;
                    outbox::enqueue(
                        tx,
                        PaymentRefunded {
                            payment_id: payment.id,
                            customer_id: payment.customer_id.clone(),
                            product_quantities: quantities(&payment.products),
                        },
                    )
                    .await?;
                    tracing::warn!(
                        payment.id = payment.id,
                        "payment cancelled: no delivery address"
                    );
                }
            }
        } else {
            payment
                .cancel(event.reason.as_deref())
                .map_err(transition)?;
            postgres::save_status(tx, &payment).await?;
            outbox::enqueue(
                tx,
                PaymentCancelled {
                    payment_id: payment.id,
                    customer_id: payment.customer_id.clone(),
                    reason: payment.cancellation_reason.clone().unwrap_or_default(),
                },
            )
            .await?;
            tracing::info!(payment.id = payment.id, reason = ?payment.cancellation_reason, "payment cancelled");
        }
        let changed = Changed {
            payment_id: payment.id,
            customer_id: payment.customer_id,
        };
        changed.evict(&self.caches).await;
        Ok(Some(changed))
    }

    async fn committed(&self, changed: Self::Done) {
        if let Some(changed) = changed {
            changed.evict(&self.caches).await;
        }
    }
}

/// Handles `order.cancelled`.
#[derive(Debug, Clone)]
pub struct OrderCancelledHandler {
    /// Evicted after status changes.
    pub caches: Caches,
}

impl Handler for OrderCancelledHandler {
    type Done = Option<Changed>;

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        let event: OrderCancelled = message.payload()?;
        let Some(mut payment) = postgres::lock_payment(tx, event.payment_id).await? else {
            tracing::warn!(
                payment.id = event.payment_id,
                order.id = event.order_id,
                "cancelled order names an unknown payment; ignored"
            );
            return Ok(None);
        };
        if payment.refund().is_err() {
            tracing::info!(payment.id = payment.id, status = %payment.status, "only an approved payment is refunded; ignored");
            return Ok(None);
        }
        postgres::save_status(tx, &payment).await?;
        outbox::enqueue(
            tx,
            PaymentRefunded {
                payment_id: payment.id,
                customer_id: payment.customer_id.clone(),
                product_quantities: quantities(&payment.products),
            },
        )
        .await?;
        tracing::info!(
            payment.id = payment.id,
            order.id = event.order_id,
            "payment refunded"
        );
        let changed = Changed {
            payment_id: payment.id,
            customer_id: payment.customer_id,
        };
        changed.evict(&self.caches).await;
        Ok(Some(changed))
    }

    async fn committed(&self, changed: Self::Done) {
        if let Some(changed) = changed {
            changed.evict(&self.caches).await;
        }
    }
}
