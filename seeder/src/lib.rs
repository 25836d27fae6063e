//! The seeder: fills every Ironvessel database with millions of realistic, referentially
//! consistent records, fast (binary `COPY`, parallel chunks, indexes rebuilt after the
//! load), deterministic, resumable and safe to point at production (SPEC §7, issue 5).
//!
//! The binary (`seeder plan|run|verify|reset|bench`, see the README's "Seeding" section)
//! is a thin shell over this library, which other crates use directly:
//!
//! - [`generate`]: one pure function per entity, `(plan, index) → row`. Contract tests
//!   build provider states with them; load tests learn usernames from them
//!   (`generate::user(&plan, i).username`, password [`generate::LOAD_TEST_PASSWORD`]).
//! - [`run`] loads a [`Plan`] into [`Targets`]; [`verify()`] checks every cross-database
//!   reference and computes per-table checksums; [`reset()`] empties the tables again.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use seeder::{Plan, RunOptions, Service, Targets, VerifyOptions};
//!
//! // Databases an end-to-end test created (the schemas may or may not exist yet: the
//! // seeder runs each service's own migrations).
//! let targets = Targets::from_urls(&[
//!     (Service::Identity, "postgres://postgres@127.0.0.1/e2e_identity"),
//!     (Service::Account, "postgres://postgres@127.0.0.1/e2e_account"),
//!     (Service::Inventory, "postgres://postgres@127.0.0.1/e2e_inventory"),
//!     (Service::Order, "postgres://postgres@127.0.0.1/e2e_orders"),
//!     (Service::Payment, "postgres://postgres@127.0.0.1/e2e_payment"),
//! ])?;
//! let plan = Plan::with_counts(42, 100, 20, 300);
//! seeder::run(&plan, &targets, &RunOptions::default()).await?;
//! assert!(seeder::verify(&targets, &VerifyOptions::default()).await?.passed());
//!
//! // Who to log in as, and what they should see.
//! let payment = seeder::generate::payment(&plan, 0);
//! let user = seeder::generate::user(&plan, payment.customer);
//! let _ = (user.username, seeder::generate::LOAD_TEST_PASSWORD, payment.total_price);
//! # Ok(()) }
//! ```
//!
//! Guarantees:
//! - **Deterministic**: a row is derived from the seed, its kind and its index only
//!   ([`rng`]), never from a shared sequential generator, so the same plan gives the same
//!   rows whatever `--jobs`, `--shard` or `--resume` (checksums in [`verify()`] exclude
//!   only the password hash, which identity salts at random).
//! - **Resumable**: each chunk commits together with its row in `seeder_progress`;
//!   `run --resume` loads the chunks that are missing and then finishes.
//! - **Safe**: remote hosts need confirming and `verify-full` TLS, a named CA file must
//!   exist, non-empty tables are refused unless appending, and passwords are read from
//!   the environment or files only and never printed ([`target`]).

pub mod bench;
mod copy;
pub mod generate;
pub mod load;
pub mod plan;
pub mod progress;
pub mod reset;
mod rng;
pub mod schema;
mod stream;
pub mod target;
pub mod verify;

pub use load::{RunOptions, Shard, run};
pub use plan::{Plan, Profile};
pub use progress::RunReport;
pub use reset::reset;
pub use target::{Safety, Service, Target, Targets};
pub use verify::{Verification, VerifyOptions, verify};
