//! The events inventory publishes and consumes, as inventory sees them (consumers own
//! their view of a payload; the contracts under `contracts/` keep the views in step).

use std::collections::BTreeMap;

use platform::messaging::Event;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Category, ProductId, UnavailableReason};

/// `product.available`: a customer may add this product to the cart (I9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductAvailable {
    /// Product id.
    pub id: ProductId,
    /// Name at the time of the event.
    pub name: String,
    /// Price at the time of the event.
    #[serde(with = "rust_decimal::serde::float")]
    pub price: Decimal,
    /// Category.
    pub product_category: Category,
    /// Units the customer wants.
    pub desired_quantity: i32,
    /// The customer (token `sub`).
    pub customer_id: String,
}

impl Event for ProductAvailable {
    const TYPE: &'static str = "ProductAvailable";
    const EXCHANGE: &'static str = "product.topic";
    const ROUTING_KEY: &'static str = "product.available";
}

/// `payment.saved`: a payment was accepted; check and take its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSaved {
    /// Payment id.
    pub payment_id: i64,
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

/// `product.checked`: the verdict on a payment's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductsChecked {
    /// Payment id.
    pub payment_id: i64,
    /// Whether every line was in stock (and the stock was taken).
    pub are_products_available: bool,
    /// The customer.
    pub customer_id: String,
    /// Why not, as text, when not.
    pub reason: Option<String>,
    /// The first product that failed, when not.
    pub unavailable_product_id: Option<ProductId>,
    /// The failure as a code, when not.
    pub unavailable_reason: Option<UnavailableReason>,
}

impl Event for ProductsChecked {
    const TYPE: &'static str = "ProductsChecked";
    const EXCHANGE: &'static str = "product.topic";
    const ROUTING_KEY: &'static str = "product.checked";
}

/// `payment.refunded`: an approved payment was refunded (its order was cancelled); the
/// stock it took goes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    /// Payment id.
    pub payment_id: i64,
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
