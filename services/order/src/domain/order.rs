//! Orders and their lifecycle (reference §2.3, with SPEC §2's new ship step):
//! `PREPARING → ON_THE_WAY` (ship) `→ DELIVERED` (deliver); cancel from `PREPARING` or
//! `ON_THE_WAY` → `CANCELLED`; the delivery address changes only while `PREPARING`.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An order id.
pub type OrderId = i64;

/// Longest delivery address (the column is `VARCHAR(200)`).
pub const MAX_ADDRESS_CHARS: usize = 200;
/// Longest recipient (the column is `VARCHAR(100)`).
pub const MAX_RECIPIENT_CHARS: usize = 100;
/// Longest cancellation explanation (the column is `VARCHAR(500)`).
pub const MAX_EXPLANATION_CHARS: usize = 500;
/// Longest customer id (the column is `VARCHAR(255)`).
pub const MAX_CUSTOMER_ID_CHARS: usize = 255;

/// A field that failed validation, with a message that names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The JSON field name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ValidationError {
    /// A validation error on `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Trims `value` and checks it is 1..=`max` characters.
fn bounded_text(field: &'static str, value: &str, max: usize) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters, got {chars}"),
        ));
    }
    Ok(value.to_owned())
}

/// A delivery address: trimmed, 1..=200 characters.
pub fn delivery_address(address: &str) -> Result<String, ValidationError> {
    bounded_text("address", address, MAX_ADDRESS_CHARS)
}

/// Who received a delivery: trimmed, 1..=100 characters.
pub fn recipient(recipient: &str) -> Result<String, ValidationError> {
    bounded_text("recipient", recipient, MAX_RECIPIENT_CHARS)
}

/// Where an order is in its lifecycle. Stored and sent by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Created from an approved payment; the address may still change.
    Preparing,
    /// Shipped.
    OnTheWay,
    /// Handed to a recipient (final).
    Delivered,
    /// Cancelled by the customer (final; the payment is refunded and the stock restored).
    Cancelled,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [
        Self::Preparing,
        Self::OnTheWay,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preparing => "PREPARING",
            Self::OnTheWay => "ON_THE_WAY",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ValidationError::new("status", format!("unknown status {s:?}")))
    }
}

/// Why a customer cancelled. On the wire and in the database by name (SPEC §2; the
/// original stored an ordinal, reference §13.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancellationReason {
    /// "The delivery took too long."
    DeliveryTookTooLong,
    /// "I found a better alternative."
    FoundBetterAlternative,
    /// "I don't need this product(s) anymore."
    DontNeedAnymore,
}

impl CancellationReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [
        Self::DeliveryTookTooLong,
        Self::FoundBetterAlternative,
        Self::DontNeedAnymore,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeliveryTookTooLong => "DELIVERY_TOOK_TOO_LONG",
            Self::FoundBetterAlternative => "FOUND_BETTER_ALTERNATIVE",
            Self::DontNeedAnymore => "DONT_NEED_ANYMORE",
        }
    }

    /// The original's human text.
    pub fn description(self) -> &'static str {
        match self {
            Self::DeliveryTookTooLong => "The delivery took too long.",
            Self::FoundBetterAlternative => "I found a better alternative.",
            Self::DontNeedAnymore => "I don't need this product(s) anymore.",
        }
    }
}

impl fmt::Display for CancellationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CancellationReason {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "cancellationReason",
                    format!(
                        "unknown reason {s:?}, expected one of DELIVERY_TOOK_TOO_LONG, FOUND_BETTER_ALTERNATIVE, DONT_NEED_ANYMORE"
                    ),
                )
            })
    }
}

/// Why and how an order was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    /// The reason, by name.
    pub cancellation_reason: CancellationReason,
    /// The customer's words, at most 500 characters.
    pub explanation: Option<String>,
}

impl Cancellation {
    /// Validates a cancellation request: a known reason and an optional explanation of
    /// at most 500 characters (trimmed; blank becomes none).
    pub fn new(reason: &str, explanation: Option<&str>) -> Result<Self, ValidationError> {
        let cancellation_reason = reason.parse()?;
        let explanation = explanation.map(str::trim).filter(|text| !text.is_empty());
        if let Some(text) = explanation {
            let chars = text.chars().count();
            if chars > MAX_EXPLANATION_CHARS {
                return Err(ValidationError::new(
                    "explanation",
                    format!("must be at most {MAX_EXPLANATION_CHARS} characters, got {chars}"),
                ));
            }
        }
        Ok(Self {
            cancellation_reason,
            explanation: explanation.map(str::to_owned),
        })
    }
}

/// A transition the order's status does not allow; the messages are the original's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Cancel outside `PREPARING`/`ON_THE_WAY`.
    #[error("Your order must either being prepared or on it's way to cancel.")]
    Cancel,
    /// Ship outside `PREPARING`.
    #[error("The order must be in preparation to ship.")]
    Ship,
    /// Deliver outside `ON_THE_WAY`.
    #[error("The order must be on it's way to deliver.")]
    Deliver,
    /// Change the address outside `PREPARING`.
    #[error("Your order must be in preparation to change the delivery address.")]
    ChangeAddress,
}

/// An order to create from an approved payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The customer (token `sub`).
    pub customer_id: String,
    /// The approved payment; one order per payment.
    pub payment_id: i64,
    /// Where to deliver.
    pub address: String,
}

impl NewOrder {
    /// Validates the fields of a `payment.approved` event.
    pub fn new(customer_id: &str, payment_id: i64, address: &str) -> Result<Self, ValidationError> {
        let customer_id = bounded_text("customerId", customer_id, MAX_CUSTOMER_ID_CHARS)?;
        if payment_id < 1 {
            return Err(ValidationError::new(
                "paymentId",
                format!("must be positive, got {payment_id}"),
            ));
        }
        Ok(Self {
            customer_id,
            payment_id,
            address: delivery_address(address)?,
        })
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Id.
    pub id: OrderId,
    /// Where it is in its lifecycle.
    pub status: OrderStatus,
    /// The customer (token `sub`).
    pub customer_id: String,
    /// The payment it came from.
    pub payment_id: i64,
    /// Where to deliver.
    pub address: String,
    /// When it was created.
    pub created_date: DateTime<Utc>,
    /// Set when (and only when) cancelled.
    pub cancellation: Option<Cancellation>,
    /// Set when delivered.
    pub recipient: Option<String>,
}

impl Order {
    /// Whether `customer_id` owns the order.
    pub fn belongs_to(&self, customer_id: &str) -> bool {
        self.customer_id == customer_id
    }

    /// `PREPARING`/`ON_THE_WAY` → `CANCELLED`, keeping the cancellation.
    pub fn cancel(&mut self, cancellation: Cancellation) -> Result<(), TransitionError> {
        match self.status {
            OrderStatus::Preparing | OrderStatus::OnTheWay => {
                self.status = OrderStatus::Cancelled;
                self.cancellation = Some(cancellation);
                Ok(())
            }
            OrderStatus::Delivered | OrderStatus::Cancelled => Err(TransitionError::Cancel),
        }
    }

    /// `PREPARING` → `ON_THE_WAY`.
    pub fn ship(&mut self) -> Result<(), TransitionError> {
        match self.status {
            OrderStatus::Preparing => {
                self.status = OrderStatus::OnTheWay;
                Ok(())
            }
            _ => Err(TransitionError::Ship),
        }
    }

    /// `ON_THE_WAY` → `DELIVERED` to `recipient`.
    pub fn deliver(&mut self, recipient: String) -> Result<(), TransitionError> {
        match self.status {
            OrderStatus::OnTheWay => {
                self.status = OrderStatus::Delivered;
                self.recipient = Some(recipient);
                Ok(())
            }
            _ => Err(TransitionError::Deliver),
        }
    }

    /// A new delivery address, only while `PREPARING`.
    pub fn change_address(&mut self, address: String) -> Result<(), TransitionError> {
        match self.status {
            OrderStatus::Preparing => {
                self.address = address;
                Ok(())
            }
            _ => Err(TransitionError::ChangeAddress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: OrderStatus) -> Order {
        Order {
            id: 1,
            status,
            customer_id: "c1".to_owned(),
            payment_id: 7,
            address: "3841 birmingham, uk".to_owned(),
            created_date: Utc::now(),
            cancellation: None,
            recipient: None,
        }
    }

    fn cancellation() -> Cancellation {
        Cancellation::new("DONT_NEED_ANYMORE", Some("  changed my mind ")).unwrap()
    }

    #[test]
    fn an_order_is_shipped_then_delivered() {
        let mut order = order(OrderStatus::Preparing);
        order.ship().unwrap();
        assert_eq!(order.status, OrderStatus::OnTheWay);
        order.deliver("Judge Holden".to_owned()).unwrap();
        assert_eq!(order.status, OrderStatus::Delivered);
        assert_eq!(order.recipient.as_deref(), Some("Judge Holden"));
    }

    #[test]
    fn an_order_can_be_cancelled_while_preparing_or_on_the_way_only() {
        for status in [OrderStatus::Preparing, OrderStatus::OnTheWay] {
            let mut order = order(status);
            order.cancel(cancellation()).unwrap();
            assert_eq!(order.status, OrderStatus::Cancelled);
            assert_eq!(
                order.cancellation.unwrap().explanation.as_deref(),
                Some("changed my mind")
            );
        }
        for status in [OrderStatus::Delivered, OrderStatus::Cancelled] {
            let mut order = order(status);
            assert_eq!(order.cancel(cancellation()), Err(TransitionError::Cancel));
            assert_eq!(order.status, status, "nothing changes");
            assert_eq!(order.cancellation, None);
        }
    }

    #[test]
    fn only_a_preparing_order_ships_and_only_a_shipped_one_is_delivered() {
        for status in [
            OrderStatus::OnTheWay,
            OrderStatus::Delivered,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(order(status).ship(), Err(TransitionError::Ship));
        }
        for status in [
            OrderStatus::Preparing,
            OrderStatus::Delivered,
            OrderStatus::Cancelled,
        ] {
            let mut order = order(status);
            assert_eq!(order.deliver("x".to_owned()), Err(TransitionError::Deliver));
            assert_eq!(order.recipient, None);
        }
    }

    #[test]
    fn the_address_changes_only_while_preparing() {
        let mut preparing = order(OrderStatus::Preparing);
        preparing.change_address("oslo".to_owned()).unwrap();
        assert_eq!(preparing.address, "oslo");
        let mut shipped = order(OrderStatus::OnTheWay);
        assert_eq!(
            shipped.change_address("oslo".to_owned()),
            Err(TransitionError::ChangeAddress)
        );
        assert_eq!(shipped.address, "3841 birmingham, uk");
    }

    #[test]
    fn the_conflict_messages_are_the_originals() {
        assert_eq!(
            TransitionError::Cancel.to_string(),
            "Your order must either being prepared or on it's way to cancel."
        );
        assert_eq!(
            TransitionError::Deliver.to_string(),
            "The order must be on it's way to deliver."
        );
    }

    #[test]
    fn each_invalid_field_is_named() {
        let long = "x".repeat(501);
        let cases = [
            (
                Cancellation::new("SOMETHING_ELSE", None).map(drop),
                "cancellationReason",
            ),
            (
                Cancellation::new("DONT_NEED_ANYMORE", Some(&long)).map(drop),
                "explanation",
            ),
            (recipient("  ").map(drop), "recipient"),
            (recipient(&"r".repeat(101)).map(drop), "recipient"),
            (delivery_address("").map(drop), "address"),
            (delivery_address(&"a".repeat(201)).map(drop), "address"),
            (NewOrder::new("", 1, "oslo").map(drop), "customerId"),
            (NewOrder::new("c1", 0, "oslo").map(drop), "paymentId"),
            (NewOrder::new("c1", 1, " ").map(drop), "address"),
        ];
        for (result, field) in cases {
            assert_eq!(result.unwrap_err().field, field);
        }
    }

    #[test]
    fn reasons_and_statuses_go_by_name() {
        assert_eq!(
            "FOUND_BETTER_ALTERNATIVE".parse::<CancellationReason>(),
            Ok(CancellationReason::FoundBetterAlternative)
        );
        assert_eq!(
            serde_json::to_value(CancellationReason::DeliveryTookTooLong).unwrap(),
            "DELIVERY_TOOK_TOO_LONG"
        );
        assert_eq!(
            "ON_THE_WAY".parse::<OrderStatus>(),
            Ok(OrderStatus::OnTheWay)
        );
        assert!(
            "I found a better alternative."
                .parse::<CancellationReason>()
                .is_err()
        );
        assert!(
            Cancellation::new("DONT_NEED_ANYMORE", Some("   "))
                .unwrap()
                .explanation
                .is_none()
        );
    }
}
