//! The order service: orders and their lifecycle (reference §2.3, SPEC §2–§4).
//!
//! Hexagonal: [`domain`] holds the state machine and validation without I/O; [`ports`]
//! the traits the use cases in [`app`] need; [`postgres`], [`amqp`], [`http`],
//! [`keycloak`] and [`downstream`] are the adapters; [`startup`] wires them. Orders are
//! created by the `payment.approved` consumer (one per payment); a cancellation writes
//! `order.cancelled` in the same transaction, which drives the refund and the restock.
//! Every change evicts the order's cache entries and the customer's order lists, account's
//! copy included.

pub mod amqp;
pub mod app;
pub mod config;
pub mod domain;
pub mod downstream;
pub mod events;
pub mod http;
pub mod keycloak;
mod outbound;
pub mod ports;
pub mod postgres;
pub mod startup;
