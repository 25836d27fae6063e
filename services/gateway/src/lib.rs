//! The gateway: the shop's single entry point (SPEC §1, reference §3.4).
//!
//! A request's path prefix picks a pool of replicas ([`routing`]); the [`proxy`] checks
//! the body size, the bearer token and the client's rate ([`rate_limit`]) at the edge,
//! then sends the request to the next healthy replica ([`pool`]) over pooled
//! connections ([`upstream`]) with the browser and hop-by-hop headers stripped
//! ([`headers`]), retrying once where that is safe, within the pool's timeout and behind
//! its circuit breaker. Replicas come from a list or from DNS ([`discovery`]) and are
//! health-checked actively ([`probe`]) and passively. [`access`] logs and counts every
//! request, [`metrics`] adds the gateway's own families, [`http`] assembles the router
//! and the gateway's own endpoints, and [`startup`] wires it all from [`config`].

pub mod access;
pub mod config;
pub mod discovery;
pub mod error;
pub mod headers;
pub mod http;
pub mod metrics;
pub mod pool;
pub mod probe;
pub mod proxy;
pub mod rate_limit;
pub mod routing;
pub mod startup;
pub mod upstream;
