//! The account service: customer addresses, and customer administration over the
//! identity provider (reference §2.1, SPEC §2–§6).
//!
//! Hexagonal: [`domain`] holds the rules without I/O; [`ports`] the traits the use cases
//! in [`app`] need; [`postgres`] (addresses and the outbox), [`keycloak`] (the identity
//! provider's admin API), [`downstream`] (the order and payment services) and [`http`]
//! are the adapters; [`startup`] wires them. Customers live only in the identity
//! provider; addresses live here, and a change of a customer's primary address is
//! announced as `address.primary-saved` through the transactional outbox.

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
