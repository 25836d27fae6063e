//! What the use cases need from the outside world.

use std::future::Future;

use crate::{
    domain::{NewProduct, Product, ProductId},
    events::ProductAvailable,
};

/// A storage failure, already translated from the driver's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; the client may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug).
    #[error("database error: {0}")]
    Other(String),
}

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 0-based page number.
    pub number: i64,
    /// Items per page, 1..=100.
    pub size: i64,
}

/// Products in storage.
pub trait ProductStore: Clone + Send + Sync + 'static {
    /// A page of products ordered by id.
    fn page(&self, page: Page) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;
    /// One product.
    fn get(
        &self,
        id: ProductId,
    ) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;
    /// The products among `ids` that exist, ordered by id.
    fn get_many(
        &self,
        ids: &[ProductId],
    ) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;
    /// Stores a new product, available in the region.
    fn insert(
        &self,
        product: &NewProduct,
    ) -> impl Future<Output = Result<Product, StoreError>> + Send;
    /// Replaces name, price, category and quantity; keeps the region flag.
    fn update(
        &self,
        id: ProductId,
        product: &NewProduct,
    ) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;
    /// Sets the region flag.
    fn set_region(
        &self,
        id: ProductId,
        available: bool,
    ) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;
    /// Deletes the products among `ids` that exist; returns how many.
    fn delete(&self, ids: &[ProductId]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Records `event` in the outbox (its own transaction).
    fn publish_added_to_cart(
        &self,
        event: ProductAvailable,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
