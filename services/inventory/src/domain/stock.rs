//! The stock check of the purchase saga: all lines or none.

use std::collections::BTreeMap;

use super::product::{ProductId, UnavailableReason, availability};

/// The stock of one product as locked for the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevel {
    /// Product id.
    pub id: ProductId,
    /// Units in stock.
    pub quantity: i32,
    /// Region flag.
    pub available_in_region: bool,
}

/// The result of checking a payment's lines against the stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockCheck {
    /// Every line can be served: the new stock level of each product.
    Approved(Vec<(ProductId, i32)>),
    /// At least one line cannot: the first failing product and why.
    Rejected {
        /// The product that failed.
        product_id: ProductId,
        /// Why.
        reason: UnavailableReason,
    },
}

impl StockCheck {
    /// A human-readable reason for a rejection.
    pub fn reason_text(&self) -> Option<String> {
        match self {
            Self::Approved(_) => None,
            Self::Rejected { product_id, reason } => {
                Some(format!("Product {product_id}: {}", reason.description()))
            }
        }
    }
}

/// Checks `lines` (product → quantity, every quantity ≥ 1) against `stock`. A product
/// missing from `stock` no longer exists and rejects the whole check (the original
/// skipped it silently and approved the rest).
pub fn check_stock(lines: &BTreeMap<ProductId, i32>, stock: &[StockLevel]) -> StockCheck {
    let mut approved = Vec::with_capacity(lines.len());
    for (&product_id, &wanted) in lines {
        let Some(level) = stock.iter().find(|level| level.id == product_id) else {
            return StockCheck::Rejected {
                product_id,
                reason: UnavailableReason::ProductNotFound,
            };
        };
        let verdict = availability(level.available_in_region, level.quantity, wanted);
        if let Some(reason) = verdict.unavailable_reason {
            return StockCheck::Rejected { product_id, reason };
        }
        approved.push((product_id, level.quantity - wanted));
    }
    StockCheck::Approved(approved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(id: ProductId, quantity: i32) -> StockLevel {
        StockLevel {
            id,
            quantity,
            available_in_region: true,
        }
    }

    #[test]
    fn all_lines_in_stock_are_approved_with_the_new_levels() {
        let lines = BTreeMap::from([(1, 2), (2, 1)]);
        let check = check_stock(&lines, &[level(1, 5), level(2, 1)]);
        assert_eq!(check, StockCheck::Approved(vec![(1, 3), (2, 0)]));
    }

    #[test]
    fn one_short_line_rejects_everything() {
        let lines = BTreeMap::from([(1, 2), (2, 2)]);
        let check = check_stock(&lines, &[level(1, 5), level(2, 1)]);
        assert_eq!(
            check,
            StockCheck::Rejected {
                product_id: 2,
                reason: UnavailableReason::NotInStocks
            }
        );
        assert!(check.reason_text().unwrap().contains("Product 2"));
    }

    #[test]
    fn a_product_that_no_longer_exists_rejects_the_check() {
        let lines = BTreeMap::from([(1, 1), (9, 1)]);
        let check = check_stock(&lines, &[level(1, 5)]);
        assert_eq!(
            check,
            StockCheck::Rejected {
                product_id: 9,
                reason: UnavailableReason::ProductNotFound
            }
        );
    }

    #[test]
    fn a_product_outside_the_region_rejects_the_check() {
        let lines = BTreeMap::from([(6, 1)]);
        let stock = [StockLevel {
            id: 6,
            quantity: 4,
            available_in_region: false,
        }];
        assert!(matches!(
            check_stock(&lines, &stock),
            StockCheck::Rejected {
                reason: UnavailableReason::NotAvailableInRegion,
                ..
            }
        ));
    }
}
