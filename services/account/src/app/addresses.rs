//! A7–A11: the calling customer's addresses.
//!
//! Every write runs in one transaction holding the customer's lock, and writes the
//! `address.primary-saved` event to the outbox in that same transaction whenever the
//! primary address is created, changed, or replaced (reference §13.9: the original
//! published before saving). After the commit, every cached page of the customer's
//! addresses is dropped.

use std::time::Duration;

use platform::cache::{Cache, CacheStatus};

use super::{generation, invalidate};
use crate::{
    domain::{Address, AddressId, NewAddress, ValidationError, address::is_first},
    events::PrimaryAddressSaved,
    ports::{AddressStore, AddressTx, Page, StoreError},
};

/// Cache of address pages, per customer and page (the original's `addresses`, which
/// ignored the page: reference §13.3).
pub const ADDRESSES_CACHE: &str = "addresses";
/// TTL of cached address pages (the original's 60 minutes).
pub const ADDRESSES_TTL: Duration = Duration::from_secs(60 * 60);

/// Why an address operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// Invalid input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Not one of the caller's addresses.
    #[error("Address not found!")]
    NotFound(AddressId),
    /// The caller already has an address with this name.
    #[error("The address with the same name is already added.")]
    Duplicate,
    /// Set-primary on the primary address.
    #[error("This address is already a primary address.")]
    AlreadyPrimary(AddressId),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AddressError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Duplicate => Self::Duplicate,
            other => Self::Store(other),
        }
    }
}

/// The address use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct AddressBook<S> {
    store: S,
    cache: Cache,
}

impl<S: AddressStore> AddressBook<S> {
    /// Use cases over `store`, caching through `cache`.
    pub fn new(store: S, cache: Cache) -> Self {
        Self { store, cache }
    }

    /// A7: a page of the customer's addresses ordered by id, cache-aside.
    pub async fn list(
        &self,
        customer_id: &str,
        page: Page,
    ) -> Result<(Vec<Address>, CacheStatus), AddressError> {
        let generation = generation(&self.cache, ADDRESSES_CACHE, customer_id, ADDRESSES_TTL).await;
        let key = format!("{customer_id}:{generation}:{}:{}", page.number, page.size);
        let (addresses, status) = self
            .cache
            .get_or_load(
                ADDRESSES_CACHE,
                &key,
                ADDRESSES_TTL,
                self.store.page(customer_id, page),
            )
            .await?;
        Ok((addresses, status))
    }

    /// A8: adds an address; the customer's first address becomes primary (and is
    /// announced).
    pub async fn add(
        &self,
        customer_id: &str,
        address: NewAddress,
    ) -> Result<Address, AddressError> {
        let mut tx = self.store.begin(customer_id).await?;
        let primary = is_first(tx.count().await?);
        let address = tx.insert(&address, primary).await?;
        if primary {
            tx.publish(PrimaryAddressSaved::of(&address)).await?;
        }
        tx.commit().await?;
        self.evict(customer_id).await;
        Ok(address)
    }

    /// A9: edits an address, its name included (reference §13.7 refused renames); a
    /// change to the primary address is announced.
    pub async fn update(
        &self,
        customer_id: &str,
        id: AddressId,
        address: NewAddress,
    ) -> Result<Address, AddressError> {
        let mut tx = self.store.begin(customer_id).await?;
        let address = tx
            .update(id, &address)
            .await?
            .ok_or(AddressError::NotFound(id))?;
        if address.is_primary {
            tx.publish(PrimaryAddressSaved::of(&address)).await?;
        }
        tx.commit().await?;
        self.evict(customer_id).await;
        Ok(address)
    }

    /// A10: deletes an address. Deleting the primary address promotes the oldest
    /// remaining one and announces it (reference §13.8 left the customer without one).
    pub async fn remove(&self, customer_id: &str, id: AddressId) -> Result<(), AddressError> {
        let mut tx = self.store.begin(customer_id).await?;
        let removed = tx.delete(id).await?.ok_or(AddressError::NotFound(id))?;
        if removed.is_primary
            && let Some(oldest) = tx.oldest().await?
        {
            let promoted = tx
                .set_primary(oldest.id, true)
                .await?
                .ok_or(AddressError::NotFound(oldest.id))?;
            tx.publish(PrimaryAddressSaved::of(&promoted)).await?;
        }
        tx.commit().await?;
        self.evict(customer_id).await;
        Ok(())
    }

    /// A11: makes an address the primary one (demoting the previous one) and announces it.
    pub async fn set_primary(
        &self,
        customer_id: &str,
        id: AddressId,
    ) -> Result<Address, AddressError> {
        let mut tx = self.store.begin(customer_id).await?;
        let target = tx.get(id).await?.ok_or(AddressError::NotFound(id))?;
        if target.is_primary {
            return Err(AddressError::AlreadyPrimary(id));
        }
        // Demote first: the database allows one primary per customer at any moment.
        if let Some(current) = tx.primary().await? {
            tx.set_primary(current.id, false).await?;
        }
        let promoted = tx
            .set_primary(id, true)
            .await?
            .ok_or(AddressError::NotFound(id))?;
        tx.publish(PrimaryAddressSaved::of(&promoted)).await?;
        tx.commit().await?;
        self.evict(customer_id).await;
        Ok(promoted)
    }

    async fn evict(&self, customer_id: &str) {
        invalidate(&self.cache, ADDRESSES_CACHE, customer_id).await;
    }
}
