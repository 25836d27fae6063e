//! Identity integration tests: the real service on port 0 against real Postgres, each
//! test in its own database with the bundled realm imported, driven over HTTP as
//! Keycloak clients drive Keycloak, and checked with the platform's `Authenticator`.

mod admin;
mod brute_force;
mod helpers;
mod import;
mod keys;
mod oidc;
mod token;
