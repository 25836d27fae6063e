//! Gateway integration tests: the real gateway on port 0 in front of real inventory
//! replicas (real Postgres, RabbitMQ and Redis, each test isolated), with tokens from a
//! test identity provider. A wiremock upstream stands in only where the test is about
//! what an upstream receives, or about an upstream that is slow or failing.

mod balancing;
mod edge;
mod failures;
mod helpers;
