//! The payment domain: cart lines, carts, payments and their status rules. Pure: no I/O,
//! no framework types.

pub mod cart;
pub mod payment;
pub mod product;

pub use cart::{Cart, CartError, CheckoutError};
pub use payment::{NewPayment, Payment, PaymentId, PaymentStatus, Transition};
pub use product::{Line, ProductId, ValidationError};
