//! The cart: one per customer, one line per product; adding merges quantities, removing
//! takes one unit, checkout turns it into a PENDING payment and empties it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{
    payment::NewPayment,
    product::{self, Line, ProductId},
};

/// Why a cart operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// Removing a product that is not in the cart.
    #[error("Product is not available in the cart.")]
    NotInCart(ProductId),
    /// Clearing an empty cart.
    #[error("Your cart is already empty.")]
    AlreadyEmpty,
}

/// Why a checkout was refused; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// Nothing to pay for.
    #[error("Your cart is empty.")]
    EmptyCart,
    /// No delivery address: refused up front, so no payment waits forever for one.
    #[error("Add a primary address before checking out.")]
    NoAddress,
}

/// A customer's cart. `id` is `None` for the synthetic empty cart of a customer who has
/// never had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// Stored id, if stored.
    pub id: Option<i64>,
    /// The owner (token `sub`).
    pub customer_id: String,
    /// Lines ordered by product id.
    pub products: Vec<Line>,
}

impl Cart {
    /// The empty, unsaved cart of `customer_id`.
    pub fn empty(customer_id: &str) -> Self {
        Self {
            id: None,
            customer_id: customer_id.to_owned(),
            products: Vec::new(),
        }
    }

    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Adds `line`, or adds its quantity to the line already there (keeping that line's
    /// name and price, as the original did).
    pub fn add(&mut self, line: Line) {
        match self.products.iter_mut().find(|p| p.id == line.id) {
            Some(existing) => existing.quantity = existing.quantity.saturating_add(line.quantity),
            None => {
                self.products.push(line);
                self.products.sort_by_key(|p| p.id);
            }
        }
    }

    /// Removes one unit of `product_id`; the line goes when its last unit does.
    pub fn remove_one(&mut self, product_id: ProductId) -> Result<(), CartError> {
        let index = self
            .products
            .iter()
            .position(|p| p.id == product_id)
            .ok_or(CartError::NotInCart(product_id))?;
        if self.products[index].quantity > 1 {
            self.products[index].quantity -= 1;
        } else {
            self.products.remove(index);
        }
        Ok(())
    }

    /// Empties the cart.
    pub fn clear(&mut self) -> Result<(), CartError> {
        if self.is_empty() {
            return Err(CartError::AlreadyEmpty);
        }
        self.products.clear();
        Ok(())
    }

    /// `Σ price × quantity`, exact.
    pub fn total_price(&self) -> Decimal {
        product::total(&self.products)
    }

    /// `{"<productId>": quantity}`, as events carry it.
    pub fn quantities(&self) -> BTreeMap<String, i64> {
        quantities(&self.products)
    }

    /// Turns the cart into a PENDING payment and empties it. `address` is the customer's
    /// primary address from the projection.
    pub fn checkout(&mut self, address: Option<&str>) -> Result<NewPayment, CheckoutError> {
        if self.is_empty() {
            return Err(CheckoutError::EmptyCart);
        }
        if address.is_none() {
            return Err(CheckoutError::NoAddress);
        }
        let products = std::mem::take(&mut self.products);
        Ok(NewPayment {
            customer_id: self.customer_id.clone(),
            total_price: product::total(&products),
            products,
        })
    }
}

/// `{"<productId>": quantity}` of `lines`.
pub fn quantities(lines: &[Line]) -> BTreeMap<String, i64> {
    lines
        .iter()
        .map(|line| (line.id.to_string(), i64::from(line.quantity)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: ProductId, quantity: i64) -> Line {
        Line::new(id, "Desk", "25".parse().unwrap(), "FURNITURE", quantity).unwrap()
    }

    #[test]
    fn adding_a_product_twice_sums_the_quantities() {
        let mut cart = Cart::empty("c");
        cart.add(line(2, 1));
        cart.add(line(1, 2));
        cart.add(line(2, 3));
        assert_eq!(cart.products.len(), 2);
        assert_eq!(cart.products[0].id, 1, "lines are ordered by product id");
        assert_eq!(cart.products[1].quantity, 4);
        assert_eq!(
            cart.quantities(),
            BTreeMap::from([("1".to_owned(), 2), ("2".to_owned(), 4)])
        );
    }

    #[test]
    fn removing_takes_one_unit_and_then_the_line() {
        let mut cart = Cart::empty("c");
        cart.add(line(1, 2));
        cart.remove_one(1).unwrap();
        assert_eq!(cart.products[0].quantity, 1);
        cart.remove_one(1).unwrap();
        assert!(cart.is_empty());
        assert_eq!(cart.remove_one(1), Err(CartError::NotInCart(1)));
        assert_eq!(cart.clear(), Err(CartError::AlreadyEmpty));
    }

    #[test]
    fn checkout_needs_products_and_an_address_and_empties_the_cart() {
        let mut cart = Cart::empty("c");
        assert_eq!(
            cart.checkout(Some("x")).unwrap_err(),
            CheckoutError::EmptyCart
        );
        cart.add(line(1, 2));
        assert_eq!(cart.checkout(None).unwrap_err(), CheckoutError::NoAddress);
        assert_eq!(cart.products.len(), 1, "a refused checkout keeps the cart");
        let payment = cart.checkout(Some("x")).unwrap();
        assert_eq!(payment.total_price, "50".parse().unwrap());
        assert!(cart.is_empty());
    }
}
