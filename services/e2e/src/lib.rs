//! End-to-end tests of the shop: every service is the real one, started in-process on
//! port 0 against real Postgres, RabbitMQ and Redis, configured through the same
//! environment variables a deployment uses, and driven through the gateway with tokens
//! that `identity` issues. The tests live in `tests/it/`.
