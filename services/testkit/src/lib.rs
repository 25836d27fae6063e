//! Test infrastructure on real Postgres, RabbitMQ and Redis.
//!
//! - [`infra`] finds the infrastructure: URLs from `IRONVESSEL_TEST_*` env vars, else the
//!   local services on their default ports, else containers started with testcontainers
//!   where Docker is available, else a clear error saying what is missing.
//! - [`isolation`] gives each test its own database (cloned from a migrated template),
//!   its own exchange/queue prefix and its own cache prefix, and removes them afterwards.
//! - [`tokens`] mints RS256 tokens whose JWKS a wiremock server publishes.
//! - [`proxy`] is a TCP proxy a test can cut and restore to simulate an outage.
//! - [`poll`] waits for asynchronous outcomes with a deadline instead of sleeping.

pub mod infra;
pub mod isolation;
pub mod poll;
pub mod proxy;
pub mod tokens;

pub use infra::Infra;
pub use isolation::{TestBroker, TestCache, TestDatabase};
pub use poll::{eventually, until_ready};
pub use proxy::TcpProxy;
pub use tokens::TestIdp;
