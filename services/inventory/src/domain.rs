//! The inventory domain: products, their validation, and the stock rule of the purchase
//! saga. Pure: no I/O, no framework types.

pub mod product;
pub mod stock;

pub use product::{
    Availability, Category, NewProduct, Product, ProductId, UnavailableReason, ValidationError,
};
pub use stock::{StockCheck, StockLevel, check_stock};
