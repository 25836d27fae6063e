//! Addresses (reference §2.1): a customer's named postal addresses, one of which is the
//! primary address that payment and order ship to.
//!
//! The rules, enforced by the use cases and backed by database constraints: a name is
//! unique per customer, the first address is primary, at most one address is primary,
//! and while a customer has addresses one of them is primary (deleting the primary
//! promotes the oldest remaining one, a fix of reference §13.8).

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// An address id.
pub type AddressId = i64;

/// Longest name (the column is `VARCHAR(100)`).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest country (`VARCHAR(50)`).
pub const MAX_COUNTRY_CHARS: usize = 50;
/// Longest city (`VARCHAR(100)`).
pub const MAX_CITY_CHARS: usize = 100;
/// Longest zip code (`VARCHAR(10)`).
pub const MAX_ZIP_CODE_CHARS: usize = 10;

/// A validated address as a customer adds or edits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    /// Trimmed, 1..=100 characters, unique per customer.
    pub name: String,
    /// Trimmed, 1..=50 characters.
    pub country: String,
    /// Trimmed, 1..=100 characters.
    pub city: String,
    /// Trimmed, 1..=10 characters.
    pub zip_code: String,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, ValidationError> {
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

impl NewAddress {
    /// Validates every field; the first invalid one is reported.
    pub fn new(
        name: &str,
        country: &str,
        city: &str,
        zip_code: &str,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            name: text("name", name, MAX_NAME_CHARS)?,
            country: text("country", country, MAX_COUNTRY_CHARS)?,
            city: text("city", city, MAX_CITY_CHARS)?,
            zip_code: text("zipCode", zip_code, MAX_ZIP_CODE_CHARS)?,
        })
    }
}

/// A stored address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Id.
    pub id: AddressId,
    /// The owner (the token's `sub`).
    pub customer_id: String,
    /// Name, unique per customer.
    pub name: String,
    /// Country.
    pub country: String,
    /// City.
    pub city: String,
    /// Zip code.
    pub zip_code: String,
    /// Whether this is the customer's primary address.
    pub is_primary: bool,
}

impl Address {
    /// `"<zipCode> <city>, <country>"`: the exact text the `address.primary-saved` event
    /// carries (reference §2.1).
    pub fn full_address(&self) -> String {
        format!("{} {}, {}", self.zip_code, self.city, self.country)
    }
}

/// Whether an address added now becomes the primary one: only the first one does.
pub fn is_first(existing_addresses: i64) -> bool {
    existing_addresses == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_address_is_trimmed_and_accepted() {
        let address = NewAddress::new(" home ", "uk", " birmingham", "26593 ").unwrap();
        assert_eq!(address.name, "home");
        assert_eq!(address.city, "birmingham");
        assert_eq!(address.zip_code, "26593");
    }

    #[test]
    fn each_invalid_field_is_named() {
        let long = "x".repeat(101);
        let cases = [
            (NewAddress::new("", "uk", "b", "1"), "name"),
            (NewAddress::new("   ", "uk", "b", "1"), "name"),
            (NewAddress::new(&long, "uk", "b", "1"), "name"),
            (NewAddress::new("home", "", "b", "1"), "country"),
            (
                NewAddress::new("home", &"x".repeat(51), "b", "1"),
                "country",
            ),
            (NewAddress::new("home", "uk", "", "1"), "city"),
            (NewAddress::new("home", "uk", &long, "1"), "city"),
            (NewAddress::new("home", "uk", "b", ""), "zipCode"),
            (NewAddress::new("home", "uk", "b", "12345678901"), "zipCode"),
        ];
        for (result, field) in cases {
            assert_eq!(result.unwrap_err().field, field);
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let name = "ü".repeat(100);
        assert_eq!(NewAddress::new(&name, "uk", "b", "1").unwrap().name, name);
    }

    #[test]
    fn the_full_address_is_zip_city_and_country() {
        let address = Address {
            id: 1,
            customer_id: "c".to_owned(),
            name: "home".to_owned(),
            country: "uk".to_owned(),
            city: "birmingham".to_owned(),
            zip_code: "26593".to_owned(),
            is_primary: true,
        };
        assert_eq!(address.full_address(), "26593 birmingham, uk");
    }

    #[test]
    fn only_the_first_address_is_primary() {
        assert!(is_first(0));
        assert!(!is_first(1));
    }
}
