//! The events payment publishes and consumes, as payment sees them (consumers own their
//! view of a payload; the contracts under `contracts/` keep the views in step).
//!
//! Consumed: `product.available`, `address.primary-saved`, `product.checked`,
//! `order.cancelled`. Published: `payment.saved`, `payment.approved`,
//! `payment.cancelled`, `payment.refunded` (all on `payment.topic`).

use std::collections::BTreeMap;

use platform::messaging::Event;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{PaymentId, ProductId};

/// `product.available`: a customer added a product to the cart (inventory's I9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductAvailable {
    /// Product id.
    pub id: ProductId,
    /// Name at the time of the event.
    pub name: String,
    /// Unit price at the time of the event.
    #[serde(with = "rust_decimal::serde::float")]
    pub price: Decimal,
    /// Category name.
    pub product_category: String,
    /// Units the customer wants.
    pub desired_quantity: i64,
    /// The customer (token `sub`).
    pub customer_id: String,
}

/// `address.primary-saved`: the customer's primary address changed (account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryAddressSaved {
    /// The customer.
    pub customer_id: String,
    /// `"<zip> <city>, <country>"`.
    pub address: String,
}

/// `product.checked`: inventory's verdict on a payment's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductsChecked {
    /// Payment id.
    pub payment_id: PaymentId,
    /// Whether every line was in stock (and the stock was taken).
    pub are_products_available: bool,
    /// The customer.
    pub customer_id: String,
    /// Why not, as text, when not.
    #[serde(default)]
    pub reason: Option<String>,
    /// The first product that failed, when not.
    #[serde(default)]
    pub unavailable_product_id: Option<ProductId>,
    /// The failure as a code (`NOT_IN_STOCKS`, ...), when not.
    #[serde(default)]
    pub unavailable_reason: Option<String>,
}

/// `order.cancelled`: an order was cancelled; its payment is refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    /// Order id.
    pub order_id: i64,
    /// The payment behind the order.
    pub payment_id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// The reason code.
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    /// The customer's words.
    #[serde(default)]
    pub explanation: Option<String>,
}

/// `payment.saved`: a payment was accepted; inventory checks and takes its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSaved {
    /// Payment id.
    pub payment_id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// Product id (a JSON string key, as in the original) → units bought.
    pub product_quantities: BTreeMap<String, i64>,
}

impl Event for PaymentSaved {
    const TYPE: &'static str = "PaymentSaved";
    const EXCHANGE: &'static str = "payment.topic";
    const ROUTING_KEY: &'static str = "payment.saved";
}

/// `payment.approved`: the stock was taken; order creates the order at `address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentApproved {
    /// Payment id.
    pub payment_id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// The delivery address (the customer's primary address).
    pub address: String,
}

impl Event for PaymentApproved {
    const TYPE: &'static str = "PaymentApproved";
    const EXCHANGE: &'static str = "payment.topic";
    const ROUTING_KEY: &'static str = "payment.approved";
}

/// `payment.cancelled`: the payment will not complete, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCancelled {
    /// Payment id.
    pub payment_id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// Why.
    pub reason: String,
}

impl Event for PaymentCancelled {
    const TYPE: &'static str = "PaymentCancelled";
    const EXCHANGE: &'static str = "payment.topic";
    const ROUTING_KEY: &'static str = "payment.cancelled";
}

/// `payment.refunded`: the stock a payment took goes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    /// Payment id.
    pub payment_id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// Product id (a JSON string key) → units to give back.
    pub product_quantities: BTreeMap<String, i64>,
}

impl Event for PaymentRefunded {
    const TYPE: &'static str = "PaymentRefunded";
    const EXCHANGE: &'static str = "payment.topic";
    const ROUTING_KEY: &'static str = "payment.refunded";
}
