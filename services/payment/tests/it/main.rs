//! Payment integration tests: the real service on port 0 against real Postgres,
//! RabbitMQ and Redis, each test isolated in its own database, broker prefix and cache
//! prefix, with tokens from a test identity provider and a Keycloak stand-in for the
//! admin API.

mod api;
mod cache;
mod cart;
mod helpers;
mod messaging;
mod resilience;
