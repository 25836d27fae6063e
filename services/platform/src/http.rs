//! The HTTP conventions every service shares (SPEC §1–§2).
//!
//! [`error`] is the error body and its status codes; [`extract`] wraps axum's extractors
//! so malformed input becomes that body; [`middleware`] adds request ids, `x-instance`,
//! timeouts, metrics and the access log; [`health`] serves `/health/live`,
//! `/health/ready` and `/metrics`; [`server`] binds, serves and shuts down gracefully.

pub mod error;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod server;

pub use error::{ErrorCode, ErrorResponse, OperationResult};
pub use extract::{Json, Path, Query};
