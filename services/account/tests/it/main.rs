//! Account integration tests: the real service on port 0 against real Postgres, RabbitMQ
//! and Redis, each test isolated in its own database, broker prefix and cache prefix,
//! with caller tokens from a test identity provider, the identity provider's admin API
//! played by a Keycloak stand-in serving recorded Keycloak responses, and the (not yet
//! built) order and payment services played by wiremock.

mod addresses;
mod api;
mod cache;
mod customers;
mod fake_keycloak;
mod helpers;
mod keycloak;
mod resilience;
