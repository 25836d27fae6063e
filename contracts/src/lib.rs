//! Consumer-driven contracts (Pact V4) between Ironvessel's services: consumer tests,
//! provider verification over HTTP and RabbitMQ, and the `contracts` CLI.
//!
//! Consumers state what they rely on in their tests (`tests/it/consumer_*`), running
//! their real client code or event handler against the contract's examples; the tests
//! write Pact V4 files to `contracts/pacts/`, which are committed. Providers verify
//! every pact naming them against the real service (`tests/it/provider_*`), HTTP
//! interactions over HTTP and message interactions over the real RabbitMQ broker.
//! Any language with a Pact implementation can join: the files are plain Pact V4, and
//! `contracts verify` verifies any running provider.
//!
//! Why hand-written and not the pact-foundation crates: `pact_verifier` and
//! `pact_consumer` bring `pact-plugin-driver` (gRPC through tonic and prost, sysinfo,
//! zip, tar, second versions of crates we build already) to a 2-core CI, and message
//! verification over a real broker, the part we need most, is in none of them. The subset of Pact we use (V4
//! documents, type/regex/integer/number/values matchers, provider states) is small and
//! its format is checked by a real Pact implementation (pact-python) in CI.
//!
//! - [`pact`]: the document model, read and written as canonical V4 JSON.
//! - [`matching`]: matchers in templates, and the comparison that applies them.
//! - [`mock`]: the mock provider consumer tests run their clients against.
//! - [`verify`]: provider verification (HTTP, and messages over the broker).
//! - [`results`]: recorded verdicts that `can-i-deploy` decides on.
//! - [`files`]: where artefacts live, and the drift check.
//! - [`broker`]: publishing to a Pact Broker.

pub mod broker;
pub mod files;
pub mod matching;
pub mod mock;
pub mod pact;
pub mod results;
pub mod verify;
