//! The RabbitMQ adapter: the `payment.approved` consumer that creates the order.
//!
//! In one transaction (opened by the platform consumer, with the inbox row): validate
//! the payload and insert a `PREPARING` order. The inbox makes a redelivery a no-op; the
//! `UNIQUE(payment_id)` makes a *second* approval of the same payment (another event id)
//! a no-op too, so a payment never has two orders. After the commit the customer's order
//! lists are evicted (order's and account's).

use platform::messaging::{Handler, HandlerError, Message};
use sqlx::PgConnection;

use crate::{app::OrderCaches, domain::NewOrder, events::PaymentApproved, postgres};

/// Handles `payment.approved`.
#[derive(Debug, Clone)]
pub struct PaymentApprovedHandler {
    /// Evicted after an order is created.
    pub caches: OrderCaches,
}

impl Handler for PaymentApprovedHandler {
    /// The customer whose orders changed, if any.
    type Done = Option<String>;

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        if message.envelope.event_type != "PaymentApproved" {
            return Err(HandlerError::Permanent(format!(
                "unexpected event type {:?} on the payment.approved queue",
                message.envelope.event_type
            )));
        }
        let event: PaymentApproved = message.payload()?;
        let order = NewOrder::new(&event.customer_id, event.payment_id, &event.address)
            .map_err(|err| HandlerError::Permanent(format!("invalid payment.approved: {err}")))?;
        match postgres::insert_order(tx, &order).await? {
            Some(id) => {
                tracing::info!(
                    order.id = id,
                    payment.id = order.payment_id,
                    "order created"
                );
                Ok(Some(order.customer_id))
            }
            None => {
                tracing::info!(
                    payment.id = order.payment_id,
                    "payment already has an order, approval ignored"
                );
                Ok(None)
            }
        }
    }

    async fn committed(&self, customer: Self::Done) {
        if let Some(customer_id) = customer {
            self.caches.evict(None, &customer_id).await;
        }
    }
}
