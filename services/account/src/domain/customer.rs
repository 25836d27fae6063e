//! Customers: the identity provider's users, read-only here except for their `enabled`
//! flag (reference §2.1), and what the order and payment services know about them.
//!
//! Every registered user is a customer, except the identity provider's service-account
//! users (`service-account-<client>`): they are machines, not customers, so listings
//! leave them out and lookups treat them as unknown (a fix of reference §13.15, which
//! listed the admin account among the customers).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A customer as the account API shows it: `{id, firstName, lastName, birthDate, email,
/// phoneNumber}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// The identity provider's user id (the token's `sub`).
    pub id: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// From the user attribute `birthDate` (`YYYY-MM-DD`), when present and valid.
    #[schema(value_type = Option<String>, format = Date)]
    pub birth_date: Option<NaiveDate>,
    /// E-mail address.
    pub email: Option<String>,
    /// From the user attribute `phoneNumber`, when present.
    pub phone_number: Option<String>,
}

/// The username prefix the identity provider gives service-account users.
pub const SERVICE_ACCOUNT_PREFIX: &str = "service-account-";

/// Whether a user with this username is a service account rather than a customer.
pub fn is_service_account(username: &str) -> bool {
    username.starts_with(SERVICE_ACCOUNT_PREFIX)
}

/// Longest user id accepted (Keycloak's are 36-character UUIDs).
pub const MAX_ID_CHARS: usize = 64;

/// Validates a user id from a path: 1..=64 letters, digits, `-` or `_`. Anything else
/// cannot name a user, and must never reach the admin API's URL.
pub fn customer_id(raw: &str) -> Result<&str, ValidationError> {
    if raw.is_empty() || raw.chars().count() > MAX_ID_CHARS {
        return Err(ValidationError::new(
            "id",
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        ));
    }
    if !raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ValidationError::new(
            "id",
            "may contain only letters, digits, '-' and '_'",
        ));
    }
    Ok(raw)
}

/// Largest `end` (page size) of a customer listing.
pub const MAX_USERS: u32 = 100;

/// A slice of the user list: `first` users skipped, at most `max` returned (the
/// original's `start` and `end`, which were really Keycloak's `first` and `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRange {
    /// Users to skip, ≥ 0.
    pub first: u32,
    /// Users to return, 1..=100.
    pub max: u32,
}

impl UserRange {
    /// Validates `start` (required, ≥ 0) and `end` (optional, 1..=100, default 100).
    pub fn new(start: i64, end: Option<i64>) -> Result<Self, ValidationError> {
        let first = u32::try_from(start).map_err(|_| {
            ValidationError::new(
                "start",
                format!("must be between 0 and {}, got {start}", u32::MAX),
            )
        })?;
        let max = end.unwrap_or(i64::from(MAX_USERS));
        if !(1..=i64::from(MAX_USERS)).contains(&max) {
            return Err(ValidationError::new(
                "end",
                format!("must be between 1 and {MAX_USERS}, got {max}"),
            ));
        }
        Ok(Self {
            first,
            // In 1..=100 by the check above.
            max: u32::try_from(max).unwrap_or(MAX_USERS),
        })
    }
}

/// An order as the order service lists it for a customer (`GET /order/ofCustomer/{id}`).
/// Account relays it without interpreting it, so status names and timestamps stay
/// whatever the order service says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    /// Order id.
    pub id: i64,
    /// Status name (`PREPARING`, `ON_THE_WAY`, ...).
    pub status: String,
    /// The payment the order came from.
    pub payment_id: Option<i64>,
    /// Delivery address.
    pub address: Option<String>,
    /// When it was created (ISO-8601).
    pub created_date: Option<String>,
    /// Why it was cancelled, when it was.
    pub cancellation: Option<Cancellation>,
    /// Who received it, when delivered.
    pub recipient: Option<String>,
}

/// The cancellation of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    /// The reason's name.
    pub cancellation_reason: Option<String>,
    /// Free text.
    pub explanation: Option<String>,
}

/// A payment as the payment service lists it for a customer (`GET /payment/ofCustomer/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSummary {
    /// Payment id.
    pub id: i64,
    /// Total, exact.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub total_price: Decimal,
    /// Status name (`PENDING`, `APPROVED`, ...).
    pub status: String,
    /// When it was created (ISO-8601).
    pub created_date: Option<String>,
}

/// A customer with their orders and payments (A4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerDetail {
    /// The customer.
    pub customer: Customer,
    /// Their orders; empty when the order service could not answer (the fallback).
    pub orders: Vec<OrderSummary>,
    /// Their payments; empty when the payment service could not answer (the fallback).
    pub payments: Vec<PaymentSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_are_not_customers() {
        assert!(is_service_account("service-account-ironvessel-account"));
        assert!(!is_service_account("vader"));
        assert!(!is_service_account("my-service-account-fan"));
    }

    #[test]
    fn ids_that_cannot_name_a_user_are_rejected() {
        assert_eq!(
            customer_id("47ac2317-2da2-457a-90d6-48d5a0f9739a").unwrap(),
            "47ac2317-2da2-457a-90d6-48d5a0f9739a"
        );
        for bad in ["", "../clients", "a b", "x?y=1", &"a".repeat(65)] {
            assert_eq!(customer_id(bad).unwrap_err().field, "id", "{bad:?}");
        }
    }

    #[test]
    fn the_user_range_defaults_end_to_100_and_names_the_bad_parameter() {
        assert_eq!(
            UserRange::new(0, None).unwrap(),
            UserRange { first: 0, max: 100 }
        );
        assert_eq!(
            UserRange::new(20, Some(5)).unwrap(),
            UserRange { first: 20, max: 5 }
        );
        assert_eq!(UserRange::new(-1, None).unwrap_err().field, "start");
        assert_eq!(UserRange::new(0, Some(0)).unwrap_err().field, "end");
        assert_eq!(UserRange::new(0, Some(101)).unwrap_err().field, "end");
    }

    #[test]
    fn a_customer_has_the_original_field_names() {
        let customer = Customer {
            id: "c1".to_owned(),
            first_name: Some("Thomas".to_owned()),
            last_name: Some("Shelby".to_owned()),
            birth_date: NaiveDate::from_ymd_opt(1890, 1, 12),
            email: None,
            phone_number: None,
        };
        assert_eq!(
            serde_json::to_value(&customer).unwrap(),
            serde_json::json!({"id": "c1", "firstName": "Thomas", "lastName": "Shelby",
                "birthDate": "1890-01-12", "email": null, "phoneNumber": null})
        );
    }
}
