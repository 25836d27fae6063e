//! The payment service: carts, payments and the customer address projection
//! (reference §2.4, SPEC §2–§4).
//!
//! Hexagonal: [`domain`] holds the rules without I/O; [`ports`] the storage and
//! identity-provider traits the use cases in [`app`] need; [`postgres`], [`amqp`],
//! [`keycloak`] and [`http`] are the adapters; [`startup`] wires them. Checkout creates
//! the PENDING payment, empties the cart and writes `payment.saved` in one transaction;
//! the consumers move the payment to APPROVED, CANCELLED or REFUNDED and announce it.

pub mod amqp;
pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod keycloak;
pub mod ports;
pub mod postgres;
pub mod startup;
