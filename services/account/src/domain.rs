//! The account domain: addresses with their validation and the primary-address rules,
//! and customers as the identity provider describes them. Pure: no I/O, no framework
//! types.

pub mod address;
pub mod customer;

pub use address::{Address, AddressId, NewAddress};
pub use customer::{Customer, CustomerDetail, OrderSummary, PaymentSummary, UserRange};

/// A field that failed validation, with a message that names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The JSON field or query parameter name.
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
