//! Inventory integration tests: the real service on port 0 against real Postgres,
//! RabbitMQ and Redis, each test isolated in its own database, broker prefix and cache
//! prefix, with tokens from a test identity provider.

mod api;
mod cache;
mod helpers;
mod messaging;
mod resilience;
