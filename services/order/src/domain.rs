//! The order domain: orders, their state machine, and the validation of what customers
//! and managers send. Pure: no I/O, no framework types.

pub mod order;

pub use order::{
    Cancellation, CancellationReason, NewOrder, Order, OrderId, OrderStatus, TransitionError,
    ValidationError,
};
