//! Payments and their lifecycle: PENDING → APPROVED | CANCELLED (the stock check's
//! verdict), APPROVED → REFUNDED (the order was cancelled). Every other transition is
//! refused, which is what makes redelivered or late events harmless.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::product::{Line, ValidationError};

/// A payment id.
pub type PaymentId = i64;

/// Where a payment is in its lifecycle. On the wire as the variant name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Accepted, waiting for the stock check.
    Pending,
    /// The stock was taken; an order follows.
    Approved,
    /// The stock check failed (or there was no delivery address).
    Cancelled,
    /// The order was cancelled; the stock goes back.
    Refunded,
}

impl PaymentStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::Approved,
        Self::Cancelled,
        Self::Refunded,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Cancelled => "CANCELLED",
            Self::Refunded => "REFUNDED",
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ValidationError::new("status", format!("unknown status {s:?}")))
    }
}

/// A payment about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// The customer.
    pub customer_id: String,
    /// The cart's lines at checkout.
    pub products: Vec<Line>,
    /// `Σ price × quantity`.
    pub total_price: Decimal,
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Id.
    pub id: PaymentId,
    /// The customer.
    pub customer_id: String,
    /// The product snapshot.
    pub products: Vec<Line>,
    /// Total, exact.
    pub total_price: Decimal,
    /// Status.
    pub status: PaymentStatus,
    /// When it was accepted.
    pub created_date: DateTime<Utc>,
    /// Why it was cancelled, when it was.
    pub cancellation_reason: Option<String>,
}

/// A status change that the current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} payment cannot become {to}")]
pub struct Transition {
    /// The current status.
    pub from: PaymentStatus,
    /// The refused target.
    pub to: PaymentStatus,
}

/// The reason recorded when the stock check gives none.
pub const DEFAULT_CANCELLATION_REASON: &str = "The products are not available.";
/// The reason recorded when no delivery address is known at approval time.
pub const NO_ADDRESS_REASON: &str = "No delivery address.";

impl Payment {
    fn transition(
        &mut self,
        allowed_from: PaymentStatus,
        to: PaymentStatus,
    ) -> Result<(), Transition> {
        if self.status != allowed_from {
            return Err(Transition {
                from: self.status,
                to,
            });
        }
        self.status = to;
        Ok(())
    }

    /// PENDING → APPROVED.
    pub fn approve(&mut self) -> Result<(), Transition> {
        self.transition(PaymentStatus::Pending, PaymentStatus::Approved)
    }

    /// PENDING → CANCELLED with `reason` (a default text when there is none).
    pub fn cancel(&mut self, reason: Option<&str>) -> Result<(), Transition> {
        self.transition(PaymentStatus::Pending, PaymentStatus::Cancelled)?;
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_CANCELLATION_REASON);
        self.cancellation_reason = Some(reason.chars().take(500).collect());
        Ok(())
    }

    /// APPROVED → REFUNDED.
    pub fn refund(&mut self) -> Result<(), Transition> {
        self.transition(PaymentStatus::Approved, PaymentStatus::Refunded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: 1,
            customer_id: "c".to_owned(),
            products: Vec::new(),
            total_price: Decimal::ONE,
            status,
            created_date: Utc::now(),
            cancellation_reason: None,
        }
    }

    #[test]
    fn only_a_pending_payment_is_approved_or_cancelled() {
        let mut pending = payment(PaymentStatus::Pending);
        pending.approve().unwrap();
        assert_eq!(pending.status, PaymentStatus::Approved);
        assert!(pending.approve().is_err());
        assert!(pending.cancel(None).is_err());

        let mut pending = payment(PaymentStatus::Pending);
        pending.cancel(Some("  ")).unwrap();
        assert_eq!(
            pending.cancellation_reason.as_deref(),
            Some(DEFAULT_CANCELLATION_REASON)
        );
    }

    #[test]
    fn only_an_approved_payment_is_refunded() {
        let mut approved = payment(PaymentStatus::Approved);
        approved.refund().unwrap();
        assert_eq!(approved.status, PaymentStatus::Refunded);
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Cancelled,
            PaymentStatus::Refunded,
        ] {
            assert!(payment(status).refund().is_err());
        }
    }

    #[test]
    fn statuses_round_trip_by_name() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse::<PaymentStatus>().unwrap(), status);
        }
        assert!("PAID".parse::<PaymentStatus>().is_err());
    }
}
