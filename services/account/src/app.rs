//! The account use cases (reference §2.1 with SPEC §2's fixes): the address book of the
//! calling customer ([`addresses`]) and the managers' customer administration over the
//! identity provider ([`customers`]), with their caches.
//!
//! Lists whose pages cannot be enumerated for eviction (every page of a customer's
//! addresses, every slice of the user list) are cached under a *generation*: a random
//! token stored next to them, part of every page's key. A write deletes the generation,
//! so the next read starts a new one and the old pages are never read again (they expire
//! by TTL). Deleting (rather than overwriting) the generation means a reader that raced
//! the write can only ever store its page under the dead generation.

pub mod addresses;
pub mod customers;

use std::time::Duration;

use platform::cache::Cache;

pub use addresses::{AddressBook, AddressError};
pub use customers::{CustomerAdmin, CustomerError};

fn generation_cache(name: &str) -> String {
    format!("{name}.generation")
}

/// The current generation of the pages of `scope` in cache `name`, started if there is
/// none. Start it before reading the source, so pages read before a write can only be
/// stored under a generation the write deletes.
async fn generation(cache: &Cache, name: &str, scope: &str, ttl: Duration) -> String {
    let name = generation_cache(name);
    if let Some(generation) = cache.get::<String>(&name, scope).await {
        return generation;
    }
    let generation = uuid::Uuid::new_v4().simple().to_string();
    cache.put(&name, scope, &generation, ttl).await;
    generation
}

/// Drops every page of `scope` in cache `name` at once.
async fn invalidate(cache: &Cache, name: &str, scope: &str) {
    cache
        .evict(&generation_cache(name), &[scope.to_owned()])
        .await;
}
