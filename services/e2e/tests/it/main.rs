//! End-to-end tests through the gateway.

mod saga;
mod shop;
mod token_flow;
