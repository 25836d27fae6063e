//! The event account publishes. Account consumes nothing.

use platform::messaging::Event;
use serde::{Deserialize, Serialize};

use crate::domain::Address;

/// `address.primary-saved`: a customer's primary address was created, changed, or another
/// address became primary. Payment keeps the address it ships to from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryAddressSaved {
    /// The customer (token `sub`).
    pub customer_id: String,
    /// `"<zipCode> <city>, <country>"`.
    pub address: String,
}

impl PrimaryAddressSaved {
    /// The event announcing that `address` is now the primary address of its customer.
    pub fn of(address: &Address) -> Self {
        Self {
            customer_id: address.customer_id.clone(),
            address: address.full_address(),
        }
    }
}

impl Event for PrimaryAddressSaved {
    const TYPE: &'static str = "PrimaryAddressSaved";
    const EXCHANGE: &'static str = "address.topic";
    const ROUTING_KEY: &'static str = "address.primary-saved";
}
