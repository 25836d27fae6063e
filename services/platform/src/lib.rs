//! The shared platform every Ironvessel service is built on.
//!
//! A service composes these pieces instead of re-inventing them: typed configuration
//! from env vars ([`config`]), JSON logs with OpenTelemetry context ([`telemetry`]),
//! the HTTP conventions of SPEC §2 ([`http`]), bearer-token auth against a JWKS
//! ([`auth`]), Postgres pools and migrations ([`postgres`]), reliable messaging with a
//! transactional outbox, an inbox and dead-letter queues ([`messaging`]), cache-aside over
//! Redis ([`cache`]) and Prometheus metrics ([`metrics`]).
//!
//! Nothing in here knows about products, orders or payments: those live in the services.

pub mod auth;
pub mod cache;
pub mod config;
pub mod http;
pub mod messaging;
pub mod metrics;
pub mod postgres;
pub mod resilience;
pub mod telemetry;

/// The allocator every service binary declares as its `#[global_allocator]`
/// (`static ALLOCATOR: platform::Allocator = platform::Allocator;`): glibc's malloc was a
/// sixth of the hot path's userspace CPU under load (ARCHITECTURE.md, "Hot path costs").
/// Built without transparent huge pages, which inflated every service's resident set.
pub use mimalloc::MiMalloc as Allocator;
