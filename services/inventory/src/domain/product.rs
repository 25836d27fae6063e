//! Products, categories and availability.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A product id.
pub type ProductId = i64;

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

/// The four product categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// Phones, laptops, ...
    Electronics,
    /// Desks, chairs, ...
    Furniture,
    /// Skirts, pants, ...
    Clothing,
    /// Clippers, ice picks, ...
    Tool,
}

impl Category {
    /// Every category.
    pub const ALL: [Self; 4] = [
        Self::Electronics,
        Self::Furniture,
        Self::Clothing,
        Self::Tool,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Electronics => "ELECTRONICS",
            Self::Furniture => "FURNITURE",
            Self::Clothing => "CLOTHING",
            Self::Tool => "TOOL",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "category",
                    format!("unknown category {s:?}, expected one of ELECTRONICS, FURNITURE, CLOTHING, TOOL"),
                )
            })
    }
}

/// Longest product name (the column is `VARCHAR(150)`).
pub const MAX_NAME_CHARS: usize = 150;
/// Largest price that fits `NUMERIC(10, 2)`.
pub const MAX_PRICE: Decimal = Decimal::from_parts(99_999_999, 0, 0, false, 0);

/// A validated product as created or updated by a manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// Trimmed, 1..=150 characters.
    pub name: String,
    /// 0 ≤ price ≤ 99 999 999, at most two decimals.
    pub price: Decimal,
    /// Category.
    pub category: Category,
    /// Units in stock, ≥ 0.
    pub quantity: i32,
}

impl NewProduct {
    /// Validates every field; the first invalid one is reported.
    pub fn new(
        name: &str,
        price: Decimal,
        category: Category,
        quantity: i64,
    ) -> Result<Self, ValidationError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "must not be empty"));
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(ValidationError::new(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters, got {chars}"),
            ));
        }
        if price.is_sign_negative() && !price.is_zero() {
            return Err(ValidationError::new(
                "price",
                format!("must not be negative, got {price}"),
            ));
        }
        if price > MAX_PRICE {
            return Err(ValidationError::new(
                "price",
                format!("must be at most {MAX_PRICE}, got {price}"),
            ));
        }
        if price.normalize().scale() > 2 {
            return Err(ValidationError::new(
                "price",
                format!("must have at most two decimals, got {price}"),
            ));
        }
        let quantity = validate_stock(quantity)?;
        Ok(Self {
            name: name.to_owned(),
            price: price.round_dp(2),
            category,
            quantity,
        })
    }
}

fn validate_stock(quantity: i64) -> Result<i32, ValidationError> {
    if quantity < 0 {
        return Err(ValidationError::new(
            "quantity",
            format!("must not be negative, got {quantity}"),
        ));
    }
    i32::try_from(quantity).map_err(|_| {
        ValidationError::new(
            "quantity",
            format!("must be at most {}, got {quantity}", i32::MAX),
        )
    })
}

/// A quantity a customer wants: at least 1.
pub fn desired_quantity(quantity: i64) -> Result<i32, ValidationError> {
    if quantity < 1 {
        return Err(ValidationError::new(
            "quantity",
            format!("must be at least 1, got {quantity}"),
        ));
    }
    i32::try_from(quantity).map_err(|_| {
        ValidationError::new(
            "quantity",
            format!("must be at most {}, got {quantity}", i32::MAX),
        )
    })
}

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Id.
    pub id: ProductId,
    /// Name.
    pub name: String,
    /// Price.
    pub price: Decimal,
    /// Category.
    pub category: Category,
    /// Units in stock.
    pub quantity: i32,
    /// The region flag: a product not sold in the region is never available.
    pub available_in_region: bool,
}

/// Why a product cannot be bought. On the wire as the variant name (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnavailableReason {
    /// Fewer units in stock than desired.
    NotInStocks,
    /// Not sold in the region.
    NotAvailableInRegion,
    /// The product no longer exists.
    ProductNotFound,
}

impl UnavailableReason {
    /// The original's human text.
    pub fn description(self) -> &'static str {
        match self {
            Self::NotInStocks => {
                "The product is not available in stocks with your desired quantity."
            }
            Self::NotAvailableInRegion => "The product is not available in your region.",
            Self::ProductNotFound => "The product no longer exists.",
        }
    }
}

/// Whether a quantity of a product can be bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    /// Available?
    pub is_available: bool,
    /// Why not, when not.
    pub unavailable_reason: Option<UnavailableReason>,
}

impl Availability {
    const YES: Self = Self {
        is_available: true,
        unavailable_reason: None,
    };

    fn no(reason: UnavailableReason) -> Self {
        Self {
            is_available: false,
            unavailable_reason: Some(reason),
        }
    }
}

impl Product {
    /// The original's rule: the region first, then the stock.
    pub fn availability(&self, desired: i32) -> Availability {
        availability(self.available_in_region, self.quantity, desired)
    }
}

/// The availability rule on bare values (shared with the stock check).
pub fn availability(available_in_region: bool, in_stock: i32, desired: i32) -> Availability {
    if !available_in_region {
        Availability::no(UnavailableReason::NotAvailableInRegion)
    } else if desired > in_stock {
        Availability::no(UnavailableReason::NotInStocks)
    } else {
        Availability::YES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_valid_product_is_trimmed_and_accepted() {
        let product = NewProduct::new("  Desk ", dec("25.50"), Category::Furniture, 3).unwrap();
        assert_eq!(product.name, "Desk");
        assert_eq!(product.quantity, 3);
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases = [
            (NewProduct::new("", dec("1"), Category::Tool, 1), "name"),
            (
                NewProduct::new(&"x".repeat(1000), dec("1"), Category::Tool, 1),
                "name",
            ),
            (
                NewProduct::new("a", dec("-0.01"), Category::Tool, 1),
                "price",
            ),
            (
                NewProduct::new("a", dec("1.234"), Category::Tool, 1),
                "price",
            ),
            (
                NewProduct::new("a", dec("100000000"), Category::Tool, 1),
                "price",
            ),
            (
                NewProduct::new("a", dec("1"), Category::Tool, -1),
                "quantity",
            ),
            (
                NewProduct::new("a", dec("1"), Category::Tool, i64::from(i32::MAX) + 1),
                "quantity",
            ),
        ];
        for (result, field) in cases {
            assert_eq!(result.unwrap_err().field, field);
        }
    }

    #[test]
    fn unknown_categories_are_rejected_with_the_allowed_values() {
        let err = "FOOD".parse::<Category>().unwrap_err();
        assert!(err.message.contains("ELECTRONICS"));
        assert_eq!("TOOL".parse::<Category>().unwrap(), Category::Tool);
    }

    #[test]
    fn region_is_checked_before_stock() {
        assert_eq!(
            availability(false, 0, 5).unavailable_reason,
            Some(UnavailableReason::NotAvailableInRegion)
        );
        assert_eq!(
            availability(true, 4, 5).unavailable_reason,
            Some(UnavailableReason::NotInStocks)
        );
        assert!(availability(true, 5, 5).is_available);
    }

    #[test]
    fn desired_quantity_must_be_positive() {
        assert_eq!(desired_quantity(0).unwrap_err().field, "quantity");
        assert_eq!(desired_quantity(2).unwrap(), 2);
    }
}
