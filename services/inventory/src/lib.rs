//! The inventory service: products and stock (reference §2.2, SPEC §2–§4).
//!
//! Hexagonal: [`domain`] holds the rules without I/O; [`ports`] the storage trait the use
//! cases in [`app`] need; [`postgres`], [`amqp`] and [`http`] are the adapters;
//! [`startup`] wires them. Stock is taken by the `payment.saved` consumer, all or
//! nothing, under row locks; every change to a product evicts its cache entry.

pub mod amqp;
pub mod app;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod ports;
pub mod postgres;
pub mod startup;
