//! Reliable messaging over RabbitMQ (SPEC §3).
//!
//! - [`envelope`]: the event envelope every message body uses.
//! - [`topology`]: the shop's exchanges, queues and dead-letter queues, declared
//!   identically (and idempotently) by every service at start-up, so an event is never
//!   published to an exchange with no queue behind it.
//! - [`broker`]: one lazily (re)connected AMQP connection per service.
//! - [`outbox`]: events written in the caller's transaction and relayed with publisher
//!   confirms; a broker outage delays them, never loses them.
//! - [`consumer`]: inbox-deduplicated handlers, retries with backoff, a dead-letter
//!   queue carrying the failure reason, and acks only after the transaction committed.

pub mod broker;
pub mod consumer;
pub mod envelope;
pub mod outbox;
pub mod topology;

pub use broker::{Broker, BrokerError};
pub use consumer::{Handler, HandlerError, Message};
pub use envelope::{Envelope, Event};
