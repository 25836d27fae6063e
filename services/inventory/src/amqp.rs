//! The RabbitMQ adapter: the `payment.saved` consumer that checks and takes stock, and
//! the `payment.refunded` consumer that gives it back (the saga's compensation).
//!
//! In one transaction (opened by the platform consumer, with the inbox row): lock the
//! payment's product rows in id order, apply the all-or-nothing rule, write the new
//! levels, and write `product.checked` to the outbox. Concurrent checkouts serialize on
//! the row locks, so stock never goes negative and is never oversold. Cached products
//! are evicted before and after the commit (a double delete, narrowing the window in
//! which a concurrent reader could cache the old stock).

use std::collections::BTreeMap;

use platform::{
    cache::Cache,
    messaging::{Handler, HandlerError, Message, outbox},
};
use sqlx::PgConnection;

use crate::{
    app::evict_products,
    domain::{ProductId, StockCheck, check_stock},
    events::{PaymentRefunded, PaymentSaved, ProductsChecked},
    postgres,
};

/// Handles `payment.saved`.
#[derive(Debug, Clone)]
pub struct PaymentSavedHandler {
    /// Evicted after stock changes.
    pub cache: Cache,
}

/// Validates the lines of a payment event: numeric product ids, quantities ≥ 1, not empty.
pub fn parse_lines(
    payment_id: i64,
    product_quantities: &BTreeMap<String, i64>,
) -> Result<BTreeMap<ProductId, i32>, HandlerError> {
    if product_quantities.is_empty() {
        return Err(HandlerError::Permanent(format!(
            "payment {payment_id} has no product lines"
        )));
    }
    let mut lines = BTreeMap::new();
    for (key, &quantity) in product_quantities {
        let id: ProductId = key.parse().map_err(|_| {
            HandlerError::Permanent(format!("productQuantities: {key:?} is not a product id"))
        })?;
        let quantity = i32::try_from(quantity)
            .ok()
            .filter(|q| *q >= 1)
            .ok_or_else(|| {
                HandlerError::Permanent(format!(
                    "productQuantities: quantity {quantity} of product {id} is not a positive count"
                ))
            })?;
        lines.insert(id, quantity);
    }
    Ok(lines)
}

impl Handler for PaymentSavedHandler {
    type Done = Vec<ProductId>;

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        if message.envelope.event_type != "PaymentSaved" {
            return Err(HandlerError::Permanent(format!(
                "unexpected event type {:?} on the payment.saved queue",
                message.envelope.event_type
            )));
        }
        let event: PaymentSaved = message.payload()?;
        let lines = parse_lines(event.payment_id, &event.product_quantities)?;
        let ids: Vec<ProductId> = lines.keys().copied().collect();
        let stock = postgres::lock_stock(tx, &ids).await?;
        let check = check_stock(&lines, &stock);
        let reason = check.reason_text();
        let (verdict, changed) = match check {
            StockCheck::Approved(levels) => {
                postgres::set_stock(tx, &levels).await?;
                (
                    ProductsChecked {
                        payment_id: event.payment_id,
                        are_products_available: true,
                        customer_id: event.customer_id,
                        reason: None,
                        unavailable_product_id: None,
                        unavailable_reason: None,
                    },
                    ids,
                )
            }
            StockCheck::Rejected {
                product_id,
                reason: code,
            } => (
                ProductsChecked {
                    payment_id: event.payment_id,
                    are_products_available: false,
                    customer_id: event.customer_id,
                    reason,
                    unavailable_product_id: Some(product_id),
                    unavailable_reason: Some(code),
                },
                Vec::new(),
            ),
        };
        tracing::info!(
            payment.id = verdict.payment_id,
            available = verdict.are_products_available,
            "stock checked"
        );
        outbox::enqueue(tx, verdict).await?;
        // Evict before the commit too (and again after it, in `committed`): a reader
        // can never see the verdict yet read the pre-decrement stock from the cache.
        evict_products(&self.cache, &changed).await;
        Ok(changed)
    }

    async fn committed(&self, changed: Self::Done) {
        evict_products(&self.cache, &changed).await;
    }
}

/// Handles `payment.refunded`: adds the refunded quantities back to the stock, in one
/// transaction with the inbox row, so a redelivery never restocks twice. A product
/// deleted since the purchase cannot take stock back; that line is skipped and logged.
#[derive(Debug, Clone)]
pub struct PaymentRefundedHandler {
    /// Evicted after stock changes.
    pub cache: Cache,
}

impl Handler for PaymentRefundedHandler {
    type Done = Vec<ProductId>;

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &Message,
    ) -> Result<Self::Done, HandlerError> {
        let event: PaymentRefunded = message.payload()?;
        let lines = parse_lines(event.payment_id, &event.product_quantities)?;
        let ids: Vec<ProductId> = lines.keys().copied().collect();
        let stock = postgres::lock_stock(tx, &ids).await?;
        let mut levels = Vec::with_capacity(stock.len());
        for level in &stock {
            let returned = lines.get(&level.id).copied().unwrap_or_default();
            let restored = level.quantity.checked_add(returned).ok_or_else(|| {
                HandlerError::Permanent(format!(
                    "restocking product {} by {returned} overflows its stock",
                    level.id
                ))
            })?;
            levels.push((level.id, restored));
        }
        for id in ids
            .iter()
            .filter(|id| !stock.iter().any(|level| level.id == **id))
        {
            tracing::warn!(
                product.id = id,
                payment.id = event.payment_id,
                "refunded product no longer exists; its stock is not restored"
            );
        }
        postgres::set_stock(tx, &levels).await?;
        tracing::info!(
            payment.id = event.payment_id,
            products = levels.len(),
            "stock restored"
        );
        let changed: Vec<ProductId> = levels.iter().map(|(id, _)| *id).collect();
        evict_products(&self.cache, &changed).await;
        Ok(changed)
    }

    async fn committed(&self, changed: Self::Done) {
        evict_products(&self.cache, &changed).await;
    }
}
