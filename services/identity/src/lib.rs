//! The identity service: a small Keycloak-compatible identity provider for development,
//! tests and load tests (SPEC §5). Production uses Keycloak; every client works
//! unchanged against either.
//!
//! It imports a Keycloak realm export at start-up and speaks the part of Keycloak's
//! protocol the shop uses: OIDC discovery, the JWKS, the token endpoint (`password`,
//! `client_credentials` and `refresh_token` grants, RS256 tokens with Keycloak's
//! claims), introspection, userinfo, brute-force protection, and the admin REST
//! subset over users. Users, credentials (argon2id), roles, clients and signing keys
//! live in its own Postgres database.
//!
//! Hexagonal: [`domain`] holds the rules without I/O; [`ports`] the storage trait the
//! use cases in [`app`] need; [`postgres`] and [`http`] are the adapters; [`password`]
//! and [`signing`] the cryptography; [`startup`] wires them.
//!
//! # Running identity in another service's tests
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use identity::{config::Config, startup::{App, REALM}};
//! use testkit::TestDatabase;
//!
//! // A database of its own, cloned from a migrated template.
//! let fingerprint = identity::postgres::schema_fingerprint();
//! let db = TestDatabase::create("identity", &fingerprint, identity::postgres::migrate_boxed).await?;
//! // Port 0, the bundled realm (`config::bundled_realm_file()`), the cheapest argon2
//! // cost; the issuer follows the bound address. Adjust fields as needed, e.g.
//! // `config.access_token_lifespan = Some(Duration::from_secs(1))`.
//! let config = Config::for_tests(&db.url);
//! let app = App::build(config).await?;
//! let auth = app.auth_config(REALM); // platform::auth::AuthConfig trusting it
//! let token_url = app.token_url(REALM);
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! tokio::spawn(app.run(shutdown.clone()));
//! // POST token_url: grant_type=password, client_id=ironvessel-web, username=tommy,
//! // password=garrison_1918 -> {"access_token": ...}
//! # let _ = (auth, token_url);
//! # Ok(()) }
//! ```

pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod password;
pub mod ports;
pub mod postgres;
pub mod signing;
pub mod startup;
