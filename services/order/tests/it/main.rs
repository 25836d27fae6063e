//! Order integration tests: the real service on port 0 against real Postgres, RabbitMQ
//! and Redis, each test isolated in its own database, broker prefix and cache prefixes,
//! with tokens from a test identity provider and the payment service and the identity
//! provider's admin API on wiremock.

mod api;
mod cache;
mod detail;
mod helpers;
mod messaging;
