//! A product line: a product with the quantity the customer wants, as in a cart and in a
//! payment's snapshot.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A product id (inventory's).
pub type ProductId = i64;

/// Longest product name (the column is `VARCHAR(150)`).
pub const MAX_NAME_CHARS: usize = 150;
/// Longest category (the column is `VARCHAR(50)`).
pub const MAX_CATEGORY_CHARS: usize = 50;
/// Largest price that fits `NUMERIC(10, 2)`.
pub const MAX_PRICE: Decimal = Decimal::from_parts(99_999_999, 0, 0, false, 0);

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

/// A product and a quantity of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Product id.
    pub id: ProductId,
    /// Name when it was added.
    pub name: String,
    /// Unit price when it was added.
    pub price: Decimal,
    /// Category name (`TOOL`, ...).
    pub category: String,
    /// Units, ≥ 1.
    pub quantity: i32,
}

impl Line {
    /// Validates a line as it arrives from `product.available`.
    pub fn new(
        id: ProductId,
        name: &str,
        price: Decimal,
        category: &str,
        quantity: i64,
    ) -> Result<Self, ValidationError> {
        if id < 1 {
            return Err(ValidationError::new(
                "id",
                format!("must be positive, got {id}"),
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(ValidationError::new(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if price.is_sign_negative() && !price.is_zero() || price > MAX_PRICE {
            return Err(ValidationError::new(
                "price",
                format!("must be between 0 and {MAX_PRICE}, got {price}"),
            ));
        }
        if price.normalize().scale() > 2 {
            return Err(ValidationError::new(
                "price",
                format!("must have at most two decimals, got {price}"),
            ));
        }
        let category = category.trim();
        if category.is_empty() || category.chars().count() > MAX_CATEGORY_CHARS {
            return Err(ValidationError::new(
                "productCategory",
                format!("must be 1 to {MAX_CATEGORY_CHARS} characters"),
            ));
        }
        let quantity = i32::try_from(quantity)
            .ok()
            .filter(|q| *q >= 1)
            .ok_or_else(|| {
                ValidationError::new(
                    "desiredQuantity",
                    format!("must be between 1 and {}, got {quantity}", i32::MAX),
                )
            })?;
        Ok(Self {
            id,
            name: name.to_owned(),
            price: price.round_dp(2),
            category: category.to_owned(),
            quantity,
        })
    }

    /// `price × quantity`, exact.
    pub fn total(&self) -> Decimal {
        self.price * Decimal::from(self.quantity)
    }
}

/// The exact sum of the lines' totals.
pub fn total(lines: &[Line]) -> Decimal {
    lines.iter().map(Line::total).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn totals_are_exact_decimals() {
        let lines = [
            Line::new(1, "Clipper", dec("19.99"), "TOOL", 3).unwrap(),
            Line::new(2, "Pin", dec("0.10"), "TOOL", 1).unwrap(),
        ];
        assert_eq!(total(&lines), dec("60.07"));
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases = [
            (Line::new(0, "a", dec("1"), "TOOL", 1), "id"),
            (Line::new(1, " ", dec("1"), "TOOL", 1), "name"),
            (Line::new(1, "a", dec("-1"), "TOOL", 1), "price"),
            (Line::new(1, "a", dec("1.001"), "TOOL", 1), "price"),
            (Line::new(1, "a", dec("1"), "", 1), "productCategory"),
            (Line::new(1, "a", dec("1"), "TOOL", 0), "desiredQuantity"),
        ];
        for (result, field) in cases {
            assert_eq!(result.unwrap_err().field, field);
        }
    }
}
