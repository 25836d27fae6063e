//! The contract tests: consumer tests that write the pacts, provider verifications
//! against the real services (HTTP, and messages over the real RabbitMQ), broken
//! providers that must fail, drift checks of pacts, OpenAPI documents and event schemas,
//! the `contracts` CLI, and a non-Rust Pact implementation verifying our files.

mod broken;
mod cli;
mod consumer;
mod dsl;
mod fixtures;
mod polyglot;
mod provider;
mod providers;
mod snapshots;
mod state_server;
