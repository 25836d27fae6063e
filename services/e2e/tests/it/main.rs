//! End-to-end tests through the gateway.

mod journey;
mod saga;
mod seeded;
mod shop;
mod token_flow;
