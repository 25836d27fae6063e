//! The identity domain: realms, users, brute-force protection, token claims and the
//! Keycloak realm-export format. Pure: no I/O, no framework types.

pub mod brute_force;
pub mod realm;
pub mod realm_export;
pub mod search;
pub mod token;
pub mod user;

pub use brute_force::{BruteForcePolicy, LoginFailures};
pub use realm::{Client, Realm, RealmSettings, Role};
pub use user::{Attributes, NewUser, User, UserUpdate, ValidationError};
