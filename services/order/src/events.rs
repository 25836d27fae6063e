//! The events order consumes and publishes, as order sees them (consumers own their view
//! of a payload; the contracts under `contracts/` keep the views in step).

use platform::messaging::Event;
use serde::{Deserialize, Serialize};

use crate::domain::{CancellationReason, OrderId};

/// `payment.approved`: the stock was taken and the payment approved; create the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentApproved {
    /// Payment id; one order per payment.
    pub payment_id: i64,
    /// The customer (token `sub`).
    pub customer_id: String,
    /// The customer's primary address at approval time.
    pub address: String,
}

impl Event for PaymentApproved {
    const TYPE: &'static str = "PaymentApproved";
    const EXCHANGE: &'static str = "payment.topic";
    const ROUTING_KEY: &'static str = "payment.approved";
}

/// `order.cancelled`: a customer cancelled; payment refunds it, which in turn makes
/// inventory restore the stock (the saga's compensation, SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    /// The order.
    pub order_id: OrderId,
    /// The payment to refund.
    pub payment_id: i64,
    /// The customer.
    pub customer_id: String,
    /// Why, by name.
    pub cancellation_reason: CancellationReason,
    /// The customer's words, if any.
    pub explanation: Option<String>,
}

impl Event for OrderCancelled {
    const TYPE: &'static str = "OrderCancelled";
    const EXCHANGE: &'static str = "order.topic";
    const ROUTING_KEY: &'static str = "order.cancelled";
}
